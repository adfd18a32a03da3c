"""Turn the ``config`` argument of the APIs and commands into a :class:`minim.config.Config`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping, Sequence

from minim.errors import ConfigError


def load_cls_config(config: Any, options: Mapping[str, Any] | Sequence[str] | None = None):
    """(cfg, index entry or None) for a file path, an index name/alias, a dict or a Config.

    ``options``: a dict for ``merge_from_dict`` or ``KEY=VALUE`` strings (``--cfg-options``).
    The caller's Config/dict is never modified.
    """
    from minim.config import Config, load_config

    entry = None
    if isinstance(config, Config):
        cfg = Config.from_dict(copy.deepcopy(config.to_dict()), filename=getattr(config, "filename", None))
    elif isinstance(config, Mapping):
        cfg = Config.from_dict(copy.deepcopy(dict(config)))
    elif isinstance(config, (str, Path)):
        from minim.index.configs import resolve_config_path

        path = resolve_config_path("cls", config)
        if not Path(config).expanduser().is_file():
            from minim.index import load_index

            entry = load_index("cls").resolve(str(config))
        cfg = load_config(path)
    else:
        raise ConfigError(f"config must be a file path, an index name, a dict or a Config, got {type(config).__name__}")
    if options:
        if isinstance(options, Mapping):
            cfg.merge_from_dict(dict(options))
        else:
            cfg.merge_from_options(list(options))
    return cfg, entry


def config_stem(cfg, fallback: str = "config") -> str:
    """The config file's name without suffix (names the default work dir and the dumped copy)."""
    filename = getattr(cfg, "filename", None)
    return Path(filename).stem if filename else fallback


def weights_path(checkpoint: str | None, entry=None) -> str | None:
    """A local file for ``checkpoint`` (http(s) URLs fetched through the shared cache; other schemes such as
    ``torchvision://`` are left to ``load_checkpoint``), or the index entry's weights when ``checkpoint`` is None."""
    if checkpoint is None:
        if entry is None or entry.weights is None:
            return None
        from minim.net.download import fetch_cached

        return str(fetch_cached(entry.weights.url, entry.weights.sha256, entry.weights.size))
    text = str(checkpoint)
    if text.startswith(("http://", "https://")):
        from minim.net.download import fetch_cached

        return str(fetch_cached(text))
    return str(Path(text).expanduser())
