"""mmcls 0.x-style Python API of the ``cls`` codebase.

``init_model``, ``inference_model``, ``show_result_pyplot`` (inference), ``train_model``
(training from a config), ``test_model`` / ``single_gpu_test`` / ``multi_gpu_test`` (scores over a dataset),
``init_random_seed`` / ``set_random_seed``.

The names are imported on first use, so that importing the package imports no torch: the commands that plan a
run stay quick.
"""

from __future__ import annotations

import importlib
from typing import Any

#: each public name -> the module that defines it
_SOURCES = {
    "init_model": "minim.cls.apis.inference",
    "inference_model": "minim.cls.apis.inference",
    "show_result_pyplot": "minim.cls.apis.inference",
    "train_model": "minim.cls.apis.train",
    "test_model": "minim.cls.apis.test",
    "single_gpu_test": "minim.cls.apis.test",
    "multi_gpu_test": "minim.cls.apis.test",
    "init_random_seed": "minim.cls.engine.seed",
    "set_random_seed": "minim.cls.engine.seed",
}

__all__ = list(_SOURCES)


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_SOURCES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
