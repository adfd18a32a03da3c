"""Typed errors raised by library code; the CLI turns them into one-line messages.

Every error carries a message that names what is at fault and, optionally, a
``hint`` (for instance a "did you mean" suggestion) that the CLI prints after it.
"""

from __future__ import annotations


class MinimError(Exception):
    """Base class of every error minim reports to users without a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(MinimError):
    """A bad command-line value (exit status 2, as click's usage errors)."""

    exit_code = 2


class ConfigError(MinimError):
    """A config file that cannot be read, parsed, merged or overridden.

    Where mmcv's ``Config`` raises a builtin exception, minim raises a subclass that is also that
    builtin (:class:`ConfigKeyError` is a ``KeyError``, ...), so mmcv-era ``except KeyError:``
    still catches it; the message stays minim's one line.
    """


class ConfigKeyError(ConfigError, KeyError):
    """A missing, reserved or doubly defined key (mmcv: ``KeyError``)."""


class ConfigTypeError(ConfigError, TypeError):
    """A value of the wrong type, e.g. a dict merged into a list (mmcv: ``TypeError``)."""


class ConfigValueError(ConfigError, ValueError):
    """A value that cannot be used (mmcv: ``ValueError``)."""


class ConfigFileNotFoundError(ConfigError, FileNotFoundError):
    """A config or ``_base_`` file that does not exist (mmcv: ``FileNotFoundError``)."""


class ConfigOSError(ConfigError, OSError):
    """A config file that cannot be read or is of an unsupported type (mmcv: ``IOError``)."""


class ConfigSyntaxError(ConfigError, SyntaxError):
    """A config whose Python, JSON or YAML does not parse (mmcv: ``SyntaxError`` for Python)."""


class ConfigAssertionError(ConfigError, AssertionError):
    """An option value mmcv's ``DictAction`` rejects with an assertion (unbalanced brackets)."""


class ModelIndexError(MinimError):
    """A malformed model index file or entry."""


class NotFoundError(MinimError):
    """A name (model, config, codebase, tool, type) that does not exist."""


class DownloadError(MinimError):
    """A download that failed: network, HTTP status, size or digest."""


class ChecksumError(DownloadError):
    """A downloaded file whose sha256 does not match the index."""


class OfflineError(DownloadError):
    """The network is needed but ``MINIM_OFFLINE=1`` forbids it."""


class DataError(MinimError):
    """A dataset that cannot be used: missing folder, empty class, bad image, bad label."""


class CheckpointError(MinimError):
    """A checkpoint that cannot be read or does not fit the model."""


class BuildError(MinimError):
    """A config dict that does not build (unknown type, bad arguments)."""


class PackageError(MinimError):
    """An install, uninstall or environment problem."""


class LaunchError(MinimError):
    """A launched (torchrun / srun) run failed; ``exit_code`` is the failing worker's status where known."""


class OnnxError(MinimError):
    """An ONNX export or its verification failed."""


class ExportError(MinimError):
    """An exported model (ONNX, TorchScript) whose description is missing or cannot be used."""


def warning_line(message: str) -> str:
    """How minim shows a warning on stderr: ``minim: warning: <message>``."""
    return f"minim: warning: {message}"


def caused_by_interrupt(exc: BaseException | None) -> bool:
    """Whether a ``KeyboardInterrupt`` is among the causes of ``exc`` (libraries such as torch.save
    turn Ctrl-C into their own errors)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False

