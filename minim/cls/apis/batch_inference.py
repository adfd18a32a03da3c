"""Classify many image files in batches: ``inference_files``, the batched form of ``inference_model``.

Each file goes through the same test pipeline as :func:`~minim.cls.apis.inference.inference_model`
(the same values; Normalize's arithmetic is done once per batch when the pipeline allows it, as in
training: :class:`~minim.cls.engine.device_loader.DeviceLoader`). On a CPU with several cores the
images are read, measured and scored in streams (:class:`~minim.cls.engine.streams.CpuStreams`): one thread
per core, each decoding a batch of files and running its forward pass with one intra-op thread. Elsewhere
a DataLoader's workers decode in parallel when decoding costs more than it saves (the engine's rule,
:func:`minim.cls.engine.data.choose_workers`). Batches of equal-sized images run in
forward passes under ``torch.inference_mode``, in channels_last when the engine's probe measures it
faster (:func:`minim.cls.engine.probe.choose_channels_last`), as the model or its frozen TorchScript
trace and of the size measured fastest (:func:`minim.cls.engine.probe.choose_inference`: on CPUs a
few images per pass often beat 32, whose activations overflow the caches). That probe times batches
of the job's own first images, whose scores are kept: measuring costs only the slower candidates'
extra time.
Exported models run in batches when their batch axis is dynamic, else one image at a time.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import torch
from torch.utils.data import default_collate

from minim.cls.apis.export_format import quiet_jit
from minim.cls.apis.exported import ExportedModel
from minim.cls.apis.inference import as_scores, batch_scores, preprocessor, result_of
from minim.cls.datasets.builder import build_dataloader
from minim.cls.engine.data import choose_workers, effective_workers, measure_loading
from minim.cls.engine.device import Precision
from minim.cls.engine.device_loader import BatchNormalizer, DeviceLoader, batch_on_device
from minim.cls.engine.probe import choose_channels_last, choose_inference
from minim.cls.engine.streams import CpuStreams
from minim.cls.models.classifier import SoftmaxScores
from minim.errors import DataError, UsageError
from minim.launch.commands import usable_cpu_count

#: the most images per forward pass unless told otherwise (the probe may choose fewer)
DEFAULT_BATCH_SIZE = 32
#: the fewest images for which the probes (seconds, once per architecture and device) are run
PROBE_MIN_IMAGES = 256


class _ImageFiles:
    """A dataset of image files: ``{'index', 'img'}`` per decodable file, ``{'index', 'error'}`` otherwise."""

    def __init__(self, files: Sequence[str | Path], preprocess, start: int = 0):
        """``files[start:]``, each sample's ``index`` its position in ``files``."""
        self.files, self.preprocess, self.start = [str(f) for f in files[start:]], preprocess, start

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        try:
            return {"index": self.start + index, "img": self.preprocess(self.files[index])}
        except DataError as exc:  # one bad file does not cost the others their predictions
            return {"index": self.start + index, "error": (exc.message, exc.hint)}

    def for_device(self) -> tuple["_ImageFiles", BatchNormalizer | None]:
        """``(files, normalizer)``: these files before Normalize's arithmetic, and the batch step that finishes it;
        ``(self, None)`` when the preprocessing does not allow it."""
        found = self.preprocess.for_device() if hasattr(self.preprocess, "for_device") else None
        if found is None:
            return self, None
        view = copy.copy(self)
        view.preprocess = found[0]
        return view, found[1]


class _JobImages:
    """The inference probe's batches, taken from the job itself (a
    :class:`~minim.cls.engine.probe.ProbeImages`): what the probe scores are results, not lost time.
    Reads the job's loader batches in order; :meth:`results` then scores the images read but not taken (in
    ``streams`` when given)."""

    def __init__(self, batches: Iterator[dict], eager, streams: CpuStreams | None = None):
        self.batches, self.eager, self.streams = batches, eager, streams
        self.pending: deque = deque()  # (index, image) read, not yet scored
        self.taken: deque = deque()  # the indices of each batch handed out whose scores are not yet kept
        self.rows: dict[int, torch.Tensor] = {}
        self.errors: dict[int, tuple] = {}
        self.read = 0  # files read from ``batches``

    def take(self, size: int) -> torch.Tensor | None:
        while len(self.pending) < size and self._read_batch():
            pass
        if not self.pending:
            return None
        run = self._same_shape_run(size)
        self.taken.append([index for index, _ in run])
        return torch.stack([img for _, img in run])

    def keep(self, scores) -> None:
        self.rows.update(zip(self.taken.popleft(), as_scores(scores)))

    def results(self, model, scores, size: int, channels_last: bool) -> Iterator[tuple[int, Any]]:
        """``(position, result)`` for every file read so far, in order: the images not taken scored now, with
        ``scores`` ``size`` at a time."""
        runs = []
        while self.pending:
            runs.append(self._same_shape_run(size))

        def scored(run: list[tuple[int, torch.Tensor]]) -> torch.Tensor:
            return _forward(scores, self.eager, torch.stack([img for _, img in run]), channels_last)
        for run, rows in zip(runs, self.streams.map(scored, runs) if self.streams else map(scored, runs)):
            self.rows.update(zip([index for index, _ in run], rows))
        yield from _in_order(model, self.rows, self.errors)

    def _read_batch(self) -> bool:
        batch = next(self.batches, None)
        if batch is None:
            return False
        self.read += len(batch["index"]) + len(batch["errors"])
        self.errors.update(batch["errors"])
        if isinstance(batch["img"], list):  # sizes differ: the model as it is, one image at a time
            self.rows.update(zip(batch["index"], _forward(self.eager, self.eager, batch["img"], False)))
        else:
            self.pending.extend(zip(batch["index"], batch["img"]))
        return True

    def _same_shape_run(self, size: int) -> list[tuple[int, torch.Tensor]]:
        shape, run = self.pending[0][1].shape, []
        while self.pending and len(run) < size and self.pending[0][1].shape == shape:
            run.append(self.pending.popleft())
        return run


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
    :data:`PROBE_MIN_IMAGES` files or more) images go through each forward pass. ``workers`` DataLoader worker
    processes decode in parallel; by default a classifier on a CPU with several cores reads and scores in one
    stream per core (see the module), and elsewhere the workers are chosen from the CPUs and the measured
    decoding cost. ``channels_last`` (default: the engine's
    probe decides, for :data:`PROBE_MIN_IMAGES` files or more) switches a classifier and its batches to that
    memory format; exported models ignore it.
    """
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}")
    exported = isinstance(model, ExportedModel)
    device = model.device if exported else next(model.parameters()).device
    count = usable_cpu_count() if workers is None and device.type == "cpu" and not exported else 1
    with CpuStreams(count) if count > 1 else contextlib.nullcontext() as streams:
        yield from _classified(model, files, batch_size, workers, channels_last, device, streams)


def _classified(model, files: Sequence[str | Path], batch_size: int | None, workers: int | None,
                channels_last: bool | None, device, streams: CpuStreams | None) -> Iterator[tuple[int, Any]]:
    """:func:`inference_files`' results: its first images read (in ``streams`` when given) and scored by the probes,
    then the rest in ``streams``, or in a DataLoader's batches."""
    exported = isinstance(model, ExportedModel)
    dataset = _ImageFiles(files, model.preprocess if exported else preprocessor(model))
    dynamic = not exported or model.dynamic_batch
    largest = max(1, min(batch_size or DEFAULT_BATCH_SIZE, len(dataset))) if dynamic else 1
    in_process = _loader(dataset, largest, 0, device)  # what the probes read (no workers to start for them)
    eager = functools.partial(batch_scores, model)
    batches = iter(in_process) if streams is None else _read_in_streams(dataset, largest, device, streams)
    job = _JobImages(batches, eager, streams)  # the probes' batches: the job's first images
    forward = _chosen_forward(model, in_process, job, eager, largest, fixed_size=batch_size is not None,
                              channels_last=channels_last, probing=len(dataset) >= PROBE_MIN_IMAGES,
                              streams=streams)
    yield from job.results(model, forward.scores, forward.size, forward.channels_last)
    rest = _ImageFiles(files, dataset.preprocess, start=job.read)
    if streams is not None:
        for rows, errors in _scored_in_streams(rest, device, forward.size, streams, forward):
            yield from _in_order(model, rows, errors)
        return
    if workers is None:
        workers, _reason = choose_workers(effective_workers(len(dataset)), measure_loading(in_process.dataset),
                                          forward.size, cpu_seconds_per_sample=forward.seconds_per_image)
    for batch in batches if workers == 0 else _loader(rest, largest, workers, device):
        yield from _in_order(model, dict(zip(batch["index"], forward(batch["img"]))), dict(batch["errors"]))


class _Forward(NamedTuple):
    """How a job scores its batches: ``scores`` (a batch to softmax scores) in forward passes of ``size``, in
    channels_last or not; ``eager`` for images of different sizes; the measured seconds per image on a CPU."""

    scores: Callable
    eager: Callable
    size: int
    channels_last: bool
    seconds_per_image: float | None

    def __call__(self, img) -> torch.Tensor:
        """The scores of a loader batch's images (a tensor, or a list of images of different sizes)."""
        return _forward(self.scores, self.eager, img, self.channels_last, self.size)


def _chosen_forward(model, loader, job: "_JobImages", eager, largest: int, *, fixed_size: bool,
                    channels_last: bool | None, probing: bool, streams: CpuStreams | None) -> _Forward:
    """The forward pass, batch size and memory format: measured by the engine's probes on the job's first images
    when ``probing``, in ``streams`` when given (exported models: as they are, in their own format)."""
    if isinstance(model, ExportedModel):
        return _Forward(eager, eager, largest, False, None)
    device = next(model.parameters()).device
    if channels_last is None:
        channels_last = probing and _probe_says_channels_last(model, loader, device, job, streams)
    model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    if not probing:
        return _Forward(eager, eager, largest, channels_last, None)
    forwards = {"eager": lambda: eager,  # (each made once: the probe's trace is the one that runs)
                "frozen TorchScript": functools.cache(lambda: _frozen_scores(model, loader, device, channels_last))}
    choice = choose_inference(model, loader, Precision(device), device, largest, channels_last, forwards,
                              fixed_size=fixed_size, images=job, streams=streams)
    scores = forwards[choice.forward]() or eager  # (a trace that fails now: the model as it is)
    cpu_seconds = 1 / choice.images_per_second if device.type == "cpu" and choice.images_per_second else None
    return _Forward(scores, eager, choice.batch_size, channels_last, cpu_seconds)


def _read_in_streams(files: _ImageFiles, size: int, device, streams: CpuStreams) -> Iterator[dict]:
    """The batches of ``size`` of ``files`` a loader would give (normalized on ``device`` when the pipeline allows
    it), the files of each batch decoded in ``streams``."""
    view, normalizer = files.for_device()
    for start in range(0, len(view), size):
        yield _read_run(view, normalizer, device, start, size, streams.map)


def _scored_in_streams(files: _ImageFiles, device, size: int, streams: CpuStreams,
                       score: Callable[[Any], torch.Tensor]) -> Iterator[tuple[dict, dict]]:
    """``(scores by position, errors by position)`` of each run of ``size`` of ``files``, in order: each run
    read, normalized and scored by one of the ``streams``."""
    view, normalizer = files.for_device()

    def read_and_score(start: int) -> tuple[dict, dict]:
        batch = _read_run(view, normalizer, device, start, size)
        return dict(zip(batch["index"], score(batch["img"]))), dict(batch["errors"])

    return streams.imap(read_and_score, range(0, len(view), size))


def _read_run(view: _ImageFiles, normalizer: BatchNormalizer | None, device, start: int, size: int,
              read: Callable = map) -> dict:
    """The batch of ``view``'s files ``start`` to ``start + size`` on ``device``, each file decoded by ``read``
    (``map``, or a streams' ``map``)."""
    samples = list(read(view.__getitem__, range(start, min(start + size, len(view)))))
    return batch_on_device(collate_images(samples), device, normalizer)


def _in_order(model, rows: dict, errors: dict) -> Iterator[tuple[int, Any]]:
    for index in sorted(rows.keys() | errors.keys()):
        yield index, result_of(model, rows[index]) if index in rows else DataError(*errors[index])


def _loader(dataset: _ImageFiles, batch_size: int, workers: int, device) -> DeviceLoader:
    """Batches of ``dataset`` on ``device``, normalized there when the pipeline allows it (uint8 images through the
    loader: the same values, a quarter of the bytes, one operation per batch)."""
    view, normalizer = dataset.for_device()
    loader = build_dataloader(view, batch_size, workers, shuffle=False, round_up=False,
                              collate_fn=collate_images, pin_memory=device.type == "cuda", persistent_workers=False)
    return DeviceLoader(loader, device, normalizer)


def _forward(scores, eager, img, channels_last: bool, size: int | None = None):
    """Score rows of a batch: forward passes of ``size`` images (default: all), or one per image of the model
    as it is when their sizes differ (a trace holds the size it was traced at)."""
    if isinstance(img, list):
        return [eager(image[None])[0] for image in img]
    img = img.contiguous(memory_format=torch.channels_last) if channels_last else img
    return torch.cat([scores(chunk) for chunk in img.split(size or len(img))])


def _frozen_scores(model, loader, device, channels_last: bool):
    """``model``'s softmax scores as a TorchScript trace, frozen and optimized for inference (BatchNorm folded into
    the convolutions, oneDNN layouts on CPUs): the same scores up to float rounding, often twice as fast on a CPU;
    None when the model cannot be traced. Traced on the loader's first image, in the model's memory format."""
    sample = loader.to_device(loader.collate_fn([loader.dataset[0]]))["img"]
    if not isinstance(sample, torch.Tensor):
        return None
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    sample = sample.contiguous(memory_format=fmt)
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


def _probe_says_channels_last(model, loader, device, images: _JobImages, streams: CpuStreams | None) -> bool:
    """The engine's measured choice for a classifier's forward passes (remembered per architecture and device),
    timed on batches of ``images`` (in ``streams`` when given)."""
    return choose_channels_last(model.cfg, model, loader, Precision(device), device, inference=True,
                                images=images, streams=streams)[0]
