"""The checkpoint files a run names: ``load_from``, ``--resume``, ``--checkpoint``; checked without reading them."""

from __future__ import annotations

import shlex
from pathlib import Path

from minim.cls.engine.checkpoint_io import CHECKPOINT_NAME, newest_checkpoint
from minim.cls.plan.config import config_stem, resolve_work_dir, weights_path
from minim.errors import CheckpointError, UsageError
from minim.filekinds import not_a_regular_file
from minim.suggest import close_matches


def resume_path(resume: str | bool | None, cfg, work_dir: Path) -> str | None:
    """The checkpoint to resume from: ``--resume PATH``, the newest one in ``work_dir`` for ``--resume`` (``True`` or
    ``'auto'``), else the config's ``resume_from``."""
    if resume in (None, False, ""):
        return cfg.get("resume_from")
    if resume in (True, "auto"):
        found = newest_checkpoint(work_dir)
        if found is None:
            raise CheckpointError(
                f"--resume: no checkpoint to resume from in {work_dir} (no latest.pth, epoch_*.pth or iter_*.pth)",
                hint="pass the checkpoint: --resume PATH",
            )
        return str(found)
    return str(Path(resume).expanduser())


def check_resume_file(resume_from: str, key: str) -> None:
    """A checkpoint to resume from must be a regular file (``key``: ``--resume`` or ``resume_from``)."""
    problem = not_a_regular_file(Path(resume_from))
    if problem:
        raise CheckpointError(f"{key}: checkpoint {resume_from} {problem}", hint=_checkpoint_hint(Path(resume_from)))


def check_load_from(load_from: str) -> None:
    """A local ``load_from`` must be a readable file; say how to get it (or do without it) if not."""
    if "://" in load_from:
        return
    problem = not_a_regular_file(Path(load_from).expanduser())
    if problem:
        raise CheckpointError(f"load_from {load_from} {problem}",
                              hint="download the weights again (minim download cls --config NAME --dest DIR, the "
                                   "name the config came from), or set load_from = None to train from random weights")


def earlier_checkpoints(work_dir: Path) -> list[str]:
    """Names of the checkpoints an earlier run left in ``work_dir`` (``epoch_3.pth``, ``latest.pth``, ...)."""
    if not work_dir.is_dir():
        return []
    return sorted(p.name for p in work_dir.glob("*.pth") if CHECKPOINT_NAME.match(p.name))


def trained_checkpoints(work_dir: Path) -> list[Path]:
    """The checkpoints a finished run offers for testing: its ``best_*.pth`` (newest first), then ``latest.pth``."""
    if not work_dir.is_dir():
        return []
    best = sorted(work_dir.glob("best_*.pth"), key=lambda p: p.stat().st_mtime, reverse=True)
    latest = work_dir / "latest.pth"
    return [p for p in best if p.is_file()] + ([latest] if latest.is_file() else [])


def check_checkpoint(checkpoint, entry, command: str, cfg=None) -> None:
    """Refuse, without downloading anything, what :func:`checkpoint_for` would: no ``--checkpoint`` and no
    published weights (the error gives the command to run with the ``best_*.pth`` / ``latest.pth`` that training
    left in ``cfg``'s work dir, when there is one), or a local ``--checkpoint`` that is not a file."""
    if checkpoint is None:
        if entry is None or entry.weights is None:
            raise UsageError(f"minim {command} needs --checkpoint (the config has no published weights in the index)",
                             hint=_trained_hint(command, cfg))
        return
    if "://" not in str(checkpoint):
        path = Path(str(checkpoint)).expanduser()
        problem = not_a_regular_file(path)
        if problem:
            raise CheckpointError(f"checkpoint {path} {problem}", hint=_checkpoint_hint(path))


def checkpoint_for(checkpoint, entry, command: str, cfg=None) -> str:
    """The checkpoint ``minim test|infer`` loads: ``--checkpoint`` (a URL is fetched), else the index entry's
    weights (fetched); see :func:`check_checkpoint` for what is refused."""
    check_checkpoint(checkpoint, entry, command, cfg)
    return weights_path(checkpoint, entry)


def _trained_hint(command: str, cfg) -> str | None:
    """``training left X: minim test cls CONFIG --checkpoint X`` for the newest best (else latest) checkpoint in
    ``cfg``'s work dir; None when there is none."""
    if cfg is None:
        return None
    found = trained_checkpoints(resolve_work_dir(None, cfg, config_stem(cfg)))
    if not found:
        return None
    filename = getattr(cfg, "filename", None)
    config = shlex.quote(str(filename)) if filename else "CONFIG"
    return f"training left {found[0]}: minim {command} cls {config} --checkpoint {shlex.quote(str(found[0]))}"


def _checkpoint_hint(path: Path) -> str:
    """"did you mean" the closest ``.pth`` next to ``path`` (or in it, for a folder), else where training
    writes checkpoints."""
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.pth") if p.is_file())
        if inside:
            return f"give a file in it: {', '.join(str(path / name) for name in inside[:3])}"
    folder = path.parent
    found = sorted(p.name for p in folder.glob("*.pth") if p.is_file() and p.name != path.name) \
        if folder.is_dir() else []
    meant = close_matches(path.name, found, n=1)
    if meant:
        return f"did you mean {folder / meant[0]}?"
    if found:
        return f"{folder} holds {', '.join(found[:4])}{', ...' if len(found) > 4 else ''}"
    return "training writes work_dirs/<config name>/latest.pth, epoch_N.pth and best_*.pth"
