"""Classification losses with mmcls 0.x arguments (hard labels, soft labels from Mixup/CutMix).

``class_weight='auto'`` (minim extension) on ``CrossEntropyLoss``/``LabelSmoothLoss``: the weights are the
training set's inverse class frequencies, set by :func:`set_auto_class_weights` before training.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from minim.cls.models.registry import LOSSES
from minim.errors import ConfigError

_REDUCTIONS = ("none", "mean", "sum")
AUTO = "auto"


def reduce_loss(loss: torch.Tensor, weight: torch.Tensor | None = None, reduction: str = "mean",
                avg_factor: float | None = None) -> torch.Tensor:
    """Apply element-wise ``weight``, then reduce like mmcls's ``weight_reduce_loss``."""
    if weight is not None:
        loss = loss * weight.float()
    if reduction == "none":
        return loss
    if avg_factor is None:
        return loss.mean() if reduction == "mean" else loss.sum()
    if reduction == "mean":
        return loss.sum() / avg_factor
    raise ValueError("avg_factor can only be used with reduction='mean'")


def one_hot(label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class indices ``(N,)`` or ``(N, 1)`` -> float one-hot ``(N, num_classes)``."""
    return F.one_hot(label.reshape(-1).long(), num_classes).float()


def is_soft(label: torch.Tensor, cls_score: torch.Tensor) -> bool:
    """Whether ``label`` is already a per-class target (one-hot-like, e.g. from Mixup)."""
    return label.dim() == 2 and label.shape == cls_score.shape and label.shape[1] > 1


def _class_weight_arg(class_weight: Any) -> list[float] | str | None:
    if class_weight is None or class_weight == AUTO:
        return class_weight
    if isinstance(class_weight, str):
        raise ConfigError(f"class_weight must be a list of per-class weights or 'auto', got {class_weight!r}")
    return [float(w) for w in class_weight]


def inverse_frequency_weights(counts: Sequence[int]) -> list[float]:
    """``N / (C * n_c)`` for each class (``N`` samples, ``C`` classes with samples, ``n_c`` of class ``c``): rare
    classes weigh more and the mean weight over the samples is 1, so the loss keeps its scale; a class without
    samples gets 0."""
    counts = np.asarray(counts, dtype=np.float64)
    total, present = counts.sum(), int((counts > 0).sum())
    return [float(total / (present * n)) if n > 0 else 0.0 for n in counts]


def class_counts(labels: Any, num_classes: int) -> np.ndarray:
    """Samples per class: of class indices ``(N,)``, or positives of ``(N, C)`` multi-label vectors."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return (labels == 1).sum(axis=0).astype(np.int64)
    return np.bincount(labels.astype(np.int64).reshape(-1), minlength=num_classes)[:num_classes]


def set_auto_class_weights(model: nn.Module, dataset: Any) -> list[str]:
    """Give every loss of ``model`` with ``class_weight='auto'`` the inverse class frequencies of ``dataset``
    (see :func:`inverse_frequency_weights`); returns the log line (none when no loss asks)."""
    losses = [m for m in model.modules() if getattr(m, "class_weight", None) == AUTO]
    if not losses:
        return []
    classes = list(getattr(dataset, "CLASSES", None) or [])
    num_classes = int(getattr(getattr(model, "head", None), "num_classes", 0) or len(classes))
    counts = class_counts(dataset.get_gt_labels(), num_classes)
    weights = inverse_frequency_weights(counts)
    for loss in losses:
        loss.class_weight = weights
    names = classes if len(classes) == num_classes else [str(i) for i in range(num_classes)]
    shown = [f"{name} {w:.3g}" for name, w in zip(names, weights)]
    low, high = int(np.argmin(weights)), int(np.argmax(weights))
    listing = ", ".join(shown) if num_classes <= 20 else f"from {shown[low]} to {shown[high]}"
    return [f"class_weight='auto': N / (classes x images of the class) over the {int(counts.sum())} training "
            f"images (mean weight per image 1): {listing}"]


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")


@LOSSES.register()
class CrossEntropyLoss(nn.Module):
    """mmcls ``CrossEntropyLoss``: softmax CE (hard or soft targets) or sigmoid BCE.

    Soft targets (``(N, C)`` floats, as Mixup/CutMix produce) are handled whatever
    ``use_soft`` says; ``use_soft=True`` turns hard labels into one-hot targets.
    ``label_smoothing`` (minim extension, as ``torch.nn.CrossEntropyLoss``) smooths targets.
    """

    def __init__(self, use_sigmoid: bool = False, use_soft: bool = False, reduction: str = "mean",
                 loss_weight: float = 1.0, class_weight: Sequence[float] | str | None = None,
                 pos_weight: Sequence[float] | None = None, label_smoothing: float = 0.0):
        super().__init__()
        if use_sigmoid and use_soft:
            raise ValueError("CrossEntropyLoss: use_sigmoid and use_soft cannot both be True")
        _check_reduction(reduction)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1), got {label_smoothing}")
        self.use_sigmoid = use_sigmoid
        self.use_soft = use_soft
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.class_weight = _class_weight_arg(class_weight)
        self.pos_weight = None if pos_weight is None else list(pos_weight)
        self.label_smoothing = float(label_smoothing)

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> torch.Tensor:
        reduction = reduction_override or self.reduction
        _check_reduction(reduction)
        num_classes = cls_score.shape[-1]
        class_weight = None
        if self.class_weight == AUTO:
            raise ConfigError("CrossEntropyLoss: class_weight='auto' has no weights yet: they come from the training "
                              "set when minim trains (train_model); elsewhere pass a list of weights")
        if self.class_weight is not None:
            if len(self.class_weight) != num_classes:
                raise ValueError(f"CrossEntropyLoss: class_weight has {len(self.class_weight)} values but the "
                                 f"model has {num_classes} classes")
            class_weight = cls_score.new_tensor(self.class_weight)
        if self.use_sigmoid:
            loss = self._sigmoid(cls_score, label, class_weight)
        elif self.use_soft or is_soft(label, cls_score) or self.label_smoothing and class_weight is not None:
            loss = self._soft(cls_score, label, class_weight)
        else:
            loss = F.cross_entropy(cls_score, label.reshape(-1).long(), weight=class_weight, reduction="none",
                                   label_smoothing=self.label_smoothing)
        if weight is not None and loss.dim() > 1 and weight.dim() == 1:
            weight = weight.reshape(-1, 1)
        return self.loss_weight * reduce_loss(loss, weight, reduction, avg_factor)

    def _smooth(self, target: torch.Tensor) -> torch.Tensor:
        if not self.label_smoothing:
            return target
        return target * (1 - self.label_smoothing) + self.label_smoothing / target.shape[-1]

    def _soft(self, cls_score, label, class_weight):
        target = label.float() if is_soft(label, cls_score) else one_hot(label, cls_score.shape[-1])
        loss = -self._smooth(target) * F.log_softmax(cls_score, dim=-1)
        if class_weight is not None:
            loss = loss * class_weight
        return loss.sum(dim=-1)

    def _sigmoid(self, cls_score, label, class_weight):
        target = label.float() if is_soft(label, cls_score) else one_hot(label, cls_score.shape[-1])
        pos_weight = None if self.pos_weight is None else cls_score.new_tensor(self.pos_weight)
        return F.binary_cross_entropy_with_logits(cls_score, self._smooth(target), weight=class_weight,
                                                  pos_weight=pos_weight, reduction="none")


@LOSSES.register()
class LabelSmoothLoss(nn.Module):
    """mmcls ``LabelSmoothLoss(label_smooth_val, num_classes=None, mode='original')``.

    ``mode='original'``: target = one_hot * (1 - eps) + eps / C; ``'classy_vision'``: the same
    with eps = val / (1 + val); ``'multi_label'``: sigmoid BCE with targets 1 - eps / eps.
    Accepts class indices or one-hot-like targets (Mixup/CutMix); ``num_classes`` defaults
    to the score width.
    """

    def __init__(self, label_smooth_val: float, num_classes: int | None = None, use_sigmoid: bool | None = None,
                 mode: str = "original", reduction: str = "mean", loss_weight: float = 1.0,
                 class_weight: Sequence[float] | str | None = None, pos_weight: Sequence[float] | None = None):
        super().__init__()
        if not isinstance(label_smooth_val, (int, float)) or not 0 <= label_smooth_val < 1:
            raise ValueError(f"LabelSmoothLoss: label_smooth_val must be a float in [0, 1), got {label_smooth_val!r}")
        if mode not in ("original", "classy_vision", "multi_label"):
            raise ValueError(f"LabelSmoothLoss: mode must be 'original', 'classy_vision' or 'multi_label', "
                             f"got {mode!r}")
        _check_reduction(reduction)
        self.label_smooth_val = float(label_smooth_val)
        self.num_classes = num_classes
        self.mode = mode
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.eps = self.label_smooth_val / (1 + self.label_smooth_val) if mode == "classy_vision" \
            else self.label_smooth_val
        if use_sigmoid is None:
            use_sigmoid = mode == "multi_label"
        self.ce = CrossEntropyLoss(use_sigmoid=use_sigmoid, use_soft=not use_sigmoid, reduction=reduction,
                                   class_weight=class_weight, pos_weight=pos_weight)

    def smooth_label(self, label: torch.Tensor, num_classes: int) -> torch.Tensor:
        """The smoothed per-class targets of ``label`` (indices or one-hot-like)."""
        if label.dim() == 1 or (label.dim() == 2 and label.shape[1] == 1):
            target = one_hot(label, num_classes)
        else:
            target = label.float()
        if self.mode == "multi_label":
            return torch.where(target > 0, torch.full_like(target, 1 - self.eps), torch.full_like(target, self.eps))
        return target * (1 - self.eps) + self.eps / num_classes

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> torch.Tensor:
        num_classes = cls_score.shape[-1]
        if self.num_classes is not None and self.num_classes != num_classes:
            raise ValueError(f"LabelSmoothLoss: num_classes={self.num_classes} but the scores have {num_classes} "
                             "classes")
        target = self.smooth_label(label, num_classes)
        return self.loss_weight * self.ce(cls_score, target, weight=weight, avg_factor=avg_factor,
                                          reduction_override=reduction_override)
