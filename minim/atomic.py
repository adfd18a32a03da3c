"""Atomic file output: write into a temporary file next to the target, then ``os.replace`` it.

A reader never sees a half-written file, and a failed write leaves the old file in place.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``, on error it is removed.

    ``suffix`` (default: ``path``'s own suffix) lets writers that pick a format from the file name work.
    The parent folder is created when missing.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    end = suffix if suffix is not None else target.suffix
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_prefix(target), suffix=end, dir=target.parent)
    except OSError as exc:
        raise _naming(exc, target) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None or Path(exc.filename).name.startswith(_prefix(target)):
            raise _naming(exc, target) from exc  # the user knows the file they asked for, not our temporary
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _naming(exc: OSError, target: Path) -> OSError:
    """``exc`` (same errno and reason) about ``target``."""
    return type(exc)(exc.errno, exc.strerror or str(exc), str(target))


def _prefix(target: Path) -> str:
    return f".{target.name}.tmp-"


def temporary_name(path: str | os.PathLike) -> Path:
    """A fresh name next to ``path`` for a link or copy that will replace it (``.NAME.tmp-<random>``, the
    pattern of :func:`atomic_output`'s temporaries); nothing is created."""
    target = Path(path)
    return target.with_name(f"{_prefix(target)}{secrets.token_hex(6)}")


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; done once, at import, before any thread runs
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def default_file_mode() -> int:
    """The mode a plainly created file gets (0o666 less the process's umask)."""
    return 0o666 & ~_UMASK


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
