"""The dataloader settings of a split, as mmcls 0.x merges them, and the samplers a config may name.

Torch-free (the plan checks them before torch loads; the data loaders are built from them). A leaf module: it
imports nothing of the engine.

Precedence (mmcls 0.x): the top-level ``sampler`` (training only), then ``data``'s shared keys
(``samples_per_gpu``, ``workers_per_gpu``, ``round_up``, ``sampler_cfg``, ...), then
``data.<split>_dataloader``. Unknown keys and sampler types are errors, never ignored.
"""

from __future__ import annotations

from typing import Any, Mapping

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
#: the samplers minim implements, with the keys each takes (``shuffle`` is the loader's, as in mmcls)
SAMPLER_KEYS = {
    "DistributedSampler": ("round_up", "seed", "shuffle"),
    "RepeatAugSampler": ("num_repeats", "selected_round", "selected_ratio", "seed", "shuffle"),
}


def loader_settings(data_cfg: Mapping[str, Any], split: str, sampler: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The merged dataloader settings of ``split``; ``sampler`` is the config's top-level ``sampler`` (mmcls
    gives it to the training loader only, below ``data.sampler_cfg``). Unknown keys are errors."""
    shared = {k: v for k, v in data_cfg.items() if k not in SPLITS and not k.endswith("_dataloader")}
    specific = dict(data_cfg.get(f"{split}_dataloader") or {})
    defaults: dict[str, Any] = {"workers_per_gpu": 2, "persistent_workers": True, "pin_memory": True}
    defaults.update({"shuffle": True, "drop_last": False} if split == "train" else {"shuffle": False, "drop_last": False})
    if split == "train" and sampler:
        defaults["sampler_cfg"] = sampler
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
    if not isinstance(settings.get("round_up", True), bool):
        raise ConfigError(f"data: round_up must be True or False, got {settings['round_up']!r} ({split})")
    where = "sampler" if sampler and settings.get("sampler_cfg") is sampler else f"data: sampler_cfg ({split})"
    sampler_options(settings.get("sampler_cfg"), where=where)
    return settings


def sampler_options(sampler_cfg: Mapping[str, Any] | None, where: str = "sampler_cfg") -> dict[str, Any]:
    """The options of mmcls's ``sampler_cfg`` / top-level ``sampler`` (empty for None), with ``type`` always set
    when given; a sampler type or key minim does not implement is a :class:`ConfigError`."""
    if not sampler_cfg:
        return {}
    if not isinstance(sampler_cfg, Mapping):
        raise ConfigError(f"{where} must be a dict such as dict(type='DistributedSampler'), got {sampler_cfg!r}")
    kind = sampler_cfg.get("type", "DistributedSampler")
    if kind not in SAMPLER_KEYS:
        raise ConfigError(f"{where}: sampler type {kind!r} is not supported; minim has {', '.join(SAMPLER_KEYS)}",
                          hint=did_you_mean(kind, SAMPLER_KEYS) or "remove it: training then samples as "
                          "DistributedSampler does (seeded per-epoch permutation, equal shares)")
    unknown = sorted(set(sampler_cfg) - {"type", *SAMPLER_KEYS[kind]})
    if unknown:
        raise ConfigError(f"{where} has unknown key {unknown[0]!r}; {kind} takes {', '.join(SAMPLER_KEYS[kind])}",
                          hint=did_you_mean(unknown[0], SAMPLER_KEYS[kind]))
    return {"type": kind, **{key: value for key, value in sampler_cfg.items() if key not in ("type", "shuffle")}}
