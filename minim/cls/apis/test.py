"""Prediction: softmax scores of a model over a dataset or loader (mmcls ``single_gpu_test``), and a checkpoint
run over a config's ``data.test`` (``minim test``, the confusion matrix)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from minim.cls.apis.inference import ClassNamesWarning, init_model
from minim.cls.datasets import build_dataset, compare_classes
from minim.cls.datasets.checks import check_num_classes
from minim.cls.engine.data import build_eval_loader
from minim.cls.engine.device_loader import DeviceLoader
from minim.cls.engine.dist import is_main_process, main_process_first
from minim.cls.engine.evaluation import collect_scores, eval_channels_last
from minim.cls.loader_settings import loader_settings
from minim.cls.models import num_classes_of
from minim.cls.plan.checkpoints import checkpoint_for
from minim.errors import ConfigError


def test_model(model, data, device: Any = None, samples_per_gpu: int = 32, workers_per_gpu: int = 0,
               metas: list | None = None) -> np.ndarray:
    """Scores (N, C) of ``model`` in dataset order; ``data`` is a dataset or a DataLoader.

    ``metas``, when given, receives each sample's ``img_metas`` (file names for reports).
    """
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    loader = data
    if not isinstance(data, (DataLoader, DeviceLoader)):
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
    rows = list(test_model(model, data_loader, **kwargs))
    return rows if is_main_process() else None


@dataclass
class TestRun:
    """A checkpoint's predictions over a config's ``data.test``, in dataset order."""

    checkpoint: str
    dataset: Any
    classes: list[str]
    scores: np.ndarray
    gt_labels: np.ndarray
    metas: list
    #: what loading the checkpoint warned about (for the caller to show)
    warnings: list[str] = field(default_factory=list)

    __test__ = False


def test_checkpoint(cfg, checkpoint: str | None, entry, device) -> TestRun:
    """Load ``checkpoint`` (None: the index entry's weights) into ``cfg``'s model and score ``data.test``.

    The checkpoint's class names must match the test set's, and its head their count. In a launched run
    (``device``: this rank's) each rank scores its share and every rank gets all scores.
    """
    with main_process_first():  # downloads and dataset preparation: once, by rank 0 first
        path = checkpoint_for(checkpoint, entry, "test", cfg)
        if "test" not in (cfg.get("data") or {}):
            raise ConfigError("config has no data.test")
        dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = init_model(cfg, path, device=device, strict=True)
    if dataset.CLASSES is not None and model.classes_from_checkpoint:
        compare_classes(model.CLASSES, dataset.CLASSES, ("checkpoint", "test set"), "data.test")
    check_num_classes(dataset, num_classes_of(model), "test")
    classes = list(dataset.CLASSES) if dataset.CLASSES is not None else list(model.CLASSES)
    shown = [str(item.message) for item in caught  # the test set's own class names make the checkpoint's moot
             if dataset.CLASSES is None or not issubclass(item.category, ClassNamesWarning)]
    loader = build_eval_loader(dataset, loader_settings(cfg.data, "test"), device,
                               normalize_on_device=bool(cfg.get("normalize_on_device", True)))
    channels_last = eval_channels_last(cfg, model, loader, device)
    model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    metas: list = []
    scores = collect_scores(model, loader, device, channels_last=channels_last, keep_metas=metas,
                            deterministic=bool(cfg.get("deterministic", False)))
    return TestRun(checkpoint=path, dataset=dataset, classes=classes, scores=scores,
                   gt_labels=dataset.get_gt_labels(), metas=metas, warnings=shown)


test_checkpoint.__test__ = False  # not a pytest test
