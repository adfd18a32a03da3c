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

- :class:`RepeatAugSampler` (training, mmcls's top-level ``sampler = dict(type='RepeatAugSampler')``):
  DeiT's repeated augmentation on the same footing: each index of the epoch's permutation
  ``num_repeats`` times in a row, so that its copies go to different ranks, each with its own seed.

mmcls's ``sampler_cfg`` and top-level ``sampler`` are checked by
:func:`minim.cls.loader_settings.sampler_options`; other sampler types are refused.
"""

from __future__ import annotations

import math
import random
from typing import Iterator, Sized

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler, Sampler

from minim.errors import BuildError, ConfigError

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


class RepeatAugSampler(EpochSampler):
    """mmcls's ``RepeatAugSampler``: the epoch's permutation with each index ``num_repeats`` times in a row,
    padded and dealt to the ranks as ``DistributedSampler`` deals (so the copies of an image go to different
    ranks), each rank reading its first ``selected`` samples: ``len // selected_round * selected_round /
    selected_ratio`` (``selected_ratio`` 0: the world size; ``selected_round`` 0: ``ceil(len / selected_ratio)``).
    Every copy has its own augmentation seed; ``set_start`` resumes mid-epoch."""

    def __init__(self, size: int, shuffle: bool = True, seed: int = 0, rank: int | None = None,
                 world_size: int | None = None, num_repeats: int = 3, selected_round: int = 256,
                 selected_ratio: int = 0):
        super().__init__(size, shuffle=shuffle, seed=seed, rank=rank, world_size=world_size)
        if not isinstance(num_repeats, int) or num_repeats < 1:
            raise ConfigError(f"sampler: RepeatAugSampler num_repeats must be an int >= 1, got {num_repeats!r}")
        self.num_repeats = num_repeats
        self.per_rank = math.ceil(size * num_repeats / self.world_size)
        ratio = selected_ratio or self.world_size
        self.selected = (int(size // selected_round * selected_round / ratio) if selected_round
                         else math.ceil(size / ratio))
        if self.selected == 0:
            raise ConfigError(f"sampler: RepeatAugSampler selects no sample per epoch: the dataset has {size} images, "
                              f"fewer than selected_round={selected_round}",
                              hint="set sampler = dict(type='RepeatAugSampler', selected_round=0)")
        self.start = 0

    def set_start(self, position: int) -> None:
        self.start = position

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = torch.Generator()
        generator.manual_seed((self.seed * 1_000_003 + self.epoch * 7919 + 12345) % (2**63))
        order = torch.randperm(self.size, generator=generator) if self.shuffle else torch.arange(self.size)
        total = self.per_rank * self.world_size
        repeated = order.repeat_interleave(self.num_repeats)
        repeated = torch.cat([repeated, repeated[:total - len(repeated)]])
        seeds = torch.randint(0, 2**62, (total,), generator=generator)
        positions = range(self.rank, total, self.world_size)[:self.selected][self.start:]
        for position in positions:
            yield int(seeds[position]), int(repeated[position])

    def __len__(self) -> int:
        return min(self.selected, self.per_rank) - self.start


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


def _dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _random_seed(world_size: int) -> int:
    """A base seed from torch's global RNG (so seeding torch makes it reproducible); 0 when distributed,
    where every rank must draw the same permutation."""
    if world_size > 1:
        return 0
    return int(torch.randint(0, 2**31 - 1, ()).item())
