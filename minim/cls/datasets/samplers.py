"""``ShardedSampler``: one sampler for single-process and distributed loading.

It draws the same indices as ``torch.utils.data.DistributedSampler`` (a permutation seeded with
``seed + epoch``, padded by repeating the first indices, then every ``world_size``-th index from
``rank``) and has the same attributes (``set_epoch``, ``num_replicas``, ``rank``, ``num_samples``,
``total_size``...). ``pad=False`` gives each rank every ``world_size``-th block of ``block`` consecutive
indices, without duplicates (uneven shard sizes): with ``block`` = the batch size each rank's batches are
exactly batches of a single process, so distributed evaluation equals single-process evaluation bit for bit.
"""

from __future__ import annotations

import math
from typing import Iterator, Sized

import torch
from torch.utils.data import Sampler

from minim.errors import BuildError


class ShardedSampler(Sampler[int]):
    """Shuffled (per-epoch seed) or sequential indices of one shard of a dataset."""

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
        self.dataset_size = len(dataset)
        self.shuffle = shuffle
        self.seed = int(seed) if seed is not None else _random_seed(world_size)
        self.rank = rank
        self.num_replicas = world_size
        self.pad = pad
        self.block = block
        self.drop_last = False
        self.epoch = 0
        if pad:
            self.num_samples = math.ceil(self.dataset_size / world_size)
            self.total_size = self.num_samples * world_size
        else:
            starts = range(rank * block, self.dataset_size, world_size * block)
            self.num_samples = sum(min(block, self.dataset_size - start) for start in starts)
            self.total_size = self.dataset_size

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` (call before each epoch when shuffling)."""
        self.epoch = epoch

    def indices(self) -> list[int]:
        """This shard's indices for the current epoch."""
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.dataset_size, generator=generator).tolist()
        else:
            order = list(range(self.dataset_size))
        if not self.pad:
            step = self.num_replicas * self.block
            return [index for start in range(self.rank * self.block, len(order), step)
                    for index in order[start:start + self.block]]
        extra = self.total_size - len(order)
        if extra > 0 and order:
            order += (order * math.ceil(extra / len(order)))[:extra]
        return order[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices())

    def __len__(self) -> int:
        return self.num_samples


def _random_seed(world_size: int) -> int:
    """A base seed from torch's global RNG (so seeding torch makes it reproducible); 0 when distributed,
    where every rank must draw the same permutation."""
    if world_size > 1:
        return 0
    return int(torch.randint(0, 2**31 - 1, ()).item())
