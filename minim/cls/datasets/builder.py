"""``build_dataset``, ``build_dataloader`` and the batch ``collate``."""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader as TorchDataLoader
from torch.utils.data import default_collate

from minim.errors import BuildError, ConfigError, DataError, MinimError
from minim.cls.datasets.registry import DATASETS
from minim.cls.datasets.samplers import EpochSampler, RepeatAugSampler, SeededDataset, ShardedSampler
from minim.cls.datasets.wrappers import WRAPPER_TYPES, ConcatDataset, RepeatDataset, build_wrapper
from minim.cls.loader_settings import sampler_options


def build_dataset(cfg: Any, default_args: Mapping[str, Any] | None = None, *, key: str | None = None) -> Any:
    """A dataset from a config dict; a list of dicts gives a ``ConcatDataset``.

    ``default_args`` fill missing keys (e.g. ``dict(test_mode=True)`` for val/test); ``key`` (such as
    ``'data.train'``) prefixes error messages so they name the config entry at fault.
    """
    try:
        return _build(cfg, dict(default_args or {}))
    except MinimError as exc:
        if key is None:
            raise
        raise type(exc)(f"{key}: {exc.message}", exc.hint) from exc


def _build(cfg: Any, default_args: dict) -> Any:
    if isinstance(cfg, (list, tuple)):
        return ConcatDataset([_build(c, default_args) for c in cfg])
    if not isinstance(cfg, Mapping):
        raise BuildError(f"a dataset config must be a dict with a 'type' key, got {cfg!r}")
    kind = cfg.get("type")
    if kind == "ConcatDataset":
        _only_keys(cfg, {"type", "datasets"})
        return ConcatDataset([_build(c, default_args) for c in cfg.get("datasets", ())])
    if kind == "RepeatDataset":
        _only_keys(cfg, {"type", "dataset", "times"})
        if "dataset" not in cfg or "times" not in cfg:
            raise BuildError("RepeatDataset needs dataset=dict(...) and times=N")
        return RepeatDataset(_build(cfg["dataset"], default_args), cfg["times"])
    if kind in WRAPPER_TYPES:
        return build_wrapper(cfg, default_args, _build)
    return DATASETS.build(cfg, **default_args)


def _only_keys(cfg: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise BuildError(f"{cfg['type']} got unexpected argument(s) {unknown}; it takes: {', '.join(sorted(allowed - {'type'}))}")


def collate(batch: Sequence[Any]) -> dict:
    """Stack samples into ``{'img': N x C x H x W, 'gt_label': N, 'img_metas': [dict, ...], ...}``.

    Samples dropped by the pipeline (None) are skipped. Tensors are stacked with torch's
    ``default_collate`` (which writes straight into shared memory inside worker processes).
    """
    samples = [s for s in batch if s is not None]
    if not samples:
        raise DataError("every sample of a batch was dropped by the pipeline")
    if not isinstance(samples[0], Mapping):
        return default_collate(samples)
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if key == "img_metas" or not isinstance(values[0], (torch.Tensor, np.ndarray, np.number, int, float)):
            out[key] = values
            continue
        shapes = {tuple(np.shape(v)) for v in values}
        if len(shapes) > 1:
            raise DataError(
                f"cannot batch {key!r}: samples have different shapes {sorted(shapes)}",
                hint="add Resize/CenterCrop/RandomResizedCrop to the pipeline so every image has one size",
            )
        out[key] = default_collate(values)
    return out


_ORIGINAL_ERROR = re.compile(r"^(?:[\w.]+\.)?(\w+): (.*)$")


class _CleanErrors:
    """Iterator wrapper turning a MinimError re-raised from a worker back into its one-line message."""

    def __init__(self, iterator: Iterator[Any]):
        self._iterator = iterator

    def __iter__(self) -> "_CleanErrors":
        return self

    def __len__(self) -> int:
        return len(self._iterator)

    def __next__(self) -> Any:
        try:
            return next(self._iterator)
        except MinimError as exc:
            lines = [line for line in exc.message.strip().splitlines() if line.strip()]
            if len(lines) > 1 and exc.message.startswith("Caught "):
                match = _ORIGINAL_ERROR.match(lines[-1])
                if match:
                    raise type(exc)(match.group(2)) from None
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iterator, name)


class DataLoader(TorchDataLoader):
    """torch's DataLoader whose errors from worker processes read as one line (the original message)."""

    def __iter__(self) -> Any:
        return _CleanErrors(super().__iter__())


def _seed_worker(worker_id: int) -> None:
    """Seed numpy in each worker from torch's per-worker seed (torch seeds ``random`` and itself)."""
    np.random.seed(torch.initial_seed() % 2**32)


def build_dataloader(
    dataset: Any,
    samples_per_gpu: int,
    workers_per_gpu: int,
    *,
    shuffle: bool,
    seed: int | None = None,
    drop_last: bool = False,
    dist: bool = False,
    rank: int = 0,
    world_size: int = 1,
    round_up: bool = True,
    sampler_cfg: Mapping[str, Any] | None = None,
    per_sample_seeds: bool = False,
    block: int = 1,
    pin_memory: bool = False,
    persistent_workers: bool = True,
    **kwargs: Any,
) -> DataLoader:
    """A DataLoader over ``dataset``, the one the engine trains and evaluates with (``loader.sampler``).

    The sampler is a :class:`ShardedSampler` (torch's ``DistributedSampler``; call
    ``loader.sampler.set_epoch(epoch)`` before each epoch for a new permutation), or with
    ``per_sample_seeds`` (training) an :class:`EpochSampler` whose per-sample seeds make the
    augmentation independent of the workers and resumable mid-epoch (``set_start``). With
    ``dist=True`` each rank reads its shard; ``round_up`` (mmcls) pads the shards to equal sizes,
    ``round_up=False`` leaves them uneven without repeating samples (``block`` = the batch size gives
    each rank whole batches of a single process, for evaluation). ``sampler_cfg``: mmcls's
    ``dict(type='DistributedSampler', round_up=..., seed=...)`` or ``dict(type='RepeatAugSampler', ...)``
    (training); other sampler types are errors.
    ``seed`` also fixes the workers' base seeds (offset by ``rank``); with it the loader never draws
    from torch's global generator. ``persistent_workers`` applies only with workers. Image caches are
    filled before workers start, so that the workers share them.
    """
    if samples_per_gpu < 1:
        raise BuildError(f"samples_per_gpu must be >= 1, got {samples_per_gpu!r}")
    if workers_per_gpu < 0:
        raise BuildError(f"workers_per_gpu must be >= 0, got {workers_per_gpu!r}")
    if not dist:
        rank, world_size = 0, 1
    options = {"round_up": round_up, "seed": seed, **sampler_options(sampler_cfg)}
    repeat = {k: v for k, v in options.items() if k in ("num_repeats", "selected_round", "selected_ratio")}
    if options.get("type") == "RepeatAugSampler" and not per_sample_seeds:
        raise ConfigError("RepeatAugSampler is a training sampler (it repeats samples): not for evaluation")
    if workers_per_gpu > 0 and hasattr(dataset, "prepare_cache"):
        dataset.prepare_cache()
    if options.get("type") == "RepeatAugSampler":
        sampler = RepeatAugSampler(len(dataset), shuffle=shuffle, seed=options["seed"] or 0, rank=rank,
                                   world_size=world_size, **repeat)
        dataset = SeededDataset(dataset)
    elif per_sample_seeds:
        sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=options["seed"] or 0, rank=rank,
                               world_size=world_size, pad=bool(options["round_up"]))
        dataset = SeededDataset(dataset)
    else:
        sampler = ShardedSampler(dataset, shuffle=shuffle, seed=options["seed"], rank=rank, world_size=world_size,
                                 pad=bool(options["round_up"]), block=block)
    generator = None
    if seed is not None:
        generator = torch.Generator()
        generator.manual_seed(int(seed) + rank)
    if workers_per_gpu == 0:
        kwargs.pop("prefetch_factor", None)
    return DataLoader(
        dataset,
        batch_size=samples_per_gpu,
        sampler=sampler,
        num_workers=workers_per_gpu,
        collate_fn=kwargs.pop("collate_fn", collate),
        pin_memory=pin_memory,
        drop_last=drop_last,
        persistent_workers=bool(persistent_workers) and workers_per_gpu > 0,
        worker_init_fn=kwargs.pop("worker_init_fn", _seed_worker if workers_per_gpu > 0 else None),
        generator=generator,
        **kwargs,
    )
