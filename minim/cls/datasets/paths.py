"""Dataset paths: ``~`` expansion and built-in datasets addressed as ``minim://<name>/<sub-path>``.

``data_prefix='minim://digits/train'`` resolves to ``ensure_digits() / 'train'``: a config stays
portable (no user-specific absolute path) and the data is prepared on first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from minim.cls.datasets.digits import ensure_digits
from minim.errors import DataError
from minim.filekinds import require_dir, require_file  # noqa: F401 - the datasets' path checks
from minim.suggest import did_you_mean

SCHEME = "minim://"


def _digits_root() -> Path:
    return ensure_digits()


BUILTIN_DATASETS: dict[str, Callable[[], Path]] = {"digits": _digits_root}


def resolve_data_path(path: str | os.PathLike | None, key: str) -> str | None:
    """``path`` with ``~`` expanded and ``minim://`` resolved (preparing the built-in data if needed)."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"{key} must be a path string, got {path!r}")
    text = os.fspath(path)
    if not text.startswith(SCHEME):
        return os.path.expanduser(text)
    name, _, sub_path = text[len(SCHEME) :].partition("/")
    if name not in BUILTIN_DATASETS:
        raise DataError(
            f"{key} {text!r} names an unknown built-in dataset {name!r}; built-in: {', '.join(BUILTIN_DATASETS)}",
            hint=did_you_mean(name, BUILTIN_DATASETS),
        )
    root = BUILTIN_DATASETS[name]()
    return str(root / sub_path) if sub_path else str(root)
