"""User defaults for command options: ``~/.minimrc`` in the format of mim's ``~/.mimrc``.

An INI file whose ``[options.<command>]`` sections give default values to that command's options::

    [options.train]
    gpus = 2
    launcher = slurm

    [options.install]
    yes = true

mim's documentation spells the section ``[option.<command>]`` while mim reads ``[options.<command>]``:
minim reads both. Other sections are ignored (as mim does). Values are shell words (quotes allowed,
``launcher = 'slurm'`` as in mim's example; ``#`` starts a comment); an option that takes several
values takes several words.
The file is ``--user-conf FILE``, else ``$MINIM_USER_CONF`` (empty: none), else ``~/.minimrc`` if it exists.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
from pathlib import Path
from typing import Any

from minim.errors import ConfigError

ENV_VAR = "MINIM_USER_CONF"
DEFAULT_FILE = "~/.minimrc"
SECTION_PREFIXES = ("options", "option")


def user_conf_path(explicit: str | None = None) -> Path | None:
    """The user-defaults file to read, or None: ``explicit`` > ``$MINIM_USER_CONF`` > ``~/.minimrc``."""
    chosen, origin = explicit, "--user-conf"
    if chosen is None and ENV_VAR in os.environ:
        chosen, origin = os.environ[ENV_VAR], ENV_VAR
        if not chosen.strip():
            return None
    if chosen is None:
        default = Path(DEFAULT_FILE).expanduser()
        return default if default.is_file() else None
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise ConfigError(f"{origin}: user defaults file {chosen} does not exist or is not a file",
                          hint=f"create it, or unset {ENV_VAR}" if origin == ENV_VAR else "check the path")
    return path


def read_user_defaults(path: Path) -> dict[str, Any]:
    """A click ``default_map`` (command -> option -> value words) from the file at ``path``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # option names are case-sensitive, as click's
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except configparser.Error as exc:
        raise ConfigError(f"{path}:{_error_line(exc)}: {_first_line(exc)}",
                          hint="the file is INI: [options.<command>] sections of 'option = value' lines") from None
    default_map: dict[str, Any] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for section in parser.sections():
        command_path = section.split(".")
        if command_path[0] not in SECTION_PREFIXES or len(command_path) < 2:
            continue
        target = default_map
        for name in command_path[1:]:
            target = target.setdefault(name, {})
        for key, value in parser[section].items():
            line = _line_of(lines, section, key)
            target[key] = UserValue(_words(value, path, line), str(path), line, section)
    return default_map


class UserValue(list):
    """The words of one option's value, remembering where they were written (for error messages)."""

    def __init__(self, words: list[str], file: str, line: int, section: str):
        super().__init__(words)
        self.file, self.line, self.section = file, line, section

    @property
    def where(self) -> str:
        """``file:line`` of the value."""
        return f"{self.file}:{self.line}"


def _words(value: str, path: Path, line: int) -> list[str]:
    try:
        return shlex.split(value, comments=True)
    except ValueError as exc:
        raise ConfigError(f"{path}:{line}: {exc} in {value!r}", hint="close the quote") from None


def _line_of(lines: list[str], section: str, key: str) -> int:
    """1-based line of ``key`` inside ``[section]`` (0 when not found)."""
    in_section = False
    pattern = re.compile(rf"\s*{re.escape(key)}\s*[=:]")
    for number, text in enumerate(lines, 1):
        stripped = text.strip()
        if stripped.startswith("["):
            in_section = stripped == f"[{section}]"
        elif in_section and pattern.match(text):
            return number
    return 0


def _error_line(exc: configparser.Error) -> int:
    if getattr(exc, "lineno", None):
        return exc.lineno
    errors = getattr(exc, "errors", None)
    return errors[0][0] if errors else 0


def _first_line(exc: configparser.Error) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.splitlines()[0].rstrip(":.") if text else type(exc).__name__
