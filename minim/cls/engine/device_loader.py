"""Batches on the training device, ready for the model; Normalize done there for whole batches.

:class:`DeviceLoader` wraps the engine's DataLoaders (timm's ``PrefetchLoader`` is the model): it moves
each batch's ``img`` and ``gt_label`` to the device with non-blocking copies and, when the pipeline
allows it, computes Normalize's ``(img - mean) / std`` there, once per batch. Everything that takes
batches from an engine loader (the runner, evaluation, PreciseBN, the channels_last probe) therefore
sees the same normalized float images on the device.

Normalizing on the device is possible when a pipeline ends ``Normalize -> ImageToTensor(keys=['img'])
-> [ToTensor] -> Collect`` (:meth:`Compose.for_device`): the loader then reads the dataset through a
view (:func:`device_normalized_view`) whose pipeline hands over images as they are before Normalize
(uint8 for decoded files, after its channel swap): a quarter of the bytes through worker processes,
pinned memory and the PCIe bus, and one vectorised operation instead of one per image (what
mmpretrain's data preprocessor does). The arithmetic is the same float32 subtraction and division,
so the values are identical. The caller's dataset is never changed. Pipelines with anything else
after Normalize (``RandomErasing``, custom steps) keep normalizing per image;
``normalize_on_device = False`` in a config turns it off.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator, Mapping

import torch


class BatchNormalizer:
    """``(img - mean) / std`` for a batch ``N x C x H x W`` of any dtype, on the batch's device."""

    def __init__(self, mean, std):
        self.mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        self._on: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        if img.device not in self._on:
            self._on[img.device] = (self.mean.to(img.device), self.std.to(img.device))
        mean, std = self._on[img.device]
        out = img.to(torch.float32, copy=True)
        return out.sub_(mean).div_(std)

    def __repr__(self) -> str:
        return f"BatchNormalizer(mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()})"


def _view(dataset: Any) -> tuple[Any, list] | None:
    """A shallow copy of ``dataset`` (and of the wrappers it sits in) reading through device pipelines,
    with the Normalize steps they leave to the device; None when a pipeline does not allow it."""
    if hasattr(dataset, "datasets"):  # ConcatDataset
        inner = [_view(part) for part in dataset.datasets]
        if any(found is None for found in inner):
            return None
        view = copy.copy(dataset)
        view.datasets = [part for part, _ in inner]
        return view, [step for _, steps in inner for step in steps]
    if hasattr(dataset, "dataset"):  # RepeatDataset, ClassBalancedDataset, KFoldDataset, Subset
        inner = _view(dataset.dataset)
        if inner is None:
            return None
        view = copy.copy(dataset)
        view.dataset = inner[0]
        return view, inner[1]
    pipeline = getattr(dataset, "pipeline", None)
    found = pipeline.for_device() if callable(getattr(pipeline, "for_device", None)) else None
    if found is None:
        return None
    view = copy.copy(dataset)  # shares the annotations and the image cache
    view.pipeline = found[0]
    return view, [found[1]]


def device_normalized_view(dataset: Any) -> tuple[Any, BatchNormalizer] | None:
    """``(view, normalizer)``: a view of ``dataset`` yielding images before Normalize's arithmetic, and the
    batch step that finishes it; None when any of its pipelines does not allow it or their Normalize steps
    differ. ``dataset`` itself is not changed."""
    found = _view(dataset)
    if found is None:
        return None
    view, steps = found
    if any(step.mean != steps[0].mean or step.std != steps[0].std for step in steps):
        return None
    return view, BatchNormalizer(steps[0].mean, steps[0].std)


class DeviceLoader:
    """Iterate ``loader``'s batches with ``img`` and ``gt_label`` on ``device`` (non-blocking copies), ``img``
    normalized there by ``normalizer`` when the loader reads a :func:`device_normalized_view`.

    ``normalizer`` is None when the pipeline normalizes per image. Every other attribute (``sampler``,
    ``batch_size``, ``dataset``, ``drop_last``, ...) is the wrapped DataLoader's.
    """

    def __init__(self, loader, device: torch.device | str, normalizer: BatchNormalizer | None = None):
        self.loader = loader
        self.device = torch.device(device)
        self.normalizer = normalizer

    def __iter__(self) -> Iterator[dict]:
        for batch in self.loader:
            yield self.to_device(batch)

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str) -> Any:
        if name == "loader":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.loader, name)

    def to_device(self, batch: Mapping[str, Any]) -> dict:
        """``batch`` as the model takes it: ``img`` (normalized) and ``gt_label`` on the device."""
        return batch_on_device(batch, self.device, self.normalizer)


def batch_on_device(batch: Mapping[str, Any], device: torch.device, normalizer: BatchNormalizer | None = None) -> dict:
    """``batch`` with ``img`` (normalized by ``normalizer`` when given; a list of images of different sizes is
    handled one image at a time) and ``gt_label`` on ``device``, by non-blocking copies."""
    def ready(img: torch.Tensor) -> torch.Tensor:
        img = img.to(device, non_blocking=True)
        return normalizer(img) if normalizer is not None else img

    batch = dict(batch)
    img = batch.get("img")
    if isinstance(img, torch.Tensor):
        batch["img"] = ready(img)
    elif isinstance(img, list):  # images of different sizes (inference batches)
        batch["img"] = [ready(image[None])[0] for image in img]
    label = batch.get("gt_label")
    if isinstance(label, torch.Tensor):
        batch["gt_label"] = label.to(device, non_blocking=True)
    return batch
