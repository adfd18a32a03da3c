"""Classification metrics with mmcls 0.x keys and units (percentages in [0, 100]).

``evaluate(scores, gt_labels, metric, metric_options)`` mirrors mmcls ``BaseDataset.evaluate``:

- ``accuracy``: a sample counts when its label is among the top-k scores and that score is
  ``> thr``; ``topk`` tuple (or list) -> ``accuracy_top-{k}`` keys, int -> ``accuracy``;
  ``thrs`` tuple -> ``_thr_{thr:.2f}`` suffixes. Default ``topk=(1, 5)``.
- ``precision`` / ``recall`` / ``f1_score`` from the top-1 prediction (positive only when its score
  is ``> thr``); ``average_mode='macro'`` averages over all classes (absent ones count 0),
  ``'none'`` gives per-class arrays.
- ``support``: per-class ground-truth counts; ``'macro'`` gives their sum.
- multi-label ground truth (``(N, C)`` label vectors) is evaluated by :mod:`minim.cls.metrics.multi_label`
  (``mAP``, ``CP`` ... ``OF1``); :func:`metric_keys` and :func:`infer_rule` know those names too.

Ties rank as ``torch.topk`` ranks them (as mmcls: accuracy on float32 scores, precision/recall/F1
on the scores' own dtype), so ``evaluate(np.full((1, 4), 0.25), [2], ..., dict(topk=1))`` counts the
sample as a hit, as mmcls does. Key order: accuracy keys, then support, then precision, recall,
f1_score (``save_best='auto'`` takes the first). Fixed traps: ``topk`` ks larger than the number of classes are dropped
instead of crashing (an int ``topk`` is clamped; a warning naming the fix when the caller set ``topk``, none for
the default), lists are accepted as tuples, unknown
metric names or options raise :class:`ConfigError` with a did-you-mean.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from minim.cls.metrics.multi_label import METRICS as MULTI_LABEL_METRICS, evaluate_multilabel
from minim.cls.metrics.names import check_metric_names
from minim.errors import ConfigError, ConfigValueError, DataError
from minim.suggest import did_you_mean

METRICS = ("accuracy", "precision", "recall", "f1_score", "support")
OPTIONS = ("topk", "thrs", "average_mode")
AVERAGE_MODES = ("macro", "none")
DEFAULT_TOPK = (1, 5)
_PRF = ("precision", "recall", "f1_score")
_EPS = float(np.finfo(np.float32).eps)

_MULTI_LABEL = ("map", "cp", "cr", "cf1", "op", "or", "of1")  # minim.cls.metrics.multi_label.METRICS, lowered
_GREATER_EXACT = METRICS + _MULTI_LABEL
_GREATER_PARTS = ("acc", "top", "ar@", "auc", "precision", "recall", "f1", "support", "map", "mdice", "miou")
_LESS_PARTS = ("loss", "error", "_err")


# -- arguments -----------------------------------------------------------------------------------


def _options(metric_options: Mapping[str, Any] | None) -> tuple[Any, Any, str]:
    if metric_options is not None and not isinstance(metric_options, Mapping):
        raise ConfigError(f"metric_options must be a dict such as dict(topk=(1, 5)), got {metric_options!r}",
                          hint="on the command line set each key: --cfg-options evaluation.metric_options.topk=(1,5)")
    options = {"topk": DEFAULT_TOPK} if metric_options is None else dict(metric_options)
    for key in options:
        if key not in OPTIONS:
            raise ConfigError(
                f"unknown metric option {key!r}; supported: {', '.join(OPTIONS)}", hint=did_you_mean(str(key), OPTIONS)
            )
    average_mode = options.get("average_mode", "macro")
    if average_mode not in AVERAGE_MODES:
        raise ConfigError(f"average_mode must be 'macro' or 'none', got {average_mode!r}")
    return options.get("topk", DEFAULT_TOPK), options.get("thrs"), average_mode


def _topk(topk: Any, num_classes: int | None, warn: bool) -> tuple[list[int], bool]:
    """``(ks, as_tuple)``: ks clamped to ``num_classes`` (see module doc)."""
    as_tuple = isinstance(topk, (tuple, list))
    ks = list(topk) if as_tuple else [topk]
    if not ks or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k > 0 for k in ks):
        raise ConfigError(f"topk must be a positive int or a tuple of them, got {topk!r}")
    ks = [int(k) for k in ks]
    if num_classes is None or max(ks) <= num_classes:
        return ks, as_tuple
    if not as_tuple:
        if warn:
            warnings.warn(f"topk={ks[0]} exceeds the {num_classes} classes; using topk={num_classes}", stacklevel=3)
        return [num_classes], False
    valid = [k for k in ks if k <= num_classes]
    if not valid:
        raise ConfigError(f"every k in topk={tuple(ks)} exceeds the {num_classes} classes", hint="use topk=(1,)")
    if warn and topk is not DEFAULT_TOPK:  # mmcls's default (1, 5) on fewer classes: top-1 only, nothing asked
        warnings.warn(
            f"topk={tuple(ks)} asks for more than the {num_classes} classes; reporting "
            f"{', '.join(f'top-{k}' for k in valid)} only (set evaluation.metric_options=dict(topk={tuple(valid)!r}) "
            f"in the config, or --cfg-options 'evaluation.metric_options.topk={tuple(valid)!r}', to silence this)",
            stacklevel=3)
    return valid, True


def _thresholds(thrs: Any) -> tuple[list[float], bool]:
    """``(thresholds, as_tuple)``; None means 0.0 (no threshold) without a key suffix."""
    if thrs is None:
        return [0.0], False
    if isinstance(thrs, (tuple, list)):
        if not thrs:
            raise ConfigError("thrs must not be empty")
        return [_threshold(t) for t in thrs], True
    return [_threshold(thrs)], False


def _threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ConfigError(f"thrs must be numbers, got {value!r}")
    return float(value)


def _suffixes(thrs: list[float], as_tuple: bool) -> list[str]:
    return [f"_thr_{thr:.2f}" for thr in thrs] if as_tuple else [""]


# -- keys and rules ------------------------------------------------------------------------------


def is_multilabel_metric(metric: str | Sequence[str]) -> bool:
    """Whether ``metric`` names multi-label metrics only (``mAP``, ``CP`` ... ``OF1``)."""
    names = [metric] if isinstance(metric, str) else list(metric)
    return bool(names) and all(isinstance(n, str) and n.lower() in _MULTI_LABEL for n in names)


def metric_keys(
    metric: str | Sequence[str] = "accuracy",
    metric_options: Mapping[str, Any] | None = None,
    num_classes: int | None = None,
) -> list[str]:
    """The result keys :func:`evaluate` will produce, in order (without computing anything)."""
    if is_multilabel_metric(metric):

        names = check_metric_names(metric, MULTI_LABEL_METRICS)
        return [name for name in MULTI_LABEL_METRICS if name in names]
    names = check_metric_names(metric, METRICS)
    topk, thrs, _ = _options(metric_options)
    thr_values, thr_tuple = _thresholds(thrs)
    suffixes = _suffixes(thr_values, thr_tuple)
    keys = []
    if "accuracy" in names:
        ks, as_tuple = _topk(topk, num_classes, warn=False)
        bases = [f"accuracy_top-{k}" for k in ks] if as_tuple else ["accuracy"]
        keys += [base + suffix for base in bases for suffix in suffixes]
    if "support" in names:
        keys.append("support")
    for name in _PRF:
        if name in names:
            keys += [name + suffix for suffix in suffixes]
    return keys


def infer_rule(key: str) -> str:
    """``'greater'`` or ``'less'``: whether a bigger value of metric ``key`` is better."""
    lowered = key.lower()
    if lowered in _GREATER_EXACT:
        return "greater"
    if lowered == "loss":
        return "less"
    if any(part in lowered for part in _LESS_PARTS):
        return "less"
    if any(part in lowered for part in _GREATER_PARTS):
        return "greater"
    raise ConfigError(
        f"cannot tell whether a higher or lower {key!r} is better", hint="set rule='greater' or rule='less'"
    )


# -- computation ---------------------------------------------------------------------------------


def _as_arrays(scores: Any, gt_labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, labels)`` as numpy arrays; scores keep a float32/float64 dtype (mmcls ranks in it)."""
    if isinstance(gt_labels, (str, bytes)):
        raise ConfigValueError(
            f"gt_labels must be the ground-truth labels (ints), got the string {gt_labels!r}",
            hint=f"the metric is the third argument: evaluate(scores, gt_labels, metric={gt_labels!r})",
        )
    if hasattr(scores, "detach"):
        scores = scores.detach().cpu()
        scores = (scores if scores.is_floating_point() and scores.element_size() >= 4 else scores.float()).numpy()
    if hasattr(gt_labels, "detach"):
        gt_labels = gt_labels.detach().cpu().numpy()
    scores = np.asarray(scores if not isinstance(scores, list) else np.stack(scores))
    if scores.dtype not in (np.float32, np.float64):
        scores = scores.astype(np.float64)
    try:
        labels = np.asarray(gt_labels).astype(np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"gt_labels must be integer class labels, got {gt_labels!r:.80}") from None
    if scores.ndim != 2:
        raise DataError(f"scores must be an N x num_classes array, got shape {scores.shape}")
    if len(scores) != len(labels):
        raise DataError(f"{len(scores)} score rows but {len(labels)} ground-truth labels")
    if len(labels) == 0:
        raise DataError("cannot evaluate an empty set of predictions")
    num_classes = scores.shape[1]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DataError(f"ground-truth labels must be in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    return scores, labels


def accuracy(scores: np.ndarray, labels: np.ndarray, ks: list[int], thrs: list[float]) -> list[list[float]]:
    """Top-k accuracy (percent) for each k (rows) and threshold (columns), as mmcls computes it:
    ``torch.topk`` of the float32 scores, the percentage a float32."""
    import torch  # lazy: torch; minim train's plan imports this module

    pred = torch.from_numpy(np.ascontiguousarray(scores)).float()
    top_scores, top_labels = pred.topk(max(ks), dim=1)
    hits = top_labels == torch.from_numpy(labels)[:, None]
    num = len(labels)
    return [
        [float((hits[:, :k] & (top_scores[:, :k] > thr)).float().sum().mul_(100.0 / num)) for thr in thrs]
        for k in ks
    ]


def precision_recall_f1(
    scores: np.ndarray, labels: np.ndarray, thr: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 (percent) of the top-1 predictions (``torch.topk``'s, as
    mmcls) scoring ``> thr``."""
    import torch  # lazy: torch; minim train's plan imports this module

    num_classes = scores.shape[1]
    top_score, top_label = torch.topk(torch.from_numpy(np.ascontiguousarray(scores)), k=1)
    predicted = top_label.flatten().numpy()
    positive = ~(top_score.flatten() <= thr).numpy()
    correct = np.bincount(predicted[positive & (predicted == labels)], minlength=num_classes)
    predicted_count = np.bincount(predicted[positive], minlength=num_classes)
    actual_count = np.bincount(labels, minlength=num_classes)
    precision = correct / np.maximum(predicted_count, 1) * 100.0
    recall = correct / np.maximum(actual_count, 1) * 100.0
    f1 = 2 * precision * recall / np.maximum(precision + recall, _EPS)
    return precision, recall, f1


def confusion_matrix(pred_labels: Any, gt_labels: Any, num_classes: int) -> np.ndarray:
    """``num_classes x num_classes`` int64 counts; rows are ground truth, columns predictions."""
    pred = np.asarray(pred_labels).astype(np.int64).reshape(-1)
    gt = np.asarray(gt_labels).astype(np.int64).reshape(-1)
    if len(pred) != len(gt):
        raise DataError(f"{len(pred)} predictions but {len(gt)} ground-truth labels")
    for name, values in (("predicted", pred), ("ground-truth", gt)):
        if len(values) and (values.min() < 0 or values.max() >= num_classes):
            raise DataError(f"{name} labels must be in [0, {num_classes}), got {values.min()}..{values.max()}")
    counts = np.bincount(gt * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def evaluate(
    scores: Any,
    gt_labels: Any,
    metric: str | Sequence[str] = "accuracy",
    metric_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Metrics of softmax ``scores`` (N x C array/tensor or list of rows) against ``gt_labels``; ``(N, C)``
    label vectors (a multi-label dataset's) go to :func:`minim.cls.metrics.multi_label.evaluate_multilabel`."""
    if np.ndim(gt_labels) == 2 and not isinstance(gt_labels, (str, bytes)):

        return evaluate_multilabel(scores, gt_labels, metric, metric_options)
    names = check_metric_names(metric, METRICS)
    topk, thrs, average_mode = _options(metric_options)
    scores, labels = _as_arrays(scores, gt_labels)
    num_classes = scores.shape[1]
    thr_values, thr_tuple = _thresholds(thrs)
    suffixes = _suffixes(thr_values, thr_tuple)
    results: dict[str, Any] = {}
    if "accuracy" in names:
        ks, as_tuple = _topk(topk, num_classes, warn=True)
        values = accuracy(scores, labels, ks, thr_values)
        bases = [f"accuracy_top-{k}" for k in ks] if as_tuple else ["accuracy"]
        for base, per_thr in zip(bases, values):
            results.update({base + suffix: value for suffix, value in zip(suffixes, per_thr)})
    if "support" in names:
        support = np.bincount(labels, minlength=num_classes).astype(np.float64)
        results["support"] = float(support.sum()) if average_mode == "macro" else support
    wanted = [name for name in _PRF if name in names]
    if wanted:
        per_thr = [precision_recall_f1(scores, labels, thr) for thr in thr_values]
        for name in wanted:
            position = _PRF.index(name)
            for suffix, values in zip(suffixes, per_thr):
                value = values[position]
                results[name + suffix] = float(value.mean()) if average_mode == "macro" else value
    return results

