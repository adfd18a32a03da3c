"""Multi-label metrics with mmcls 0.x keys and units (percentages in [0, 100]).

Targets are ``(N, C)`` arrays of 1 (positive), 0 (negative) and -1 (difficult, as VOC marks them).

- ``mAP``: the mean over classes of each class's average precision (difficult samples neither
  count as positives nor as negatives);
- ``CP``, ``CR``, ``CF1`` (per-class precision, recall and their F1, averaged over classes) and
  ``OP``, ``OR``, ``OF1`` (over all samples and classes): a class is predicted when its score is
  ``>= thr``, or, without ``thr``, when it is among the ``k`` highest scores; difficult labels
  count as negatives there.  ``metric_options`` default to ``dict(thr=0.5)``, as mmcls's.

Difference from mmcls: mmcls's ``average_performance`` overwrites the -1 entries of the caller's
target array with 0; minim works on a copy.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from minim.cls.metrics.names import check_metric_names
from minim.errors import ConfigError
from minim.suggest import did_you_mean

METRICS = ("mAP", "CP", "CR", "CF1", "OP", "OR", "OF1")
OPTIONS = ("thr", "k")
_PERFORMANCE = METRICS[1:]
_EPS = float(np.finfo(np.float32).eps)


def _as_arrays(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred.detach().cpu() if hasattr(pred, "detach") else pred)
    target = np.array(target.detach().cpu() if hasattr(target, "detach") else target)
    if pred.ndim != 2 or pred.shape != target.shape:
        raise ValueError(f"scores {pred.shape} and targets {target.shape} must both be (N, C) arrays of one shape")
    return pred, target


def average_precision(pred: np.ndarray, target: np.ndarray) -> float:
    """AP of one class: the mean, over its positives, of the precision at each positive's rank."""
    order = np.argsort(-pred)
    ranked = target[order]
    positive = ranked == 1
    true_positives = np.cumsum(positive)
    counted = np.cumsum(ranked != -1)
    precision_at_positives = np.where(positive, true_positives, 0) / np.maximum(counted, _EPS)
    return float(precision_at_positives.sum() / max(true_positives[-1], _EPS))


def mean_average_precision(pred: Any, target: Any) -> float:
    """mmcls's ``mAP``: the mean of the classes' average precisions, in percent."""
    pred, target = _as_arrays(pred, target)
    return float(np.mean([average_precision(pred[:, c], target[:, c]) for c in range(pred.shape[1])]) * 100.0)


def average_performance(pred: Any, target: Any, thr: float | None = None,
                        k: int | None = None) -> tuple[float, float, float, float, float, float]:
    """mmcls's ``(CP, CR, CF1, OP, OR, OF1)`` in percent; ``thr`` wins over ``k``; neither means ``thr=0.5``."""
    pred, target = _as_arrays(pred, target)
    if thr is None and k is None:
        warnings.warn("neither thr nor k is given: using thr=0.5", stacklevel=2)
        thr = 0.5
    elif thr is not None and k is not None:
        warnings.warn("both thr and k are given: using thr", stacklevel=2)
    target = np.where(target == -1, 0, target)
    if thr is not None:
        predicted = pred >= thr
    else:
        predicted = np.zeros(pred.shape, dtype=bool)
        np.put_along_axis(predicted, np.argsort(-pred, axis=1)[:, :k], True, axis=1)
    positive = target == 1
    tp = predicted & positive
    fp = predicted & ~positive
    fn = ~predicted & positive
    class_precision = tp.sum(0) / np.maximum(tp.sum(0) + fp.sum(0), _EPS)
    class_recall = tp.sum(0) / np.maximum(tp.sum(0) + fn.sum(0), _EPS)
    cp, cr = class_precision.mean() * 100.0, class_recall.mean() * 100.0
    op = tp.sum() / max(tp.sum() + fp.sum(), _EPS) * 100.0
    orec = tp.sum() / max(tp.sum() + fn.sum(), _EPS) * 100.0
    return (float(cp), float(cr), float(2 * cp * cr / max(cp + cr, _EPS)),
            float(op), float(orec), float(2 * op * orec / max(op + orec, _EPS)))


def evaluate_multilabel(scores: Any, gt_labels: Any, metric: str | Sequence[str] = "mAP",
                        metric_options: Mapping[str, Any] | None = None) -> dict[str, float]:
    """mmcls ``MultiLabelDataset.evaluate``: the asked metrics of ``scores`` against ``(N, C)`` targets."""
    names = check_metric_names(metric, METRICS)
    options = dict(metric_options or {"thr": 0.5})
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown multi-label metric option(s) {', '.join(unknown)}; supported: thr, k",
                          hint=did_you_mean(unknown[0], OPTIONS))
    results: dict[str, float] = {}
    if "mAP" in names:
        results["mAP"] = mean_average_precision(scores, gt_labels)
    if any(name in _PERFORMANCE for name in names):
        values = dict(zip(_PERFORMANCE, average_performance(scores, gt_labels, **options)))
        results.update({name: values[name] for name in _PERFORMANCE if name in names})
    return results
