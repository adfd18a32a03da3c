"""Batch augments (Mixup, CutMix) as mmcls 0.x ``train_cfg=dict(augments=...)`` spells them.

Each augment turns ``(img, gt_label)`` into ``(mixed_img, soft_label)`` where
``soft_label`` is ``(N, num_classes)``.  ``BatchAugments`` picks one augment per batch
with the given ``prob``s (which must sum to at most 1; the rest of the time the batch is
left as is, with one-hot labels).  Spellings: ``BatchMixup``/``Mixup``,
``BatchCutMix``/``CutMix``.
"""

from __future__ import annotations

import math
import random
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from minim.cls.models.losses import one_hot
from minim.cls.models.registry import AUGMENTS
from minim.errors import BuildError


def _to_soft(gt_label: torch.Tensor, num_classes: int) -> torch.Tensor:
    if gt_label.dim() == 2 and gt_label.shape[1] == num_classes and num_classes > 1:
        return gt_label.float()
    label = one_hot(gt_label, num_classes)
    return label


class _BatchAugment:
    def __init__(self, alpha: float, num_classes: int | None = None, prob: float | None = None):
        if not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(f"{type(self).__name__}: alpha must be a positive number, got {alpha!r}")
        if prob is not None and not 0 <= prob <= 1:
            raise ValueError(f"{type(self).__name__}: prob must be in [0, 1], got {prob!r}")
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes <= 0):
            raise ValueError(f"{type(self).__name__}: num_classes must be a positive int, got {num_classes!r}")
        self.alpha = float(alpha)
        self.num_classes = num_classes
        self.prob = prob

    def sample_lambda(self) -> float:
        return float(np.random.beta(self.alpha, self.alpha))

    def __call__(self, img: torch.Tensor, gt_label: torch.Tensor):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha}, num_classes={self.num_classes}, prob={self.prob})"


@AUGMENTS.register("BatchMixup")
@AUGMENTS.register("Mixup")
class BatchMixup(_BatchAugment):
    """Mixup: ``lam * x + (1 - lam) * x[perm]`` with ``lam ~ Beta(alpha, alpha)``; labels mixed alike."""

    def __call__(self, img, gt_label):
        soft = _to_soft(gt_label, self.num_classes)
        lam = self.sample_lambda()
        index = torch.randperm(img.shape[0], device=img.device)
        mixed_img = lam * img + (1 - lam) * img[index]
        mixed_label = lam * soft + (1 - lam) * soft[index]
        return mixed_img, mixed_label


@AUGMENTS.register("BatchCutMix")
@AUGMENTS.register("CutMix")
class BatchCutMix(_BatchAugment):
    """CutMix: paste a random box of a shuffled batch; labels mixed by the pasted area."""

    def __init__(self, alpha: float, num_classes: int | None = None, prob: float | None = None,
                 cutmix_minmax: Sequence[float] | None = None, correct_lam: bool = True):
        super().__init__(alpha, num_classes, prob)
        if cutmix_minmax is not None and len(cutmix_minmax) != 2:
            raise ValueError(f"BatchCutMix: cutmix_minmax must be (min, max), got {cutmix_minmax!r}")
        self.cutmix_minmax = None if cutmix_minmax is None else tuple(float(v) for v in cutmix_minmax)
        self.correct_lam = correct_lam

    def _box(self, height: int, width: int, lam: float) -> tuple[int, int, int, int]:
        if self.cutmix_minmax is not None:
            low, high = self.cutmix_minmax
            cut_h = int(np.random.randint(int(height * low), int(height * high)))
            cut_w = int(np.random.randint(int(width * low), int(width * high)))
        else:
            ratio = math.sqrt(1 - lam)
            cut_h, cut_w = int(height * ratio), int(width * ratio)
        cy, cx = np.random.randint(height), np.random.randint(width)
        y1, y2 = int(np.clip(cy - cut_h // 2, 0, height)), int(np.clip(cy + cut_h // 2, 0, height))
        x1, x2 = int(np.clip(cx - cut_w // 2, 0, width)), int(np.clip(cx + cut_w // 2, 0, width))
        return y1, y2, x1, x2

    def __call__(self, img, gt_label):
        soft = _to_soft(gt_label, self.num_classes)
        lam = self.sample_lambda()
        index = torch.randperm(img.shape[0], device=img.device)
        height, width = img.shape[-2:]
        y1, y2, x1, x2 = self._box(height, width, lam)
        img = img.clone()
        img[..., y1:y2, x1:x2] = img[index][..., y1:y2, x1:x2]
        if self.correct_lam or self.cutmix_minmax is not None:
            lam = 1 - (y2 - y1) * (x2 - x1) / float(height * width)
        mixed_label = lam * soft + (1 - lam) * soft[index]
        return img, mixed_label


class BatchAugments:
    """Apply one of several batch augments per batch, chosen with their ``prob``s."""

    def __init__(self, augments: Sequence[_BatchAugment]):
        self.augments = list(augments)
        probs = [aug.prob for aug in self.augments]
        if all(p is None for p in probs):
            probs = [1.0 / len(self.augments)] * len(self.augments)
        elif any(p is None for p in probs):
            raise BuildError("train_cfg.augments: give every augment a prob, or none (then one is picked uniformly)")
        total = sum(probs)
        if total > 1 + 1e-6:
            raise BuildError(f"train_cfg.augments: the augments' probs sum to {total:g}, which is more than 1")
        self.probs = probs
        self.identity_prob = max(0.0, 1.0 - total)

    def __call__(self, img: torch.Tensor, gt_label: torch.Tensor):
        choices = self.augments + [None]
        weights = self.probs + [self.identity_prob]
        chosen = random.choices(choices, weights=weights, k=1)[0]
        if chosen is None:
            return img, _to_soft(gt_label, self.augments[0].num_classes)
        return chosen(img, gt_label)

    def __repr__(self) -> str:
        return f"BatchAugments({self.augments!r})"


def build_augments(augments_cfg: Any, num_classes: int) -> BatchAugments:
    """``train_cfg['augments']`` (one dict or a list) -> :class:`BatchAugments` for ``num_classes``."""
    cfgs = [augments_cfg] if isinstance(augments_cfg, Mapping) else list(augments_cfg or [])
    if not cfgs:
        raise BuildError("train_cfg.augments is empty")
    built = []
    for cfg in cfgs:
        cfg = dict(cfg)
        given = cfg.get("num_classes")
        if given is not None and given != num_classes:
            raise BuildError(f"train_cfg.augments: {cfg.get('type')} has num_classes={given} but the head has "
                             f"{num_classes} classes", hint="set both to the number of classes of your dataset")
        cfg["num_classes"] = num_classes
        built.append(AUGMENTS.build(cfg))
    return BatchAugments(built)
