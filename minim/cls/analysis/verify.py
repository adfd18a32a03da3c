"""Find the images of a config's datasets that cannot be decoded, before a long run trips on them.

Every image file of ``data.train`` / ``data.val`` / ``data.test`` (through ``ConcatDataset`` /
``RepeatDataset`` wrappers) is fully decoded with the engine's own reader; a file shared by several
splits is read once. In-memory datasets (CIFAR) have no files to check.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from minim.cls.datasets import build_dataset
from minim.cls.datasets.pipelines.loading import read_image
from minim.errors import ConfigError, DataError
from minim.suggest import did_you_mean

SPLITS = ("train", "val", "test")


@dataclass
class SplitReport:
    """The outcome for one split: how many files were read and which failed (path, reason)."""

    split: str
    files: list[str] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)
    in_memory: list[str] = field(default_factory=list)  # names of datasets without image files


def config_splits(cfg, splits: Sequence[str] | None = None) -> list[str]:
    """The splits to check: those asked for (each must be in ``cfg.data``), else every split present."""
    data = cfg.get("data") or {}
    present = [s for s in SPLITS if data.get(s) is not None]
    if not splits:
        if not present:
            raise ConfigError("config has no data.train, data.val or data.test")
        return present
    for split in splits:
        if data.get(split) is None:
            raise ConfigError(f"config has no data.{split}; it has: {', '.join('data.' + s for s in present) or 'none'}",
                              hint=did_you_mean(split, present))
    return list(dict.fromkeys(splits))


def _without_cache(cfg: Any) -> Any:
    """A copy of a dataset config with ``cache_images`` off (building must not decode images)."""
    if isinstance(cfg, (list, tuple)):
        return [_without_cache(c) for c in cfg]
    if not isinstance(cfg, Mapping):
        return cfg
    out = {k: v for k, v in cfg.items()}
    if out.get("type") == "ConcatDataset":
        out["datasets"] = [_without_cache(c) for c in out.get("datasets", ())]
    elif out.get("type") == "RepeatDataset":
        out["dataset"] = _without_cache(out.get("dataset"))
    else:
        out["cache_images"] = False  # CustomDataset caches small datasets by default
    return out


def leaf_datasets(dataset: Any) -> Iterable[Any]:
    """The datasets behind Concat / Repeat wrappers."""
    if hasattr(dataset, "datasets"):
        for part in dataset.datasets:
            yield from leaf_datasets(part)
    elif hasattr(dataset, "dataset") and hasattr(dataset, "times"):
        yield from leaf_datasets(dataset.dataset)
    else:
        yield dataset


def image_files(dataset: Any) -> list[str] | None:
    """The image paths of a file-based dataset, None for an in-memory one."""
    infos = getattr(dataset, "data_infos", None)
    if infos is None or any("img_info" not in info for info in infos[:1]):
        return None
    return [os.path.join(info.get("img_prefix") or "", info["img_info"]["filename"]) for info in infos]


def collect_split_files(cfg, splits: Sequence[str]) -> list[SplitReport]:
    """Build each split's dataset (cache off) and list its image files."""
    reports = []
    for split in splits:
        dataset = build_dataset(_without_cache(cfg.data[split]), dict(test_mode=split != "train"), key=f"data.{split}")
        report = SplitReport(split)
        for leaf in leaf_datasets(dataset):
            files = image_files(leaf)
            if files is None:
                report.in_memory.append(type(leaf).__name__)
            else:
                report.files.extend(files)
        reports.append(report)
    return reports


def probe_image(path: str) -> str | None:
    """None when ``path`` decodes, else the reason it does not."""
    try:
        read_image(path, "unchanged")
    except DataError as exc:
        return exc.message.replace(f" {path}", "", 1)
    except Exception as exc:  # noqa: BLE001 - anything a decoder may raise on a broken file
        return f"{type(exc).__name__}: {exc}"
    return None


def verify_datasets(cfg, splits: Sequence[str] | None = None, workers: int | None = None,
                    advance: Callable[[int], None] | None = None,
                    on_files: Callable[[int], None] | None = None) -> list[SplitReport]:
    """Decode every image of the chosen splits with ``workers`` threads; fill each report's ``bad`` list.

    ``on_files(total)`` is called once the distinct files are known, ``advance(1)`` after each file.
    """
    reports = collect_split_files(cfg, config_splits(cfg, splits))
    unique = list(dict.fromkeys(f for r in reports for f in r.files))
    if on_files is not None:
        on_files(len(unique))
    threads = max(1, workers or min(8, os.cpu_count() or 1))

    def probe(path: str) -> str | None:
        reason = probe_image(path)
        if advance is not None:
            advance(1)
        return reason

    with ThreadPoolExecutor(max_workers=threads) as pool:
        reasons = dict(zip(unique, pool.map(probe, unique)))
    for report in reports:
        report.bad = [(f, reasons[f]) for f in dict.fromkeys(report.files) if reasons[f] is not None]
    return reports
