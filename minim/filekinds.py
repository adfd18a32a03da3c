"""What kind of file system entry a path is, in words, for errors about files the user named."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Callable

from minim.errors import DataError
from minim.suggest import close_matches


def not_a_regular_file(path: Path) -> str | None:
    """What keeps ``path`` from being read as a file ("does not exist", "is a folder", "is a named pipe
    (FIFO)", ...), or None for a regular file (links followed). Devices and pipes count as not files:
    reading ``/dev/zero`` or a FIFO would never end."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"is a broken link to {os.readlink(path)}" if path.is_symlink() else "does not exist"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kinds = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    kind = next((label for test, label in kinds if test(mode)), "not a regular file")
    target = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
    return f"is {kind}{target}, not a file"


def cannot_write(path: Path) -> str | None:
    """Why a file cannot be written at ``path``, or None.  Missing folders are created (writing the file would
    create them anyway), then a scratch file is written and removed in its folder: the only sure test."""
    path = Path(path).expanduser()
    if path.is_dir():
        return "is a folder, not a file"
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create folder {folder}: {exc.strerror or exc}"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"folder {folder} is not writable: {exc.strerror or exc}"
    return None


def require_dir(path: str, key: str) -> str:
    """``path`` if it is a folder, else a :class:`DataError` naming the config key (and a close sibling)."""
    if not os.path.isdir(path):
        what = "is not a folder" if os.path.exists(path) else "does not exist"
        raise DataError(f"{key} {path} {what}", hint=_hint(path, key, os.path.isdir))
    return path


def require_file(path: str, key: str) -> str:
    """``path`` if it is a file, else a :class:`DataError` naming the config key (and a close sibling)."""
    if not os.path.isfile(path):
        what = "is not a file" if os.path.exists(path) else "does not exist"
        raise DataError(f"{key} {path} {what}", hint=_hint(path, key, os.path.isfile))
    return path


def _hint(path: str, key: str, wanted: Callable[[str], bool]) -> str:
    """"did you mean <folder>/<sibling>?" for a mistyped last part of ``path``, else where to look."""
    folder, name = os.path.split(os.path.normpath(path))
    try:
        siblings = [entry for entry in os.listdir(folder or ".") if wanted(os.path.join(folder, entry))]
    except OSError:
        siblings = []
    meant = close_matches(name, siblings, n=1)
    if meant:
        return f"did you mean {os.path.join(folder, meant[0])}?"
    return f"check {key} in the dataset config"


def visible_subfolders(root: str) -> list[str]:
    """Names of the visible sub-folders of ``root`` (none starting with '.'), sorted as plain strings."""
    with os.scandir(root) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
