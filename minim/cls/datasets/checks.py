"""Checks the engine runs before training: labels in range, train/val classes alike, readable images, class balance."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from minim.cls.datasets.pipelines.loading import read_image
from minim.cls.datasets.wrappers import inner_datasets
from minim.cls.models.losses import class_counts
from minim.errors import DataError


def _base_sample(dataset: Any, idx: int) -> tuple[Any, int]:
    """The leaf dataset and index behind ``dataset[idx]`` (through Concat/Repeat wrappers)."""
    while hasattr(dataset, "locate"):
        dataset, idx = dataset.locate(idx)
    return dataset, idx


def sample_source(dataset: Any, idx: int) -> str:
    """A human-readable origin of sample ``idx`` (file path and annotation line when known)."""
    leaf, leaf_idx = _base_sample(dataset, idx)
    if hasattr(leaf, "sample_source"):
        return leaf.sample_source(leaf_idx)
    return f"sample {idx}"


def check_labels(dataset: Any, num_classes: int) -> None:
    """Raise :class:`DataError` naming the first sample whose label is outside ``[0, num_classes)``."""
    labels = np.asarray(dataset.get_gt_labels())
    if labels.ndim == 2:  # multi-label vectors (1 positive, 0 negative, -1 difficult)
        if labels.shape[1] != num_classes:
            raise DataError(f"the label vectors have {labels.shape[1]} entries but num_classes={num_classes}",
                            hint=f"set the model head's num_classes={labels.shape[1]}")
        return
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size == 0:
        return
    first = int(bad[0])
    classes = getattr(dataset, "CLASSES", None)
    hint = None
    if classes is not None and len(classes) > num_classes:
        hint = f"the dataset has {len(classes)} classes: set the model head's num_classes={len(classes)}"
    raise DataError(
        f"label {int(labels[first])} of {sample_source(dataset, first)} is out of range for num_classes={num_classes}"
        f" ({bad.size} sample(s) out of range)",
        hint=hint,
    )


def check_num_classes(dataset: Any, num_classes: int, split: str) -> None:
    """``len(dataset.CLASSES)`` must equal the head's ``num_classes``, and every label must be below it."""
    classes = getattr(dataset, "CLASSES", None)
    if classes is not None and len(classes) != num_classes:
        raise DataError(
            f"data.{split} has {len(classes)} classes but model.head.num_classes={num_classes}",
            hint=f"set model.head.num_classes={len(classes)} (e.g. --cfg-options model.head.num_classes={len(classes)})",
        )
    check_labels(dataset, num_classes)


def check_same_classes(train_dataset: Any, val_dataset: Any) -> None:
    """Raise :class:`DataError` when the two datasets' classes (names or order) differ."""
    train = getattr(train_dataset, "CLASSES", None)
    val = getattr(val_dataset, "CLASSES", None)
    if train is not None and val is not None:
        compare_classes(train, val, ("training", "validation"), "data.val")


def compare_classes(expected: Sequence[str], actual: Sequence[str], names: tuple[str, str], key: str) -> None:
    """Raise :class:`DataError` unless ``actual`` lists the classes of ``expected`` in the same order.

    ``names``: how the two lists are called in the message (``('training', 'validation')``);
    ``key``: the dataset config to fix (``data.val``), for the hint."""
    if tuple(expected) == tuple(actual):
        return
    only_expected = sorted(set(expected) - set(actual))
    only_actual = sorted(set(actual) - set(expected))
    listing = "[" + ", ".join(repr(c) for c in expected) + "]"
    if only_expected or only_actual:
        details = []
        if only_expected:
            details.append(f"only in {names[0]}: {only_expected}")
        if only_actual:
            details.append(f"only in {names[1]}: {only_actual}")
        hint = (f"set {key}.classes={listing} (a class may have no images there)" if not only_actual
                else f"give {key} the {names[0]} classes, {key}.classes={listing}, or fix its class folders")
        raise DataError(f"the {names[1]} classes differ from the {names[0]} classes (labels would not match): "
                        + "; ".join(details), hint=hint)
    raise DataError(
        f"the {names[1]} classes are the {names[0]} classes in another order (labels would not match): "
        f"{names[0]} {list(expected)}, {names[1]} {list(actual)}",
        hint=f"set {key}.classes={listing}",
    )


def find_bad_images(dataset: Any, num_threads: int | None = None) -> list[tuple[int, str, str]]:
    """``(index, path, reason)`` for every image of a file-based dataset that cannot be decoded."""
    def probe(idx: int) -> tuple[int, str, str] | None:
        info = dataset.data_infos[idx]
        path = os.path.join(info["img_prefix"], info["img_info"]["filename"])
        try:
            read_image(path, "unchanged")
        except DataError as exc:
            return idx, path, str(exc).replace(f" {path}", "", 1)
        return None

    threads = num_threads or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [found for found in pool.map(probe, range(len(dataset.data_infos))) if found is not None]


#: the largest class at least this many times the smallest: :func:`imbalance_warning` speaks up
IMBALANCE_RATIO = 10


def _wraps(dataset: Any, kind: str) -> bool:
    """Whether ``dataset`` is, or wraps (through ``dataset``/``datasets``), a dataset of class ``kind``."""
    return type(dataset).__name__ == kind or any(_wraps(part, kind) for part in inner_datasets(dataset))


def imbalance_warning(dataset: Any, model: Any) -> list[str]:
    """A warning naming minim's switches when the largest training class has at least ``IMBALANCE_RATIO``
    times the images of the smallest (none when the model's loss weights classes or the data is class-balanced)."""
    if _wraps(dataset, "ClassBalancedDataset") or any(getattr(m, "class_weight", None) is not None
                                                       for m in model.modules()):
        return []
    classes = list(getattr(dataset, "CLASSES", None) or [])
    labels = np.asarray(dataset.get_gt_labels())
    num_classes = len(classes) or (labels.shape[1] if labels.ndim == 2 else int(labels.max()) + 1)
    counts = class_counts(labels, num_classes)
    if num_classes < 2 or counts.max() < IMBALANCE_RATIO * counts.min():
        return []
    names = classes if len(classes) == num_classes else [str(i) for i in range(num_classes)]
    large, small = int(counts.argmax()), int(counts.argmin())
    ratio = f"{counts[large] / counts[small]:.0f}x" if counts[small] else "it has none"
    return [f"the training set is imbalanced: class {names[large]!r} has {counts[large]} images, class "
            f"{names[small]!r} {counts[small]} ({ratio}); to weigh classes evenly set model.head.loss.class_weight="
            "'auto' (inverse class frequency), or wrap data.train in dict(type='ClassBalancedDataset', "
            "oversample_thr=0.1, dataset=...)"]
