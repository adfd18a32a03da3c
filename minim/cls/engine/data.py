"""Data loaders of the engine: per-split settings, the number of workers, and the two kinds of loader.

Both kinds come from :func:`minim.cls.datasets.build_dataloader`. Training batches come from its
:class:`~minim.cls.datasets.samplers.EpochSampler` (``per_sample_seeds``): the order and every
sample's augmentation seed follow from ``(seed, epoch)`` only, so the data a run sees does not
depend on the number of workers, on persistent workers, or on where the run was interrupted and
resumed (the sampler can start mid-epoch).

Loader settings follow mmcls 0.x (:func:`minim.cls.loader_settings.loader_settings` merges and checks them
before torch loads). ``workers_per_gpu`` is the most worker processes the engine starts: it measures
what loading a sample costs and starts none when that is cheaper than the workers themselves
(decoded images in memory, tiny images), else as many as the CPUs allow.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch.utils.data import DataLoader, Dataset

from minim.cls.datasets.builder import build_dataloader
from minim.cls.engine.device_loader import DeviceLoader, device_normalized_view
from minim.cls.engine.dist import get_rank, get_world_size
from minim.cls.engine.seed import capture_rng_state, restore_rng_state
from minim.errors import ConfigError
from minim.launch.commands import usable_cpu_count

#: a batch that loads in less than this many seconds in the training process needs no workers
FREE_BATCH_SECONDS = 0.01
#: samples timed to measure the loading cost
TIMED_SAMPLES = 6


def effective_workers(requested: int) -> int:
    """Worker processes to use at most: the config's number, but never more than this process's share of the CPUs."""
    cpus = usable_cpu_count()
    per_process = max(1, cpus // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    return max(0, min(int(requested), per_process))


@dataclass
class LoadingCost:
    """What loading one sample in the training process costs (the median of a few), and the image shapes seen."""

    seconds_per_sample: float
    shapes: set

    @property
    def fixed_size(self) -> bool:
        """Whether every timed sample had the same image shape (cudnn.benchmark then pays off)."""
        return len(self.shapes) == 1


def measure_loading(dataset: Dataset, samples: int = TIMED_SAMPLES) -> LoadingCost | None:
    """Time ``dataset[i]`` for a few samples spread over the dataset (fill its image cache first to time the
    cached path); the global random generators are left as they were. None for an empty dataset."""
    if len(dataset) == 0:
        return None
    state = capture_rng_state()
    seconds, shapes = [], set()
    try:
        for index in sorted({round(i * (len(dataset) - 1) / max(1, samples - 1)) for i in range(samples)}):
            start = time.perf_counter()
            sample = dataset[index]
            seconds.append(time.perf_counter() - start)
            img = sample.get("img") if isinstance(sample, Mapping) else None
            shapes.add(tuple(img.shape) if hasattr(img, "shape") else None)
    finally:
        restore_rng_state(state)
    return LoadingCost(statistics.median(seconds), shapes)


def choose_workers(requested: int, cost: LoadingCost | None, batch_size: int,
                   cpu_seconds_per_sample: float | None = None) -> tuple[int, str]:
    """``(workers, reason)``: none when a batch loads in under :data:`FREE_BATCH_SECONDS` in the training process
    (workers would only add start-up time and copies), else ``requested`` capped by the CPUs.

    ``cpu_seconds_per_sample``: what the model costs per sample on the same CPU cores, when it runs on the CPU
    and that was measured. Workers then take their cores from the model, so none are started unless loading a
    sample costs more than the model does (measured on a 2-core CPU, MobileNetV2 inference: 2 workers scored
    96-100 images/s, none 104-108)."""
    if int(requested) <= 0:
        return 0, "0 DataLoader workers (workers_per_gpu=0)"
    capped = effective_workers(requested)
    per_image = f"{cost.seconds_per_sample * 1000:.2f} ms per image" if cost is not None else "nothing"
    if cost is None or cost.seconds_per_sample * batch_size < FREE_BATCH_SECONDS:
        return 0, f"0 DataLoader workers (loading takes {per_image}: cheaper in the training process)"
    if cpu_seconds_per_sample is not None and cost.seconds_per_sample <= cpu_seconds_per_sample:
        return 0, (f"0 DataLoader workers (loading takes {per_image}, the model "
                   f"{cpu_seconds_per_sample * 1000:.2f} ms on the same CPU cores: workers would slow it down)")
    return capped, f"{capped} DataLoader worker(s) (loading takes {per_image}; at most workers_per_gpu={requested})"


def build_train_loader(dataset: Dataset, settings: Mapping[str, Any], seed: int, device: torch.device,
                       normalize_on_device: bool = True) -> DeviceLoader:
    """The training loader: per-sample seeds (reproducible, resumable), sharded over the ranks, padded unless
    ``round_up=False``. Every loader this module builds is a :class:`DeviceLoader` (batches on ``device``,
    normalized there when the pipeline allows it and ``normalize_on_device``); ``loader.worker_note`` says
    how many workers it uses and why, ``loader.loading_cost`` is the measured :class:`LoadingCost`."""
    loader = _loader(dataset, settings, device, normalize_on_device, shuffle=bool(settings.get("shuffle", True)),
                     seed=seed,
                     drop_last=bool(settings.get("drop_last")), dist=get_world_size() > 1, per_sample_seeds=True,
                     round_up=settings.get("round_up", True), sampler_cfg=settings.get("sampler_cfg"))
    _check_equal_batch_counts(loader)
    return loader


def _check_equal_batch_counts(loader: DataLoader) -> None:
    """Uneven shares (``round_up=False``) must still give every rank as many batches: DistributedDataParallel
    would otherwise wait forever for the missing one."""
    sampler = loader.sampler
    world_size, size, batch = sampler.world_size, sampler.size, loader.batch_size
    shares = {len(range(rank, size, world_size)) for rank in range(world_size)} if not sampler.positions.pad else set()
    counts = {share // batch if loader.drop_last else -(-share // batch) for share in shares}
    if len(counts) > 1:
        raise ConfigError(f"data: round_up=False gives the {world_size} processes {min(counts)} or {max(counts)} "
                          f"training batches ({size} samples, samples_per_gpu={batch}): distributed training would "
                          "wait forever for the missing batch", hint="keep round_up=True (mmcls's default)")


def build_eval_loader(dataset: Dataset, settings: Mapping[str, Any], device: torch.device,
                      distributed: bool | None = None, normalize_on_device: bool = True) -> DeviceLoader:
    """A validation/test loader: dataset order, no seeding.

    Distributed (by default whenever a process group of several ranks is up) each rank reads
    every ``world_size``-th batch of a single process's, without padding (``round_up=False`` with
    ``block`` = the batch size), and :func:`minim.cls.engine.evaluation.collect_scores` gathers them
    back into dataset order, so the scores and metrics equal a single process's, bit for bit,
    whatever the dataset size (on a CPU: a single process's under ``deterministic``, which scores the loader's
    batches; see :func:`minim.cls.engine.evaluation.collect_scores`).
    """
    if distributed is None:
        distributed = get_world_size() > 1
    return _loader(dataset, settings, device, normalize_on_device, shuffle=False, seed=0, drop_last=False,
                   dist=distributed and get_world_size() > 1, round_up=False, block=int(settings["samples_per_gpu"]))


def _loader(dataset, settings, device, normalize_on_device: bool, **options) -> DeviceLoader:
    view = device_normalized_view(dataset) if normalize_on_device else None
    dataset, normalizer = view if view is not None else (dataset, None)
    batch_size = int(settings["samples_per_gpu"])
    requested = settings.get("workers_per_gpu", 0)
    cost = measure_loading(dataset)
    workers, note = choose_workers(requested, cost, batch_size)
    extra = {"prefetch_factor": settings["prefetch_factor"]} if settings.get("prefetch_factor") is not None else {}
    loader = build_dataloader(
        dataset, batch_size, workers, rank=get_rank(), world_size=get_world_size(),
        pin_memory=bool(settings.get("pin_memory", True)) and device.type == "cuda",
        persistent_workers=bool(settings.get("persistent_workers", True)), **options, **extra,
    )
    loader.worker_note, loader.loading_cost = note, cost
    return DeviceLoader(loader, device, normalizer)
