"""Locate data installed with the package (never through the source tree)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def model_index_dir() -> Path:
    """The installed ``minim.model_index`` folder (``model_index/`` in the source tree)."""
    import importlib

    package = importlib.import_module("minim.model_index")
    return Path(list(package.__path__)[0])
