"""Data loaders of the engine: reproducible training order and augmentation, per-split settings.

Training batches come from :class:`EpochSampler`, which yields ``(sample_seed, index)`` pairs
computed from ``(seed, epoch)`` only; :class:`SeededDataset` seeds python/numpy/torch with
``sample_seed`` before running the pipeline on ``index``. So the data a run sees does not
depend on the number of workers, on persistent workers, or on where the run was interrupted
and resumed (the sampler can start mid-epoch).

Loader settings follow mmcls 0.x: keys of ``data`` other than the splits
(``samples_per_gpu``, ``workers_per_gpu``, ``persistent_workers``, ``pin_memory``, ...) are
shared; ``data.train_dataloader`` / ``val_dataloader`` / ``test_dataloader`` override them.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterator, Mapping

import torch
from torch.utils.data import DataLoader, Dataset, Sampler  # noqa: F401

from minim.cls.engine.dist import get_rank, get_world_size
from minim.cls.engine.seed import seed_everything_for_sample
from minim.errors import ConfigError
from minim.suggest import did_you_mean

SPLITS = ("train", "val", "test")
LOADER_KEYS = (
    "samples_per_gpu",
    "workers_per_gpu",
    "shuffle",
    "drop_last",
    "persistent_workers",
    "pin_memory",
    "prefetch_factor",
    "round_up",
    "sampler_cfg",
)


class EpochSampler(Sampler):
    """Indices (shuffled per epoch when ``shuffle``) paired with per-sample seeds, sharded by rank."""

    def __init__(self, size: int, shuffle: bool = True, seed: int = 0, rank: int | None = None, world_size: int | None = None):
        self.size = size
        self.shuffle = shuffle
        self.seed = int(seed)
        self.rank = get_rank() if rank is None else rank
        self.world_size = get_world_size() if world_size is None else world_size
        self.per_rank = math.ceil(size / self.world_size)
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the order and seeds of ``epoch`` (called before each epoch)."""
        self.epoch = epoch

    def set_start(self, position: int) -> None:
        """Skip the first ``position`` samples of this rank's share (resume mid-epoch)."""
        self.start = position

    def _epoch_generator(self) -> torch.Generator:
        generator = torch.Generator()
        generator.manual_seed((self.seed * 1_000_003 + self.epoch * 7919 + 12345) % (2**63))
        return generator

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = self._epoch_generator()
        order = torch.randperm(self.size, generator=generator) if self.shuffle else torch.arange(self.size)
        seeds = torch.randint(0, 2**62, (self.size,), generator=generator)
        total = self.per_rank * self.world_size
        if total > self.size:  # pad so every rank gets the same count (DistributedSampler's rule)
            order = torch.cat([order, order[: total - self.size]])
            seeds = torch.cat([seeds, seeds[: total - self.size]])
        mine = slice(self.rank, total, self.world_size)
        pairs = zip(seeds[mine].tolist(), order[mine].tolist())
        for position, pair in enumerate(pairs):
            if position >= self.start:
                yield pair

    def __len__(self) -> int:
        return self.per_rank - self.start


class SeededDataset(Dataset):
    """Wraps a dataset so that item ``(seed, index)`` runs the pipeline with all generators seeded."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        seed, index = key
        seed_everything_for_sample(seed)
        return self.dataset[index]


def loader_settings(data_cfg: Mapping[str, Any], split: str) -> dict[str, Any]:
    """The merged dataloader settings of ``split`` (mmcls 0.x precedence); unknown keys are errors."""
    shared = {k: v for k, v in data_cfg.items() if k not in SPLITS and not k.endswith("_dataloader")}
    specific = dict(data_cfg.get(f"{split}_dataloader") or {})
    defaults: dict[str, Any] = {"workers_per_gpu": 2, "persistent_workers": True, "pin_memory": True}
    defaults.update({"shuffle": True, "drop_last": False} if split == "train" else {"shuffle": False, "drop_last": False})
    settings = {**defaults, **shared}
    if split != "train":
        settings.update(shuffle=False, drop_last=False)
    settings.update(specific)
    for key in settings:
        if key not in LOADER_KEYS:
            where = f"data.{split}_dataloader" if key in specific else "data"
            raise ConfigError(
                f"{where} has unknown dataloader key {key!r}; known: {', '.join(LOADER_KEYS)}",
                hint=did_you_mean(key, LOADER_KEYS),
            )
    if "samples_per_gpu" not in settings:
        raise ConfigError(f"data.samples_per_gpu is missing (the batch size of {split})")
    _check_unsupported_loader_keys(settings, split)
    return settings


def _check_unsupported_loader_keys(settings: Mapping[str, Any], split: str) -> None:
    """mmcls's ``round_up`` and ``sampler_cfg``: honoured where minim does the same, else an error (never ignored)."""
    if settings.get("round_up", True) is not True:
        raise ConfigError(f"data: round_up={settings['round_up']!r} ({split}) is not supported: minim always pads the "
                          "last shares so every process gets as many samples (unequal shares stall distributed "
                          "training)", hint="remove round_up (True is mmcls's default)")
    if settings.get("sampler_cfg") is not None:
        raise ConfigError(f"data: sampler_cfg={settings['sampler_cfg']!r} ({split}) is not supported: minim samples "
                          "with its own seeded, resumable epoch sampler", hint="remove sampler_cfg")


def effective_workers(requested: int) -> int:
    """Worker processes to use: the config's number, but never more than the CPUs can feed."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(int(requested), cpus))


def _collate():
    from minim.cls.datasets import collate

    return collate


def _loader_class():
    from minim.cls.datasets import DataLoader as CleanErrorsLoader  # worker errors read as one line

    return CleanErrorsLoader


def build_train_loader(dataset: Dataset, settings: Mapping[str, Any], seed: int, device: torch.device) -> DataLoader:
    """The training loader: :class:`EpochSampler` + :class:`SeededDataset` (reproducible, resumable)."""
    workers = effective_workers(settings.get("workers_per_gpu", 0))
    sampler = EpochSampler(len(dataset), shuffle=bool(settings.get("shuffle", True)), seed=seed)
    return _loader(SeededDataset(dataset), settings, sampler, workers, device, drop_last=bool(settings.get("drop_last")))


def build_eval_loader(dataset: Dataset, settings: Mapping[str, Any], device: torch.device,
                      distributed: bool | None = None) -> DataLoader:
    """A validation/test loader: dataset order, no seeding.

    Distributed (by default whenever a process group of several ranks is up) each rank reads
    every ``world_size``-th batch of a single process's, without padding (a
    ``ShardedSampler(pad=False, block=batch size)``), and
    :func:`minim.cls.engine.evaluation.collect_scores` gathers them back into dataset order, so the
    scores and metrics equal a single process's, bit for bit, whatever the dataset size.
    """
    workers = effective_workers(settings.get("workers_per_gpu", 0))
    world_size = get_world_size()
    if distributed is None:
        distributed = world_size > 1
    if distributed and world_size > 1:
        from minim.cls.datasets.samplers import ShardedSampler

        sampler = ShardedSampler(dataset, shuffle=False, seed=0, rank=get_rank(), world_size=world_size, pad=False,
                                 block=int(settings["samples_per_gpu"]))
    else:
        sampler = torch.utils.data.SequentialSampler(dataset)
    return _loader(dataset, settings, sampler, workers, device, drop_last=False)


def _loader(dataset, settings, sampler, workers, device, drop_last) -> DataLoader:
    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs["persistent_workers"] = bool(settings.get("persistent_workers", True))
        if settings.get("prefetch_factor") is not None:
            kwargs["prefetch_factor"] = settings["prefetch_factor"]
    return _loader_class()(
        dataset,
        batch_size=int(settings["samples_per_gpu"]),
        sampler=sampler,
        num_workers=workers,
        collate_fn=_collate(),
        pin_memory=bool(settings.get("pin_memory", True)) and device.type == "cuda",
        drop_last=drop_last,
        # a private generator: creating an iterator (worker base seeds) never draws from the global
        # RNG, which belongs to the model (dropout) and is saved/restored on resume
        generator=torch.Generator().manual_seed(0),
        **kwargs,
    )
