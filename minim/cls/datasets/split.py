"""A declared split of one class-folder tree: ``CustomDataset(..., split=dict(val=0.2, seed=0))``.

``split`` keys: the held-out fractions ``val`` (and optionally ``test``), ``seed`` (default 0),
``part`` (which part this dataset is: ``'train'``, ``'val'`` or ``'test'``; default ``'train'``, or
``'val'`` for a dataset built with ``test_mode=True`` as ``data.val``/``data.test`` are) and ``file``
(a ``split.json`` to read the parts from). Each class's images are shuffled with
``numpy.random.default_rng(seed)`` (classes in label order) and ``round(fraction x images)`` of them
go to each held-out part: stratified, and the same on every run, process and worker for the same
files. Training writes the parts to ``<work_dir>/split.json`` and points the config copy's ``split.file``
at it, so ``minim test`` with that config evaluates exactly those images.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from minim.cls.datasets.wrappers import inner_datasets
from minim.errors import ConfigError, DataError
from minim.suggest import did_you_mean

SPLIT_FILE = "split.json"
HELD_OUT = ("val", "test")
KEYS = HELD_OUT + ("seed", "part", "file")
FORMAT_VERSION = 1


def stratified_split(labels: Sequence[int], fractions: Mapping[str, float], seed: int = 0) -> dict[str, list[int]]:
    """``{'train': indices, <part>: indices, ...}`` (sorted): per class, a seeded shuffle, then
    ``round(fraction x class size)`` to each part of ``fractions`` in turn, the rest to train."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], **{name: [] for name in fractions}}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for name, fraction in fractions.items():
            count = int(round(fraction * len(members)))
            parts[name].extend(members[start:start + count].tolist())
            start += count
        parts["train"].extend(members[start:].tolist())
    return {name: sorted(indices) for name, indices in parts.items()}


class SplitSpec:
    """A checked ``split`` dict (see the module doc); errors name the key at fault."""

    def __init__(self, split: Any, test_mode: bool):
        if not isinstance(split, Mapping):
            raise ConfigError(f"split must be a dict such as dict(val=0.2, seed=0), got {split!r}")
        for key in split:
            if key not in KEYS:
                raise ConfigError(f"split has unknown key {key!r}; known: {', '.join(KEYS)}",
                                  hint=did_you_mean(str(key), KEYS))
        self.fractions = {name: _fraction(name, split[name]) for name in HELD_OUT if split.get(name) is not None}
        if not self.fractions:
            raise ConfigError("split needs the fraction to hold out, e.g. split=dict(val=0.2, seed=0)")
        if sum(self.fractions.values()) >= 1:
            raise ConfigError(f"split fractions {self.fractions} leave no training images (their sum must be < 1)")
        self.seed = split.get("seed", 0)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"split.seed must be an int, got {self.seed!r}")
        names = ["train", *self.fractions]
        self.part = split.get("part") or (next(iter(self.fractions)) if test_mode else "train")
        if self.part not in names:
            raise ConfigError(f"split.part={self.part!r} is not a part of this split; choose from {', '.join(names)}")
        self.file = split.get("file")

    def describe(self) -> str:
        held = ", ".join(f"{name} {fraction:g}" for name, fraction in self.fractions.items())
        return f"split {held}, seed {self.seed}"


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"split.{name} must be a fraction between 0 and 1 such as 0.2, got {value!r}")
    return float(value)


def split_parts(filenames: Sequence[str], labels: Sequence[int], spec: SplitSpec) -> dict[str, list[str]]:
    """The file names of each part: read from ``spec.file`` when it exists, else derived."""
    if spec.file and os.path.isfile(spec.file):
        return read_split_file(spec.file, spec)
    parts = stratified_split(labels, spec.fractions, spec.seed)
    return {name: [filenames[i] for i in indices] for name, indices in parts.items()}


def read_split_file(path: str, spec: SplitSpec) -> dict[str, list[str]]:
    """The parts of a ``split.json``; it must hold the part ``spec`` asks for."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        parts = {str(name): [str(f) for f in files] for name, files in record["parts"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"split.file {path} is not a readable split.json: {exc}",
                        hint="remove split.file to derive the split from the seed again") from None
    if spec.part not in parts:
        raise DataError(f"split.file {path} has no part {spec.part!r} (it has {', '.join(parts)})")
    return parts


def select_part(infos: list[dict], parts: Mapping[str, list[str]], spec: SplitSpec, source: str) -> list[dict]:
    """The infos of ``spec.part``, in the tree's order; a listed image that is gone is a :class:`DataError`."""
    by_name = {info["img_info"]["filename"]: info for info in infos}
    missing = [name for name in parts[spec.part] if name not in by_name]
    if missing:
        raise DataError(f"{len(missing)} image(s) of the {spec.part} part in {spec.file} are not in {source} "
                        f"(first: {missing[0]})", hint="restore them, or remove split.file to split the tree anew")
    wanted = set(parts[spec.part])
    return [info for info in infos if info["img_info"]["filename"] in wanted]


def _split_datasets(dataset: Any) -> Iterator[Any]:
    """Datasets with a declared split at or below ``dataset`` (through wrappers)."""
    if getattr(dataset, "split_record", None) is not None:
        yield dataset
    for part in inner_datasets(dataset):
        yield from _split_datasets(part)


def _split_configs(node: Any) -> Iterator[Mapping]:
    """The ``split`` dicts of a ``data`` config (its entries, wrappers and lists included)."""
    if isinstance(node, Mapping):
        if isinstance(node.get("split"), Mapping):
            yield node["split"]
        for value in node.values():
            if isinstance(value, (Mapping, list, tuple)):
                yield from _split_configs(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _split_configs(value)


def record_split(cfg: Any, work_dir: Path, datasets: Sequence[Any], write: bool = True) -> Path | None:
    """Write the first declared split among ``datasets`` to ``work_dir/split.json`` (when ``write``) and
    point every ``split`` of ``cfg.data`` at it (``split.file``), so the config copy reproduces the parts."""
    found = next((d for dataset in datasets for d in _split_datasets(dataset)), None)
    if found is None:
        return None
    path = Path(work_dir) / SPLIT_FILE
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(found.split_record, indent=1) + "\n", encoding="utf-8")
    for split in _split_configs(cfg.get("data") or {}):
        split["file"] = str(path.absolute())
    return path


def split_record(data_prefix: str, spec: SplitSpec, classes: Sequence[str], parts: Mapping[str, list[str]]) -> dict:
    """What ``split.json`` holds."""
    return {"format": FORMAT_VERSION, "data_prefix": data_prefix, "seed": spec.seed, "fractions": spec.fractions,
            "classes": list(classes), "counts": {name: len(files) for name, files in parts.items()},
            "parts": {name: list(files) for name, files in parts.items()}}
