"""``BaseDataset``: classes, annotations, the pipeline and the optional in-memory image cache."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np
from torch.utils.data import Dataset

from minim.errors import BuildError, DataError
from minim.cls.datasets.paths import require_file, resolve_data_path
from minim.cls.datasets.pipelines.compose import Compose
from minim.cls.metrics import evaluate

#: ``cache_images='auto'`` caches a dataset when its decoded images take at most this many bytes, and at most a
#: quarter of the memory available when it is built (so a run's train and val caches stay under half of it)
CACHE_AUTO_LIMIT_BYTES = 1 << 30
CACHE_CHOICES = (False, True, "auto")


def read_class_names(path: str) -> tuple[str, ...]:
    """Class names from a text file, one a line (blank lines skipped; a UTF-8 BOM, as Notepad writes, ignored)."""
    require_file(path, "classes")
    with open(path, encoding="utf-8-sig") as handle:
        return tuple(line.strip() for line in handle if line.strip())


class BaseDataset(Dataset):
    """mmcls-style dataset: ``data_infos`` (one dict per sample) run through ``pipeline``.

    ``cache_images``: ``True`` keeps the output of the pipeline's deterministic prefix
    (``LoadImageFromFile`` and any fixed ``Resize``/``CenterCrop``/``Pad`` right after it) in memory,
    so later epochs skip decoding (the images are the same bytes: training is bit-identical);
    ``'auto'`` (default) does so when it fits :func:`auto_cache_budget`; ``False`` never caches.
    ``build_dataloader`` fills the cache before starting worker processes so that they share it.
    :meth:`cache_summary` says in words what was decided.
    """

    CLASSES: Sequence[str] | None = None

    def __init__(
        self,
        data_prefix: str,
        pipeline: Sequence[Any] = (),
        classes: Any = None,
        ann_file: str | None = None,
        test_mode: bool = False,
        cache_images: bool | str = "auto",
    ):
        self.data_prefix = resolve_data_path(data_prefix, "data_prefix")
        self.ann_file = resolve_data_path(ann_file, "ann_file")
        self.test_mode = test_mode
        self.pipeline = Compose(pipeline)
        self.CLASSES = self.get_classes(classes)
        self.data_infos = self.load_annotations()
        self._cache: dict[int, dict] | None = None
        self._cache_summary = "not cached (cache_images=False)"
        self._init_cache(cache_images)

    # -- classes and annotations -------------------------------------------------------------

    @classmethod
    def get_classes(cls, classes: Any = None) -> list[str] | tuple[str, ...] | None:
        """As mmcls: ``None`` -> (a list copy of) the class default; a str -> the list of names in that
        file; a list or tuple -> used as is (its type kept)."""
        if classes is None:
            return list(cls.CLASSES) if cls.CLASSES is not None else None
        if isinstance(classes, (str, os.PathLike)):
            return list(read_class_names(resolve_data_path(classes, "classes")))
        if isinstance(classes, (list, tuple)) and all(isinstance(c, str) for c in classes):
            return classes
        raise DataError(f"classes must be a list of names or a file path, got {classes!r}")

    def load_annotations(self) -> list[dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def class_to_idx(self) -> dict[str, int]:
        """``{class name: label}`` (empty when the classes are unknown)."""
        return {name: index for index, name in enumerate(self.CLASSES or ())}

    def get_gt_labels(self) -> np.ndarray:
        """All labels as an int64 array."""
        return np.array([info["gt_label"] for info in self.data_infos], dtype=np.int64)

    def evaluate(self, results, metric: Any = "accuracy", metric_options: dict | None = None,
                 indices: Any = None, logger: Any = None) -> dict:
        """mmcls's ``dataset.evaluate``: metrics of ``results`` (per-sample score rows, e.g. from
        ``single_gpu_test``) against this dataset's labels (those at ``indices`` when given); see
        :func:`minim.cls.metrics.evaluate`. ``logger`` is accepted and unused."""
        labels = self.get_gt_labels()
        if indices is not None:
            labels = labels[np.asarray(indices)]
        return evaluate(results, labels, metric, metric_options)

    def get_cat_ids(self, idx: int) -> list[int]:
        """The label of sample ``idx`` as a one-element list (mmcls API)."""
        return [int(self.data_infos[idx]["gt_label"])]

    def sample_source(self, idx: int) -> str:
        """Where sample ``idx`` comes from, for error messages (file, and annotation line if any)."""
        info = self.data_infos[idx]
        where = info.get("img_info", {}).get("filename", f"sample {idx}")
        if self.data_prefix and "img_info" in info:
            where = os.path.join(self.data_prefix, where)
        if "ann_lineno" in info:
            where += f" ({self.ann_file}:{info['ann_lineno']})"
        return where

    # -- samples -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.data_infos)

    def raw_results(self, idx: int) -> dict:
        """A fresh copy of sample ``idx``'s info, ready for the pipeline."""
        info = self.data_infos[idx]
        results = dict(info)
        if "img_info" in results:
            results["img_info"] = dict(results["img_info"])
        return results

    def __getitem__(self, idx: int) -> Any:
        if self._cache is None:
            return self.pipeline(self.raw_results(idx))
        cached = self._cache.get(idx)
        if cached is None:
            cached = self._cache[idx] = self._cacheable_prefix(idx)
        return self.pipeline(dict(cached), start=self.pipeline.num_cacheable)

    # -- cache ---------------------------------------------------------------------------------

    @property
    def cache_enabled(self) -> bool:
        """Whether decoded images are kept in memory."""
        return self._cache is not None

    def _cacheable_prefix(self, idx: int) -> dict:
        return self.pipeline(self.raw_results(idx), stop=self.pipeline.num_cacheable)

    def cache_summary(self) -> str:
        """In words: whether the decoded images are kept in memory, how much they take, or why not."""
        return self._cache_summary

    def _init_cache(self, cache_images: bool | str) -> None:
        if cache_images not in CACHE_CHOICES:
            raise BuildError(f"cache_images must be True, False or 'auto', got {cache_images!r}")
        if not cache_images or len(self) == 0:
            self._cache_summary = "not cached (cache_images=False)" if not cache_images else "not cached (no images)"
            return
        if self.pipeline.num_cacheable == 0:
            if cache_images is True:
                warnings.warn(
                    f"{type(self).__name__}: cache_images=True has no effect: the pipeline does not start "
                    "with LoadImageFromFile (or other deterministic steps)",
                    stacklevel=3,
                )
            self._cache_summary = "not cached (the pipeline does not start with LoadImageFromFile)"
            return
        first = self._cacheable_prefix(0)
        img = first.get("img")
        needed = (img.nbytes if hasattr(img, "nbytes") else 0) * len(self)
        if cache_images == "auto":
            budget = auto_cache_budget()
            if needed > budget:
                self._cache_summary = f"not cached ({_megabytes(needed)} > the {_megabytes(budget)} budget)"
                return
        self._cache = {0: first}
        how = "cache_images=True" if cache_images is True else "fits the memory budget"
        self._cache_summary = f"decoded images kept in memory ({len(self)} images, {_megabytes(needed)}; {how})"

    def prepare_cache(self, num_threads: int | None = None) -> None:
        """Fill the image cache now (threads decode in parallel); a no-op without caching."""
        if self._cache is None:
            return
        missing = [i for i in range(len(self)) if i not in self._cache]
        if not missing:
            return
        threads = num_threads or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for idx, results in zip(missing, pool.map(self._cacheable_prefix, missing)):
                self._cache[idx] = results

    def __repr__(self) -> str:
        classes = len(self.CLASSES) if self.CLASSES is not None else "unknown"
        return (
            f"{type(self).__name__}(data_prefix={self.data_prefix!r}, samples={len(getattr(self, 'data_infos', ()))}, "
            f"classes={classes}, cache={'on' if getattr(self, '_cache', None) is not None else 'off'})"
        )


def auto_cache_budget() -> int:
    """Bytes an ``'auto'`` cache may take: :data:`CACHE_AUTO_LIMIT_BYTES`, at most a quarter of the available memory."""
    available = _available_memory()
    return CACHE_AUTO_LIMIT_BYTES if available is None else min(CACHE_AUTO_LIMIT_BYTES, available // 4)


def _available_memory() -> int | None:
    """Memory available to new allocations (Linux's ``MemAvailable``, else free physical pages), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size / 2**20:.1f} MB"
