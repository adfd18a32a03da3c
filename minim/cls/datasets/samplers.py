"""The engine's samplers, one family built on ``torch.utils.data.DistributedSampler``.

- :class:`ShardedSampler` *is* torch's ``DistributedSampler`` (a permutation seeded with
  ``seed + epoch``, padded by repeating the first indices, every ``world_size``-th index from
  ``rank``), plus what the engine needs on top: mid-epoch resume (``set_start``) and unpadded
  shards (``pad=False``: mmcls's ``round_up=False``; with ``block`` = the batch size each rank
  reads every ``world_size``-th batch of a single process, so distributed evaluation equals
  single-process evaluation bit for bit).
- :class:`EpochSampler` (training) yields ``(sample_seed, index)`` pairs computed from
  ``(seed, epoch)`` only: the positions of the epoch's permutation come from a
  :class:`ShardedSampler` (torch's padding and sharding), and each position carries its own
  augmentation seed, which :class:`SeededDataset` gives python/numpy/torch before running the
  pipeline. So the data a run sees does not depend on the number of workers or on where it was
  interrupted and resumed.

mmcls's ``sampler_cfg`` is read by :func:`sampler_options`: ``DistributedSampler`` (the default
order) with its ``round_up`` and ``seed``; other sampler types are refused.
"""

from __future__ import annotations

import random
from typing import Any, Iterator, Mapping, Sized

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from minim.errors import BuildError, ConfigError

#: the keys of mmcls's ``sampler_cfg`` minim honours (``shuffle`` is the loader's, as in mmcls)
SAMPLER_CFG_KEYS = ("type", "round_up", "seed", "shuffle")


class ShardedSampler(DistributedSampler):
    """torch's ``DistributedSampler`` (also for one process) with ``set_start`` and unpadded ``pad=False`` shards."""

    def __init__(
        self,
        dataset: Sized,
        *,
        shuffle: bool = True,
        seed: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
        block: int = 1,
    ):
        if world_size < 1 or not 0 <= rank < world_size:
            raise BuildError(f"invalid rank {rank} for world_size {world_size}")
        if block < 1 or (pad and block != 1):
            raise BuildError(f"block must be >= 1 (and 1 with padding), got {block}")
        seed = int(seed) if seed is not None else _random_seed(world_size)
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed)
        self.dataset_size = len(dataset)
        self.pad = pad
        self.block = block
        self.start = 0
        if not pad:
            starts = range(rank * block, self.dataset_size, world_size * block)
            self.num_samples = sum(min(block, self.dataset_size - start) for start in starts)
            self.total_size = self.dataset_size

    def set_start(self, position: int) -> None:
        """Skip the first ``position`` indices of this shard (resume mid-epoch)."""
        self.start = position

    def indices(self) -> list[int]:
        """This shard's indices for the current epoch (from the ``set_start`` position)."""
        if self.pad:
            return list(super().__iter__())[self.start:]
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.dataset_size, generator=generator).tolist()
        else:
            order = list(range(self.dataset_size))
        step = self.num_replicas * self.block
        mine = [index for start in range(self.rank * self.block, len(order), step)
                for index in order[start:start + self.block]]
        return mine[self.start:]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices())

    def __len__(self) -> int:
        return self.num_samples - self.start


class EpochSampler(Sampler):
    """Training order: indices (shuffled per epoch when ``shuffle``) paired with per-sample seeds, sharded by rank.

    ``pad=False`` (mmcls's ``round_up=False``) gives uneven shares instead of repeating samples.
    """

    def __init__(self, size: int, shuffle: bool = True, seed: int = 0, rank: int | None = None,
                 world_size: int | None = None, pad: bool = True):
        default_rank, default_world_size = _dist_info()
        self.size = size
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self.positions = ShardedSampler(range(size), shuffle=False, seed=0, pad=pad,
                                        rank=default_rank if rank is None else rank,
                                        world_size=default_world_size if world_size is None else world_size)
        self.rank, self.world_size = self.positions.rank, self.positions.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Select the order and seeds of ``epoch`` (called before each epoch)."""
        self.epoch = epoch

    def set_start(self, position: int) -> None:
        """Skip the first ``position`` samples of this rank's share (resume mid-epoch)."""
        self.positions.set_start(position)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = torch.Generator()
        generator.manual_seed((self.seed * 1_000_003 + self.epoch * 7919 + 12345) % (2**63))
        order = torch.randperm(self.size, generator=generator) if self.shuffle else torch.arange(self.size)
        seeds = torch.randint(0, 2**62, (self.size,), generator=generator)
        for position in self.positions:
            yield int(seeds[position]), int(order[position])

    def __len__(self) -> int:
        return len(self.positions)


class SeededDataset(Dataset):
    """Wraps a dataset so that item ``(seed, index)`` runs the pipeline with all generators seeded."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        seed, index = key
        seed_sample(seed)
        return self.dataset[index]


def seed_sample(seed: int) -> None:
    """Seed the CPU generators a data pipeline may use (called once per training sample, so cheap:
    ``torch.manual_seed`` would also queue accelerator seeding, recording a stack trace each time)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.default_generator.manual_seed(seed)


def sampler_options(sampler_cfg: Mapping[str, Any] | None, where: str = "sampler_cfg") -> dict[str, Any]:
    """``{'round_up': ..., 'seed': ...}`` set by mmcls's ``sampler_cfg`` (empty for None); a sampler type or key
    minim does not implement is a :class:`ConfigError` (never ignored)."""
    if not sampler_cfg:
        return {}
    if not isinstance(sampler_cfg, Mapping):
        raise ConfigError(f"{where} must be a dict such as dict(type='DistributedSampler'), got {sampler_cfg!r}")
    kind = sampler_cfg.get("type", "DistributedSampler")
    if kind != "DistributedSampler":
        raise ConfigError(f"{where}: sampler type {kind!r} is not supported: minim samples as DistributedSampler "
                          "does (seeded per-epoch permutation, equal shares)",
                          hint="remove it, or use dict(type='DistributedSampler', round_up=...)")
    unknown = sorted(set(sampler_cfg) - set(SAMPLER_CFG_KEYS))
    if unknown:
        raise ConfigError(f"{where} has unknown key {unknown[0]!r}; DistributedSampler takes "
                          f"{', '.join(SAMPLER_CFG_KEYS[1:])}")
    return {key: sampler_cfg[key] for key in ("round_up", "seed") if key in sampler_cfg}


def _dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _random_seed(world_size: int) -> int:
    """A base seed from torch's global RNG (so seeding torch makes it reproducible); 0 when distributed,
    where every rank must draw the same permutation."""
    if world_size > 1:
        return 0
    return int(torch.randint(0, 2**31 - 1, ()).item())
