"""The config of a run: a file path, an index name, a dict or a Config, read into a :class:`minim.config.Config`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping, Sequence

from minim.config import Config, load_config
from minim.errors import ConfigError
from minim.index import load_index
from minim.index.configs import resolve_config_path
from minim.net.download import fetch_cached
from minim.suggest import close_matches


def load_cls_config(config: Any, options: Mapping[str, Any] | Sequence[str] | None = None):
    """(cfg, index entry or None) for a file path, an index name/alias, a dict or a Config.

    ``options``: a dict for ``merge_from_dict`` or ``KEY=VALUE`` strings (``--cfg-options``).
    The caller's Config/dict is never modified.
    """
    entry = None
    if isinstance(config, Config):
        cfg = Config.from_dict(copy.deepcopy(config.to_dict()), filename=getattr(config, "filename", None))
    elif isinstance(config, Mapping):
        cfg = Config.from_dict(copy.deepcopy(dict(config)))
    elif isinstance(config, (str, Path)):
        path = resolve_config_path("cls", config)
        if not Path(config).expanduser().is_file():
            entry = load_index("cls").resolve(str(config))
        cfg = load_config(path)
    else:
        raise ConfigError(f"config must be a file path, an index name, a dict or a Config, got {type(config).__name__}")
    cfg.warnings.extend(w for w in misspelt_engine_keys(cfg) if w not in cfg.warnings)  # options warn on their own
    if options:
        if isinstance(options, Mapping):
            cfg.merge_from_dict(dict(options))
        else:
            cfg.merge_from_options(list(options))
    return cfg, entry


#: the top-level config keys the cls engine reads (mmcls 0.x's, plus minim's own)
ENGINE_KEYS = (
    "model", "data", "optimizer", "optimizer_config", "lr_config", "momentum_config", "runner", "total_epochs",
    "checkpoint_config", "log_config", "evaluation", "load_from", "resume_from", "workflow", "work_dir",
    "dist_params", "log_level", "gpu_ids", "seed", "deterministic", "device", "fp16", "auto_scale_lr",
    "custom_hooks", "channels_last", "compile", "normalize_on_device", "cpu_retain_freed_memory", "sync_bn",
    "find_unused_parameters", "cudnn_benchmark", "allow_tf32",
)


def misspelt_engine_keys(cfg: Mapping[str, Any]) -> list[str]:
    """Warnings for top-level keys the engine does not read but that are one slip from one it does
    (``load_form``, ``evalution``): such a key has no effect. Other variables of the config are left alone."""
    found = []
    for key in cfg:
        if isinstance(key, str) and key not in ENGINE_KEYS:
            meant = close_matches(key, ENGINE_KEYS, n=1, cutoff=0.8)
            if meant:
                found.append(f"config key {key!r} is not one minim reads (did you mean {meant[0]!r}?); "
                             "it has no effect")
    return found


def config_stem(cfg) -> str:
    """The config file's name without suffix, ``config`` for one built in Python (names the default work
    dir and the copy a run writes there)."""
    filename = getattr(cfg, "filename", None)
    return Path(filename).stem if filename else "config"


def resolve_work_dir(cli_work_dir: str | None, cfg, stem: str) -> Path:
    """``--work-dir`` > config ``work_dir`` > ``work_dirs/<config stem>``."""
    if cli_work_dir:
        return Path(cli_work_dir).expanduser()
    if cfg.get("work_dir"):
        return Path(cfg.work_dir).expanduser()
    return Path("work_dirs") / stem


def weights_path(checkpoint: str | None, entry=None) -> str | None:
    """A local file for ``checkpoint`` (http(s) URLs fetched through the shared cache; other schemes such as
    ``torchvision://`` are left to ``load_checkpoint``), or the index entry's weights when ``checkpoint`` is None."""
    if checkpoint is None:
        if entry is None or entry.weights is None:
            return None
        return str(fetch_cached(entry.weights.url, entry.weights.sha256, entry.weights.size))
    text = str(checkpoint)
    if text.startswith(("http://", "https://")):
        return str(fetch_cached(text))
    if "://" in text:  # torchvision://resnet50 (and schemes load_checkpoint refuses by name); Path would eat a '/'
        return text
    return str(Path(text).expanduser())
