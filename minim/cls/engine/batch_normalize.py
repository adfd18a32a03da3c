"""Normalize whole batches on the training device instead of each image in the data loader.

When a pipeline ends ``Normalize -> ImageToTensor(keys=['img']) -> [ToTensor] -> Collect``, the
loader can hand over the images as they are before ``Normalize`` (uint8 for decoded files, after
``Normalize``'s channel swap) and the engine computes ``(img - mean) / std`` for the batch once it
is on the device: a quarter of the bytes through worker processes, pinned memory and the PCIe bus,
and one vectorised operation instead of one per image (what mmpretrain's data preprocessor does).
The arithmetic is the same float32 subtraction and division, so the values are identical.

Pipelines with anything else after ``Normalize`` (``RandomErasing``, custom steps) keep
normalizing per image. ``normalize_on_device = False`` in a config turns this off.
"""

from __future__ import annotations

from typing import Any

import torch

#: transforms that may follow Normalize without looking at pixel values
_FORMATTING = ("ImageToTensor", "ToTensor", "Collect")


class BatchNormalizer:
    """``(img - mean) / std`` for a batch ``N x C x H x W`` of any dtype, on the batch's device."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        self.mean = mean.reshape(1, -1, 1, 1).to(torch.float32)
        self.std = std.reshape(1, -1, 1, 1).to(torch.float32)
        self._on: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        if img.device not in self._on:
            self._on[img.device] = (self.mean.to(img.device), self.std.to(img.device))
        mean, std = self._on[img.device]
        out = img.to(torch.float32, copy=True)
        return out.sub_(mean).div_(std)

    def __repr__(self) -> str:
        return f"BatchNormalizer(mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()})"


def _pipelines(dataset: Any) -> list | None:
    """The pipelines (``Compose``) a dataset's samples go through, looking inside wrappers."""
    if hasattr(dataset, "datasets"):  # ConcatDataset
        found = [_pipelines(inner) for inner in dataset.datasets]
        return None if any(p is None for p in found) else [p for group in found for p in group]
    if hasattr(dataset, "dataset"):  # RepeatDataset and similar
        return _pipelines(dataset.dataset)
    pipeline = getattr(dataset, "pipeline", None)
    return [pipeline] if hasattr(pipeline, "transforms") else None


def _deferrable(pipeline) -> tuple[Any, list] | None:
    """``(Normalize, [ImageToTensor, ...])`` when only formatting follows the pipeline's one Normalize."""
    names = [type(t).__name__ for t in pipeline.transforms]
    if names.count("Normalize") != 1:
        return None
    position = names.index("Normalize")
    after = pipeline.transforms[position + 1:]
    if any(type(t).__name__ not in _FORMATTING for t in after):
        return None
    to_tensor = [t for t in after if type(t).__name__ == "ImageToTensor"]
    if any(list(t.keys) != ["img"] for t in to_tensor):
        return None
    return pipeline.transforms[position], to_tensor


def defer_normalization(dataset: Any) -> BatchNormalizer | None:
    """Switch ``dataset``'s ``Normalize`` to hand over un-normalized images; the batch step that finishes
    the job, or None when the pipeline does not allow it (nothing is changed then)."""
    pipelines = _pipelines(dataset)
    if not pipelines:
        return None
    plans = [_deferrable(pipeline) for pipeline in pipelines]
    if any(plan is None for plan in plans):
        return None
    first = plans[0][0]
    if any(not (torch.equal(n._mean, first._mean) and torch.equal(n._std, first._std)) for n, _ in plans):
        return None
    for normalize, to_tensor in plans:
        normalize.deferred = True
        for transform in to_tensor:
            transform.keep_dtype = True
    return BatchNormalizer(first._mean, first._std)


def restore(dataset: Any) -> None:
    """Undo :func:`defer_normalization`: ``dataset`` yields normalized float images again."""
    for pipeline in _pipelines(dataset) or []:
        for transform in pipeline.transforms:
            if type(transform).__name__ == "Normalize":
                transform.deferred = False
            elif type(transform).__name__ == "ImageToTensor":
                transform.keep_dtype = False


def attach(loader, dataset: Any, enabled: bool = True):
    """Give ``loader`` the :class:`BatchNormalizer` of ``dataset`` (``loader.batch_normalizer``, None
    when disabled or not possible); the engine's consumers of batches apply it. Returns ``loader``.
    Call :func:`restore` on ``dataset`` when the loader is done, if others use the dataset too."""
    if not enabled:
        restore(dataset)
    loader.batch_normalizer = defer_normalization(dataset) if enabled else None
    return loader
