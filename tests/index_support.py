"""Small model indexes written by tests (a private zoo in MINIM_INDEX_PATH)."""

from __future__ import annotations

import json
from pathlib import Path


def entry(name: str, **overrides) -> dict:
    """A valid index entry named ``name``; keyword arguments replace fields."""
    data = {
        "name": name,
        "aliases": [],
        "collection": "TinyNet",
        "config": f"configs/{name}.py",
        "weights": {"url": f"http://127.0.0.1:9/{name}-0123abcd.pth", "sha256": "0123abcd", "size": None,
                    "format": "minim"},
        "metadata": {"dataset": "Tiny-10", "top1": 50.0, "top5": 90.0, "params_m": 1.0, "flops_g": 0.1,
                     "input_size": 32},
        "source": "tests",
    }
    data.update(overrides)
    return data


def write_index(folder: Path, entries: list[dict], name: str = "zoo.json", configs: bool = True,
                codebase: str = "cls") -> Path:
    """Write ``folder/name`` with ``entries`` (and a small config file per entry)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps({"codebase": codebase, "models": entries}, indent=2))
    if configs:
        for item in entries:
            config = folder / item["config"]
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(
                "num_classes = 10\n"
                "model = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18),\n"
                "             head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=512))\n"
            )
    return path
