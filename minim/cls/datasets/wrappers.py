"""Dataset wrappers: ``ConcatDataset`` (also what a list of dataset configs builds) and ``RepeatDataset``."""

from __future__ import annotations

import bisect
from typing import Any, Sequence

import numpy as np
from torch.utils.data import Dataset

from minim.errors import BuildError, DataError
from minim.cls.datasets.registry import DATASETS


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
