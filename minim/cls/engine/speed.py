"""The speed settings the engine chooses by itself for a run, applied, and said in words for the run header.

- decoded-image cache: each dataset's ``cache_images='auto'`` (see :mod:`minim.cls.datasets.base`);
- DataLoader workers: from the cores and the measured loading cost (see :mod:`minim.cls.engine.data`);
- channels_last: measured (see :mod:`minim.cls.engine.probe`);
- on CUDA: pinned memory with non-blocking copies, TF32, cudnn.benchmark for fixed input sizes
  (see :func:`minim.cls.engine.device.cuda_speed_settings`);
- evaluation on a CPU: in streams, with a measured number of images per pass (see
  :func:`minim.cls.engine.evaluation.collect_scores`).

The cache, the workers and on-device normalization leave every value bit-identical; channels_last,
TF32 and cudnn.benchmark change float rounding. An explicit config or command-line value always wins.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from minim.cls.datasets.samplers import SeededDataset
from minim.cls.engine.device import cuda_speed_settings
from minim.cls.engine.probe import choose_channels_last


def settle_speed_choices(cfg: Any, model: nn.Module, loaders: Sequence[tuple[str, Any]], precision,
                         device: torch.device) -> tuple[bool, list[str]]:
    """Decide and apply channels_last (measured on the ``'train'`` loader of the ``(name, loader)`` pairs) and the
    CUDA settings, before an optimizer or DDP wrapper is built; ``(channels_last, notes)``, where the notes also
    report each loader's image cache and workers."""
    train_loader = next(loader for name, loader in loaders if name == "train")
    channels_last, layout = choose_channels_last(cfg, model, train_loader, precision, device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    notes = [layout] + [f"{name}: {describe_loader(loader)}" for name, loader in loaders]
    if device.type == "cuda":
        cost = getattr(train_loader, "loading_cost", None)
        notes += cuda_speed_settings(cfg, fixed_size=cost is not None and cost.fixed_size)
        notes.append("pinned memory, non-blocking copies" if train_loader.pin_memory else "pageable memory")
    return channels_last, notes


def describe_loader(loader) -> str:
    """The loader's image cache and worker choice, in words."""
    return f"{describe_cache(loader)}{getattr(loader, 'worker_note', 'DataLoader')}"


def describe_cache(loader) -> str:
    """The image cache of the loader's dataset in words and ``', '``; empty for a dataset without one."""
    dataset = loader.dataset.dataset if isinstance(loader.dataset, SeededDataset) else loader.dataset
    cache = getattr(dataset, "cache_summary", None)
    return f"{cache()}, " if cache else ""
