"""Checkpoint files of a run: saving with full resume state, ``latest.pth``, finding the newest one."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from minim.atomic import temporary_name
from minim.errors import CheckpointError

CHECKPOINT_NAME = re.compile(r"^(epoch|iter)_(\d+)\.pth$")


def save(path: str | Path, model, optimizer=None, meta: dict[str, Any] | None = None) -> Path:
    """Write ``{'meta', 'state_dict'[, 'optimizer']}`` atomically (the models helper's writer)."""
    from minim.cls.checkpoint import save_checkpoint  # lazy: torch; minim train's plan imports this module

    save_checkpoint(str(path), model, optimizer=optimizer, meta=meta)
    return Path(path)


def read(path: str | Path) -> dict[str, Any]:
    """A checkpoint dict; unreadable files raise :class:`CheckpointError` naming the file."""
    from minim.cls.checkpoint import read_checkpoint  # lazy: torch; minim train's plan imports this module

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return read_checkpoint(str(path))


def link_latest(target: Path, link: Path) -> None:
    """Point ``link`` (``latest.pth``) at ``target``: relative symlink, plain copy where links fail."""
    tmp = temporary_name(link)
    try:
        os.symlink(target.name if target.parent == link.parent else str(target), tmp)
    except (OSError, NotImplementedError):
        shutil.copyfile(target, tmp)
    os.replace(tmp, link)


def newest_checkpoint(work_dir: str | Path) -> Path | None:
    """The checkpoint to resume from in ``work_dir``: ``latest.pth`` (resolved) if it exists, else the newest
    epoch_/iter_ file."""
    work_dir = Path(work_dir)
    latest = work_dir / "latest.pth"
    if latest.exists():
        return latest.resolve() if latest.is_symlink() else latest
    candidates = [p for p in work_dir.glob("*.pth") if CHECKPOINT_NAME.match(p.name)]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.stat().st_mtime, int(CHECKPOINT_NAME.match(p.name).group(2))))
