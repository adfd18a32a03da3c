"""Entry point of the ``minim`` command: a lazily loaded click group and error reporting.

Each command lives in its own module under :mod:`minim.cli.commands` and is imported
only when it runs, so ``minim --help`` starts fast and never imports torch.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from minim import __version__
from minim.cli.user_defaults import command_defaults, load_user_defaults
from minim.errors import MinimError, caused_by_interrupt, warning_line
from minim.suggest import did_you_mean

#: command name -> (module under minim.cli.commands, one-line help shown by ``minim --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "search": ("search", "Search the model index by name, dataset, metrics and conditions."),
    "download": ("download", "Download flattened configs and checksum-verified weights."),
    "run": ("run", "Run a codebase tool (print_config, ...); --list shows them."),
    "train": ("train", "Train a model from a config file or index name (resumable, logged, checkpointed)."),
    "test": ("test", "Evaluate a checkpoint on a config's test set; --out writes per-image predictions."),
    "infer": ("infer", "Classify images or folders with a config and checkpoint (top-k, JSON, annotated copies)."),
    "install": ("install", "Install packages with a plan first; keeps torch/torchvision/torchaudio a working set."),
    "uninstall": ("uninstall", "Uninstall packages; warns when installed packages still require them."),
    "list": ("list", "Show Python, pip, torch builds, GPU and the codebases minim knows."),
    "doctor": ("doctor", "Find (and --fix) shadowed imports, torch mismatches and unmet requirements."),
    "gridsearch": ("gridsearch", "Train every combination of config values in its own folder; rank the results."),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is used."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        command = importlib.import_module(f"minim.cli.commands.{COMMANDS[name][0]}").command
        if ctx.default_map and name in ctx.default_map:
            ctx.default_map[name] = command_defaults(ctx, command, ctx.default_map[name])
        return command

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name is not None and name not in COMMANDS and not name.startswith("-"):
            hint = did_you_mean(name, COMMANDS)
            message = f"no such command {name!r}; commands: {', '.join(sorted(COMMANDS))}"
            raise click.UsageError(message + (f" ({hint})" if hint else ""), ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


EPILOG = """\b
Environment:
  MINIM_HOME        cache folder for weights and datasets
                    (default $XDG_CACHE_HOME/minim or ~/.cache/minim)
  MINIM_OFFLINE=1   never touch the network: use the cache or fail clearly
  MINIM_MIRROR      URL prefix mappings 'https://origin/=https://mirror/,...', or one
                    bare URL replacing every URL's scheme and host; applied to weight
                    downloads and wheel indexes (same as --mirror)
  MINIM_INDEX_PATH  extra model-index JSON files or folders (os.pathsep-separated)
  MINIM_TIMEOUT     HTTP read timeout in seconds, or CONNECT,READ (default 5,30)
  MINIM_DEBUG=1     show tracebacks (same as --debug)
  MINIM_USER_CONF   user defaults file (same as --user-conf; empty: none)

\b
User defaults (mim's ~/.mimrc format), read from ~/.minimrc if it exists:
  [options.train]             default options of 'minim train'
  gpus = 2
  [options.install]
  yes = true
"""


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="minim", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.option("--user-conf", metavar="FILE", is_eager=True, expose_value=False, callback=load_user_defaults,
              help="Read default command options from FILE (default: ~/.minimrc; see below).")
@click.pass_context
def cli(ctx, debug):
    """minim: find, download, fine-tune, test and run image classifiers.

    Codebase commands take the codebase as their first argument, e.g.
    `minim search cls --model mobilenet`.
    """
    ctx.ensure_object(dict)
    if debug:
        os.environ["MINIM_DEBUG"] = "1"


def _debug_requested(argv: list[str]) -> bool:
    from minim.settings import debug

    return debug() or "--debug" in argv


def _hoist_debug(argv: list[str]) -> list[str]:
    """``--debug`` given anywhere (before a ``--``) moves to the front, where the group's option reads it."""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" not in argv[:end]:
        return argv
    return ["--debug", *(a for a in argv[:end] if a != "--debug"), *argv[end:]]


def report_error(message: str) -> None:
    """Print ``minim: error: <message>`` on stderr."""
    click.echo(f"minim: error: {message}", err=True)


#: click >= 8.2 raises this for a group called without a sub-command; it holds the group's help
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings as ``minim: warning: <message>`` lines (file and line only with --debug)."""
    click.echo(warning_line(message), err=True)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; translate library errors into one-line messages and exit statuses."""
    argv = _hoist_debug(list(sys.argv[1:] if argv is None else argv))
    if not _debug_requested(argv):
        import warnings

        warnings.showwarning = show_warning
    try:
        cli.main(args=argv, prog_name="minim", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if caused_by_interrupt(exc):  # click's spelling of Ctrl-C
            report_error("interrupted")
            sys.exit(130)
        report_error("aborted")
        sys.exit(1)
    except _NO_ARGS_IS_HELP as exc:  # a group (``minim run cls analyze_logs``) without its sub-command
        click.echo(exc.format_message(), err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if _debug_requested(argv):
            raise
        message = exc.format_message()
        if isinstance(exc, click.UsageError) and exc.ctx is not None:  # one line, pointing at the right help
            message += f" (see '{exc.ctx.command_path} --help')"
        report_error(message)
        sys.exit(exc.exit_code)
    except MinimError as exc:
        if _debug_requested(argv):
            raise
        report_error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        report_error("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as exc:
        if _debug_requested(argv):
            raise
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        report_error(f"{exc.strerror or exc}{where}")
        sys.exit(1)
    except Exception as exc:  # a bug: still one line unless --debug
        if _debug_requested(argv):
            raise
        if caused_by_interrupt(exc):  # a library turned Ctrl-C into its own error (torch.save does)
            report_error("interrupted")
            sys.exit(130)
        report_error(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        sys.exit(1)
    sys.exit(0)
