#!/usr/bin/env python
"""Print mmcls configs as ``mim download`` writes them, flattened by mmcv, as tagged JSON.

Runs under a Python that has mmcls 0.x and mmcv 1.x (the oracle venv of scripts/check_mmcls_parity.py);
it imports nothing from minim. For each config (a path relative to mmcls's ``.mim`` folder) it loads
the file with mmcv's ``Config.fromfile`` (every ``_base_`` merged), dumps it with ``Config.dump`` as mim
does, loads that dump again and prints ``{config: values}`` as one JSON object on stdout; tuples are
written as ``{"__tuple__": [...]}`` so they stay distinct from lists.

Usage: ``python scripts/mmcls_flatten.py CONFIG [CONFIG ...]`` (``--all`` for every config the model
index names).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def tag(value):
    """JSON-safe ``value`` with tuples tagged."""
    if isinstance(value, dict):
        return {str(k): tag(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [tag(v) for v in value]}
    if isinstance(value, list):
        return [tag(v) for v in value]
    return value


def flatten(mim_dir: str, config: str) -> dict:
    """What mim writes for ``config``, read back as plain values."""
    from mmcv import Config

    cfg = Config.fromfile(os.path.join(mim_dir, config))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, os.path.basename(config))
        cfg.dump(path)
        return tag(Config.fromfile(path)._cfg_dict.to_dict())


def index_configs(mim_dir: str) -> list[str]:
    """Every config the model index's metafiles name."""
    import yaml

    with open(os.path.join(mim_dir, "model-index.yml")) as f:
        imports = yaml.safe_load(f)["Import"]
    configs = []
    for meta in imports:
        with open(os.path.join(mim_dir, meta)) as f:
            configs += [m["Config"] for m in yaml.safe_load(f).get("Models") or [] if m.get("Config")]
    return list(dict.fromkeys(configs))


def main(argv: list[str]) -> int:
    import mmcls

    mim_dir = os.path.join(os.path.dirname(mmcls.__file__), ".mim")
    configs = index_configs(mim_dir) if argv == ["--all"] else argv
    out = {}
    for config in configs:
        try:
            out[config] = flatten(mim_dir, config)
        except Exception as exc:  # one bad config must not hide the others
            out[config] = {"__error__": f"{type(exc).__name__}: {exc}"}
    json.dump({"mim_dir": mim_dir, "configs": out}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
