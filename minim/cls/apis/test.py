"""``test_model``: softmax scores of a model over a dataset or loader (mmcls ``single_gpu_test``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def test_model(model, data, device: Any = None, samples_per_gpu: int = 32, workers_per_gpu: int = 0, metas: list | None = None) -> np.ndarray:
    """Scores (N, C) of ``model`` in dataset order; ``data`` is a dataset or a DataLoader.

    ``metas``, when given, receives each sample's ``img_metas`` (file names for reports).
    """
    import torch
    from torch.utils.data import DataLoader

    from minim.cls.engine.data import build_eval_loader
    from minim.cls.engine.evaluation import collect_scores

    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    loader = data
    if not isinstance(data, DataLoader):
        settings = {"samples_per_gpu": samples_per_gpu, "workers_per_gpu": workers_per_gpu}
        loader = build_eval_loader(data, settings, device)
    return collect_scores(model, loader, device, keep_metas=metas)


test_model.__test__ = False  # not a pytest test


def single_gpu_test(model, data_loader, **kwargs) -> list[np.ndarray]:
    """mmcls's name: a list of per-sample score rows."""
    return list(test_model(model, data_loader, **kwargs))


def multi_gpu_test(model, data_loader, tmpdir=None, gpu_collect: bool = True, **kwargs) -> list[np.ndarray] | None:
    """mmcls's distributed test: each rank scores its shard of ``data_loader`` (a loader from
    ``build_eval_loader`` under a process group); rank 0 gets every row in dataset order, the others None.
    ``tmpdir``/``gpu_collect`` are accepted for compatibility (results are gathered in memory)."""
    from minim.cls.engine.dist import is_main_process

    rows = list(test_model(model, data_loader, **kwargs))
    return rows if is_main_process() else None
