"""Classify many image files in batches: ``inference_files``, the batched form of ``inference_model``.

Each file goes through the same test pipeline as :func:`~minim.cls.apis.inference.inference_model`
(the same pixels), in a DataLoader whose workers decode in parallel when decoding costs more
than it saves (the engine's rule, :func:`minim.cls.engine.data.choose_workers`); batches of
equal-sized images run in one forward pass under ``torch.inference_mode``, in channels_last when
the engine's probe measures it faster (:func:`minim.cls.engine.probe.choose_channels_last`).
Exported models run in batches when their batch axis is dynamic, else one image at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

from minim.errors import DataError, UsageError

#: the default number of images per forward pass
DEFAULT_BATCH_SIZE = 32
#: the fewest images for which the channels_last probe (seconds, once per architecture and device) is run
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
    import torch  # lazy: torch; minim.cls.commands imports this module
    from torch.utils.data import default_collate  # lazy: torch; minim.cls.commands imports this module

    good = [s for s in samples if "img" in s]
    images = [s["img"] for s in good]
    same_size = len({tuple(i.shape) for i in images}) == 1
    return {"index": [s["index"] for s in good],
            "img": default_collate(images) if same_size else images,
            "gt_label": torch.zeros(len(good), dtype=torch.long),
            "errors": [(s["index"], s["error"]) for s in samples if "error" in s]}


def inference_files(model, files: Sequence[str | Path], batch_size: int = DEFAULT_BATCH_SIZE, *,
                    workers: int | None = None, channels_last: bool | None = None
                    ) -> Iterator[tuple[int, dict[str, Any] | DataError]]:
    """Classify image ``files`` with ``model`` (from :func:`~minim.cls.apis.inference.init_model`) in batches.

    Yields ``(position in files, result)`` in the order of ``files``: ``result`` is what
    ``inference_model`` returns for that file, or the :class:`~minim.errors.DataError` that made it
    unreadable. ``workers`` (default: chosen from the CPUs and the measured decoding cost) decode in
    parallel. ``channels_last`` (default: the engine's probe decides, for :data:`PROBE_MIN_IMAGES` files or
    more) switches a classifier and its batches to that memory format; exported models ignore it.
    """
    import torch  # lazy: torch; minim.cls.commands imports this module

    from minim.cls.apis.exported import ExportedModel  # lazy: torch; minim.cls.commands imports this module
    from minim.cls.apis.inference import preprocessor, result_of  # lazy: torch; minim.cls.commands imports this module
    from minim.cls.datasets.builder import build_dataloader  # lazy: torch; minim.cls.commands imports this module
    from minim.cls.engine.data import (  # lazy: torch; minim.cls.commands imports this module
        choose_workers,
        effective_workers,
        measure_loading,
    )

    if batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}")
    exported = isinstance(model, ExportedModel)
    if exported and not model.dynamic_batch:
        batch_size = 1
    device = model.device if exported else next(model.parameters()).device
    dataset = _ImageFiles(files, model.preprocess if exported else preprocessor(model))
    batch_size = max(1, min(batch_size, len(dataset)))
    if workers is None:
        workers, _reason = choose_workers(effective_workers(len(dataset)), measure_loading(dataset), batch_size)
    loader = build_dataloader(dataset, batch_size, workers, shuffle=False, round_up=False, collate_fn=collate_images,
                              pin_memory=device.type == "cuda", persistent_workers=False)
    if exported:
        channels_last = False
    elif channels_last is None:
        channels_last = len(dataset) >= PROBE_MIN_IMAGES and _probe_says_channels_last(model, loader, device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    for batch in loader:
        rows = dict(zip(batch["index"], _forward(model, batch["img"], channels_last))) if batch["index"] else {}
        errors = dict(batch["errors"])
        for index in sorted(rows.keys() | errors.keys()):
            yield index, result_of(model, rows[index]) if index in rows else DataError(*errors[index])


def _forward(model, img, channels_last: bool):
    """Score rows of a batch: one forward pass, or one per image when their sizes differ."""
    import torch  # lazy: torch; minim.cls.commands imports this module

    from minim.cls.apis.inference import batch_scores  # lazy: torch; minim.cls.commands imports this module

    if isinstance(img, list):
        return [batch_scores(model, image[None])[0] for image in img]
    return batch_scores(model, img.contiguous(memory_format=torch.channels_last) if channels_last else img)


def _probe_says_channels_last(model, loader, device) -> bool:
    """The engine's measured choice for a classifier's forward passes (remembered per architecture and device)."""
    from minim.cls.engine.device import Precision  # lazy: torch; minim.cls.commands imports this module
    from minim.cls.engine.probe import choose_channels_last  # lazy: torch; minim.cls.commands imports this module

    return choose_channels_last(model.cfg, model, loader, Precision(device), device, inference=True)[0]
