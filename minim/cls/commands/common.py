"""Helpers the train, test and infer entry points share: warnings, class checks, the checkpoint to load."""

from __future__ import annotations

from pathlib import Path

from minim.errors import CheckpointError, DataError, UsageError


def warn(message: str, console: bool) -> None:
    if console:
        import sys

        print(f"minim: warning: {message}", file=sys.stderr, flush=True)


def check_classes(dataset, num_classes: int, split: str) -> None:
    """``len(dataset.CLASSES)`` must equal the head's ``num_classes`` (one clear line otherwise)."""
    from minim.cls.datasets import check_labels

    classes = getattr(dataset, "CLASSES", None)
    if classes is not None and len(classes) != num_classes:
        raise DataError(
            f"data.{split} has {len(classes)} classes but model.head.num_classes={num_classes}",
            hint=f"set model.head.num_classes={len(classes)} (e.g. --cfg-options model.head.num_classes={len(classes)})",
        )
    check_labels(dataset, num_classes)


def is_main(setup) -> bool:
    return setup is None or setup.rank == 0


def checkpoint_for(checkpoint, entry, command: str) -> str:
    from minim.cls.apis.config_source import weights_path

    path = weights_path(checkpoint, entry)
    if path is None:
        raise UsageError(f"minim {command} needs --checkpoint (the config has no published weights in the index)")
    if "://" not in path and not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return path
