"""Classify many image files in batches: ``inference_files``, the batched form of ``inference_model``.

Each file goes through the same test pipeline as :func:`~minim.cls.apis.inference.inference_model`
(the same pixels), in a DataLoader whose workers decode in parallel when decoding costs more
than it saves (the engine's rule, :func:`minim.cls.engine.data.choose_workers`: on a CPU, only when
decoding an image costs more than scoring it, as the workers take their cores from the model); batches
of equal-sized images run in one forward pass under ``torch.inference_mode``, in channels_last when
the engine's probe measures it faster (:func:`minim.cls.engine.probe.choose_channels_last`), as the
model or its frozen TorchScript trace and of the size measured fastest
(:func:`minim.cls.engine.probe.choose_inference`: on CPUs a few images per pass often beat 32, whose
activations overflow the caches).
Exported models run in batches when their batch axis is dynamic, else one image at a time.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import default_collate

from minim.cls.apis.export_format import quiet_jit
from minim.cls.apis.exported import ExportedModel
from minim.cls.apis.inference import batch_scores, preprocessor, result_of
from minim.cls.datasets.builder import build_dataloader
from minim.cls.engine.data import choose_workers, effective_workers, measure_loading
from minim.cls.engine.device import Precision
from minim.cls.engine.probe import choose_channels_last, choose_inference
from minim.cls.models.classifier import SoftmaxScores
from minim.errors import DataError, UsageError

#: the most images per forward pass unless told otherwise (the probe may choose fewer)
DEFAULT_BATCH_SIZE = 32
#: the fewest images for which the probes (seconds, once per architecture and device) are run
PROBE_MIN_IMAGES = 256


class _ImageFiles:
    """A dataset of image files: ``{'index', 'img'}`` per decodable file, ``{'index', 'error'}`` otherwise."""

    def __init__(self, files: Sequence[str | Path], preprocess):
        self.files, self.preprocess = [str(f) for f in files], preprocess

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        try:
            return {"index": index, "img": self.preprocess(self.files[index])}
        except DataError as exc:  # one bad file does not cost the others their predictions
            return {"index": index, "error": (exc.message, exc.hint)}


def collate_images(samples: Sequence[dict]) -> dict[str, Any]:
    """``{'index': [...], 'img': N x C x H x W (or a list when sizes differ), 'gt_label': N zeros, 'errors':
    [(index, (message, hint)), ...]}``; ``gt_label`` is a placeholder that lets the channels_last probe run a batch."""
    good = [s for s in samples if "img" in s]
    images = [s["img"] for s in good]
    same_size = len({tuple(i.shape) for i in images}) == 1
    return {"index": [s["index"] for s in good],
            "img": default_collate(images) if same_size else images,
            "gt_label": torch.zeros(len(good), dtype=torch.long),
            "errors": [(s["index"], s["error"]) for s in samples if "error" in s]}


def inference_files(model, files: Sequence[str | Path], batch_size: int | None = None, *,
                    workers: int | None = None, channels_last: bool | None = None
                    ) -> Iterator[tuple[int, dict[str, Any] | DataError]]:
    """Classify image ``files`` with ``model`` (from :func:`~minim.cls.apis.inference.init_model`) in batches.

    Yields ``(position in files, result)`` in the order of ``files``: ``result`` is what
    ``inference_model`` returns for that file, or the :class:`~minim.errors.DataError` that made it
    unreadable. ``batch_size`` (default: the size measured fastest, at most :data:`DEFAULT_BATCH_SIZE`, for
    :data:`PROBE_MIN_IMAGES` files or more) images go through each forward pass. ``workers`` (default: chosen
    from the CPUs and the measured decoding cost) decode in parallel. ``channels_last`` (default: the engine's
    probe decides, for :data:`PROBE_MIN_IMAGES` files or more) switches a classifier and its batches to that
    memory format; exported models ignore it.
    """
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}")
    exported = isinstance(model, ExportedModel)
    device = model.device if exported else next(model.parameters()).device
    dataset = _ImageFiles(files, model.preprocess if exported else preprocessor(model))
    largest = 1 if exported and not model.dynamic_batch else max(1, min(batch_size or DEFAULT_BATCH_SIZE, len(dataset)))
    probing = not exported and len(dataset) >= PROBE_MIN_IMAGES
    in_process = _loader(dataset, largest, 0, device)  # what the probes read (no workers to start for them)
    if exported:
        channels_last = False
    else:
        if channels_last is None:
            channels_last = probing and _probe_says_channels_last(model, in_process, device)
        model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    eager = scores = functools.partial(batch_scores, model)
    size, model_seconds = largest, None
    if probing:
        forwards = {"eager": lambda: eager,  # (each made once: the probe's trace is the one that runs)
                    "frozen TorchScript": functools.cache(lambda: _frozen_scores(model, in_process, device,
                                                                                 channels_last))}
        choice = choose_inference(model, in_process, Precision(device), device, largest, channels_last, forwards,
                                  fixed_size=batch_size is not None)
        scores = forwards[choice.forward]() or eager  # (a trace that fails now: the model as it is)
        size = choice.batch_size
        if device.type == "cpu" and choice.images_per_second:
            model_seconds = 1 / choice.images_per_second
    if workers is None:
        workers, _reason = choose_workers(effective_workers(len(dataset)), measure_loading(dataset), size,
                                          cpu_seconds_per_sample=model_seconds)
    loader = _loader(dataset, size, workers, device)
    for batch in loader:
        img = batch["img"]
        rows = dict(zip(batch["index"], _forward(scores, eager, img, channels_last))) if batch["index"] else {}
        errors = dict(batch["errors"])
        for index in sorted(rows.keys() | errors.keys()):
            yield index, result_of(model, rows[index]) if index in rows else DataError(*errors[index])


def _loader(dataset, batch_size: int, workers: int, device):
    return build_dataloader(dataset, batch_size, workers, shuffle=False, round_up=False, collate_fn=collate_images,
                            pin_memory=device.type == "cuda", persistent_workers=False)


def _forward(scores, eager, img, channels_last: bool):
    """Score rows of a batch: one forward pass, or one per image of the model as it is when their sizes differ
    (a trace holds the size it was traced at)."""
    if isinstance(img, list):
        return [eager(image[None])[0] for image in img]
    return scores(img.contiguous(memory_format=torch.channels_last) if channels_last else img)


def _frozen_scores(model, loader, device, channels_last: bool):
    """``model``'s softmax scores as a TorchScript trace, frozen and optimized for inference (BatchNorm folded into
    the convolutions, oneDNN layouts on CPUs): the same scores up to float rounding, often twice as fast on a CPU;
    None when the model cannot be traced. Traced on the loader's first image, in the model's memory format."""
    sample = loader.collate_fn([loader.dataset[0]])["img"]
    if not isinstance(sample, torch.Tensor):
        return None
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    sample = sample.to(device).contiguous(memory_format=fmt)
    with quiet_jit(), torch.no_grad():
        try:
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(
                torch.jit.trace(SoftmaxScores(model).eval(), (sample,), check_trace=False)))
        except (RuntimeError, TypeError, ValueError):
            return None

    def scores(batch):
        with torch.no_grad():
            return frozen(batch.to(device, non_blocking=True)).float().cpu()
    return scores


def _probe_says_channels_last(model, loader, device) -> bool:
    """The engine's measured choice for a classifier's forward passes (remembered per architecture and device)."""
    return choose_channels_last(model.cfg, model, loader, Precision(device), device, inference=True)[0]
