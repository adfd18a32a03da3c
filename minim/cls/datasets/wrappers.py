"""Dataset wrappers: ``ConcatDataset`` (also what a list of dataset configs builds), ``RepeatDataset``,
``ClassBalancedDataset`` (oversampling of rare classes) and ``KFoldDataset`` (cross-validation folds)."""

from __future__ import annotations

import bisect
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from torch.utils.data import Dataset

from minim.errors import BuildError, DataError
from minim.cls.datasets.registry import DATASETS


def inner_datasets(dataset: Any) -> list[Any]:
    """The datasets a wrapper wraps directly (``datasets`` of a concatenation, else its ``dataset``); [] for a leaf."""
    if hasattr(dataset, "datasets"):
        return list(dataset.datasets)
    return [dataset.dataset] if hasattr(dataset, "dataset") else []


def _prepare(dataset: Any, num_threads: int | None) -> None:
    prepare = getattr(dataset, "prepare_cache", None)
    if prepare is not None:
        prepare(num_threads)


@DATASETS.register()
class ConcatDataset(Dataset):
    """Samples of several datasets in turn; they must share their classes."""

    def __init__(self, datasets: Sequence[Any]):
        if not datasets:
            raise BuildError("ConcatDataset needs at least one dataset")
        self.datasets = list(datasets)
        self.CLASSES = getattr(self.datasets[0], "CLASSES", None)
        for other in self.datasets[1:]:
            other_classes = getattr(other, "CLASSES", None)
            if other_classes is not None and self.CLASSES is not None and tuple(other_classes) != tuple(self.CLASSES):
                raise DataError(
                    f"ConcatDataset parts have different classes: {list(self.CLASSES)} and {list(other_classes)}"
                )
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def locate(self, idx: int) -> tuple[Any, int]:
        """``(part, index in part)`` of sample ``idx``."""
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} samples")
        part = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part], idx - start

    def __getitem__(self, idx: int) -> Any:
        dataset, inner = self.locate(idx)
        return dataset[inner]

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.CLASSES or ())}

    def get_gt_labels(self) -> np.ndarray:
        return np.concatenate([np.asarray(d.get_gt_labels(), dtype=np.int64) for d in self.datasets])

    def prepare_cache(self, num_threads: int | None = None) -> None:
        for dataset in self.datasets:
            _prepare(dataset, num_threads)


@DATASETS.register()
class RepeatDataset(Dataset):
    """``dataset`` repeated ``times`` times (short epochs made longer)."""

    def __init__(self, dataset: Any, times: int):
        if not isinstance(times, int) or times < 1:
            raise BuildError(f"RepeatDataset times must be a positive int, got {times!r}")
        self.dataset = dataset
        self.times = times
        self.CLASSES = getattr(dataset, "CLASSES", None)
        self._inner_len = len(dataset)

    def __len__(self) -> int:
        return self.times * self._inner_len

    def locate(self, idx: int) -> tuple[Any, int]:
        """``(wrapped dataset, its index)`` of sample ``idx``."""
        return self.dataset, idx % self._inner_len

    def __getitem__(self, idx: int) -> Any:
        return self.dataset[idx % self._inner_len]

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.CLASSES or ())}

    def get_gt_labels(self) -> np.ndarray:
        return np.tile(np.asarray(self.dataset.get_gt_labels(), dtype=np.int64), self.times)

    def prepare_cache(self, num_threads: int | None = None) -> None:
        _prepare(self.dataset, num_threads)


class _IndexedDataset(Dataset):
    """A view of ``dataset`` through a list of its indices (repeats allowed)."""

    def __init__(self, dataset: Any, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = list(indices)
        self.CLASSES = getattr(dataset, "CLASSES", None)

    def __len__(self) -> int:
        return len(self.indices)

    def locate(self, idx: int) -> tuple[Any, int]:
        """``(wrapped dataset, its index)`` of sample ``idx``."""
        return self.dataset, self.indices[idx]

    def __getitem__(self, idx: int) -> Any:
        return self.dataset[self.indices[idx]]

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.CLASSES or ())}

    def get_gt_labels(self) -> np.ndarray:
        return np.asarray(self.dataset.get_gt_labels())[np.asarray(self.indices, dtype=np.int64)]

    def get_cat_ids(self, idx: int) -> list[int]:
        return self.dataset.get_cat_ids(self.indices[idx])

    def prepare_cache(self, num_threads: int | None = None) -> None:
        _prepare(self.dataset, num_threads)


def repeat_factors(dataset: Any, oversample_thr: float) -> list[float]:
    """mmcls's per-sample repeat factors: ``f(c)`` is the fraction of samples with class ``c`` among their
    ``get_cat_ids``, ``r(c) = max(1, sqrt(oversample_thr / f(c)))``, and a sample's factor is the largest
    ``r(c)`` of its classes."""
    cat_ids = [set(dataset.get_cat_ids(i)) for i in range(len(dataset))]
    if any(not ids for ids in cat_ids):
        empty = next(i for i, ids in enumerate(cat_ids) if not ids)
        raise DataError(f"ClassBalancedDataset: sample {empty} has no class (a multi-label sample without positives)")
    frequency: dict[int, int] = {}
    for ids in cat_ids:
        for cat in ids:
            frequency[cat] = frequency.get(cat, 0) + 1
    per_class = {cat: max(1.0, math.sqrt(oversample_thr / (count / len(cat_ids)))) for cat, count in frequency.items()}
    return [max(per_class[cat] for cat in ids) for ids in cat_ids]


@DATASETS.register()
class ClassBalancedDataset(_IndexedDataset):
    """mmcls ``ClassBalancedDataset(dataset, oversample_thr)``: every sample repeated ``ceil(r)`` times,
    ``r`` from :func:`repeat_factors`, in dataset order (sample 0's copies first). Classes in at least
    ``oversample_thr`` of the samples are not repeated; rarer ones by about ``sqrt(oversample_thr / f)``.
    Evaluating it is an error, as in mmcls (evaluate the unwrapped dataset)."""

    def __init__(self, dataset: Any, oversample_thr: float):
        if isinstance(oversample_thr, bool) or not isinstance(oversample_thr, (int, float)) or oversample_thr <= 0:
            raise BuildError(f"ClassBalancedDataset oversample_thr must be a positive number such as 0.1, "
                             f"got {oversample_thr!r}")
        self.oversample_thr = oversample_thr
        factors = repeat_factors(dataset, oversample_thr)
        super().__init__(dataset, [i for i, factor in enumerate(factors) for _ in range(math.ceil(factor))])

    def evaluate(self, *args: Any, **kwargs: Any) -> dict:
        raise DataError("ClassBalancedDataset repeats samples: evaluate the dataset it wraps instead")


@DATASETS.register()
class KFoldDataset(_IndexedDataset):
    """mmcls ``KFoldDataset(dataset, fold=0, num_splits=5, test_mode=False, seed=None)``: the samples (shuffled
    by ``numpy.random.default_rng(seed)`` when ``seed`` is an int) cut into ``num_splits`` folds at
    ``len * k // num_splits``; ``test_mode=True`` gives fold ``fold``, ``False`` the others, in order."""

    def __init__(self, dataset: Any, fold: int = 0, num_splits: int = 5, test_mode: bool = False,
                 seed: int | None = None):
        if not isinstance(num_splits, int) or num_splits < 2:
            raise BuildError(f"KFoldDataset num_splits must be an int >= 2, got {num_splits!r}")
        if not isinstance(fold, int) or not 0 <= fold < num_splits:
            raise BuildError(f"KFoldDataset fold must be an int in [0, {num_splits}), got {fold!r}")
        self.fold, self.num_splits, self.test_mode, self.seed = fold, num_splits, test_mode, seed
        order = list(range(len(dataset)))
        if isinstance(seed, int):
            np.random.default_rng(seed).shuffle(order)
        start, stop = len(order) * fold // num_splits, len(order) * (fold + 1) // num_splits
        super().__init__(dataset, order[start:stop] if test_mode else order[:start] + order[stop:])

    def evaluate(self, *args: Any, **kwargs: Any) -> dict:
        """The wrapped dataset's ``evaluate`` on this fold's samples."""
        kwargs["indices"] = self.indices
        return self.dataset.evaluate(*args, **kwargs)


WRAPPER_TYPES = ("ClassBalancedDataset", "KFoldDataset")


def build_wrapper(cfg: Mapping[str, Any], default_args: dict, build: Callable[[Any, dict], Any]) -> Any:
    """A ``ClassBalancedDataset``/``KFoldDataset`` config: its ``dataset`` built by ``build`` first. As mmcls, a
    ``KFoldDataset`` without ``test_mode`` takes the caller's (``data.val`` builds the held-out fold) and
    its inner dataset is built without it."""
    args = {key: value for key, value in cfg.items() if key != "type"}
    if "dataset" not in args:
        raise BuildError(f"{cfg['type']} needs dataset=dict(type=..., ...)")
    inner_defaults = dict(default_args)
    if cfg["type"] == "KFoldDataset" and args.get("test_mode") is None:
        args["test_mode"] = inner_defaults.pop("test_mode", False)
    args["dataset"] = build(args["dataset"], inner_defaults)
    kind = ClassBalancedDataset if cfg["type"] == "ClassBalancedDataset" else KFoldDataset
    try:
        return kind(**args)
    except TypeError as exc:
        raise BuildError(f"{cfg['type']}: {exc}") from None
