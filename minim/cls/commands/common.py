"""Helpers the train, test and infer entry points share: warnings, the checkpoint to load."""

from __future__ import annotations

from pathlib import Path

from minim.errors import CheckpointError, UsageError, warning_line
from minim.filekinds import not_a_regular_file


def warn(message: str, console: bool) -> None:
    if console:
        import sys

        print(warning_line(message), file=sys.stderr, flush=True)


def is_main(setup) -> bool:
    return setup is None or setup.rank == 0


def checkpoint_for(checkpoint, entry, command: str) -> str:
    from minim.cls.apis.config_source import weights_path

    path = weights_path(checkpoint, entry)
    if path is None:
        raise UsageError(f"minim {command} needs --checkpoint (the config has no published weights in the index)")
    if "://" not in path:
        problem = not_a_regular_file(Path(path))
        if problem:
            raise CheckpointError(f"checkpoint {path} {problem}", hint=_checkpoint_hint(Path(path)))
    return path


def _checkpoint_hint(path: Path) -> str:
    """"did you mean" the closest ``.pth`` next to ``path`` (or in it, for a folder), else where training
    writes checkpoints."""
    from minim.suggest import close_matches

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
