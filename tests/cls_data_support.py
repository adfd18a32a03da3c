"""Helpers for the cls data tests: tiny image trees and a synthetic CIFAR release."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

NORM_RGB = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def write_image(path: Path, size=(6, 5), color=(200, 30, 10), mode="RGB") -> Path:
    """A solid-colour image of ``size`` (w, h) at ``path`` (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fill = color if mode == "RGB" else color[0]
    Image.new(mode, size, fill).save(path)
    return path


def write_tree(root: Path, layout: dict[str, int], suffix: str = ".png", size=(6, 5)) -> Path:
    """``root/<class>/img<i><suffix>`` with ``layout[class]`` images each (colour encodes class index)."""
    for index, (name, count) in enumerate(sorted(layout.items())):
        for i in range(count):
            write_image(root / name / f"img{i}{suffix}", size=size, color=(index * 20, 100, 200 - index * 20))
    return root


def cifar_arrays(count: int, num_classes: int, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (count, 3 * 32 * 32), dtype=np.uint8)
    labels = [int(x) for x in rng.integers(0, num_classes, count)]
    return data, labels


def _batch_bytes(batch: dict) -> bytes:
    return pickle.dumps({k.encode(): v for k, v in batch.items()}, protocol=2)


def cifar10_files(per_batch: int = 4) -> dict[str, bytes]:
    """File name -> bytes of a miniature ``cifar-10-batches-py`` release (same pickle layout)."""
    files = {}
    for i in range(1, 6):
        data, labels = cifar_arrays(per_batch, 10, seed=i)
        files[f"data_batch_{i}"] = _batch_bytes({"data": data, "labels": labels, "batch_label": f"batch {i}"})
    data, labels = cifar_arrays(per_batch, 10, seed=9)
    files["test_batch"] = _batch_bytes({"data": data, "labels": labels})
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    files["batches.meta"] = _batch_bytes({"label_names": names, "num_vis": 3072})
    return files


def cifar100_files(per_split: int = 6) -> dict[str, bytes]:
    files = {}
    for split, seed in (("train", 1), ("test", 2)):
        data, labels = cifar_arrays(per_split, 100, seed=seed)
        files[split] = _batch_bytes({"data": data, "fine_labels": labels, "coarse_labels": [0] * per_split})
    files["meta"] = _batch_bytes({"fine_label_names": [f"class{i}" for i in range(100)], "coarse_label_names": []})
    return files


def write_cifar_folder(prefix: Path, folder: str, files: dict[str, bytes]) -> Path:
    (prefix / folder).mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (prefix / folder / name).write_bytes(data)
    return prefix


def write_cifar_archive(prefix: Path, archive: str, folder: str, files: dict[str, bytes]) -> Path:
    prefix.mkdir(parents=True, exist_ok=True)
    with tarfile.open(prefix / archive, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return prefix
