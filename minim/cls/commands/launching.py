"""What the launcher asks the codebase before it starts distributed workers."""

from __future__ import annotations

from typing import Sequence


def launch_preflight(config, cfg_options: Sequence[str] = (), command: str = "train") -> str:
    """Before starting workers: read the config once (errors show once, not per process); the job name."""
    from minim.cls.apis.config_source import config_stem, load_cls_config

    cfg, _entry = load_cls_config(config, list(cfg_options))
    return f"{config_stem(cfg)}_{command}"
