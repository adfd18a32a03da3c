"""``ImageClassifier``: backbone -> neck -> head, as mmcls 0.x builds it."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from minim.cls.checkpoint import load_checkpoint, load_prefixed_checkpoint
from minim.cls.models.augments import build_augments
from minim.cls.models.registry import BACKBONES, CLASSIFIERS, HEADS, NECKS
from minim.errors import BuildError


def _build_neck(cfg: Any) -> nn.Module:
    """One neck, or mmcls's list of necks chained in an ``nn.Sequential`` (keys ``neck.0.*``, ``neck.1.*``)."""
    if isinstance(cfg, (list, tuple)):
        return nn.Sequential(*(NECKS.build(item) for item in cfg))
    return NECKS.build(cfg)


@CLASSIFIERS.register()
class ImageClassifier(nn.Module):
    """mmcls ``ImageClassifier(backbone, neck=None, head, pretrained=None, train_cfg=None, init_cfg=None)``.

    - ``model(img)`` -> logits ``(N, C)``
    - ``model.forward_train(img, gt_label)`` -> ``{'loss': Tensor}`` (applies ``train_cfg`` augments)
    - ``model.forward_test(img)`` -> softmax scores ``(N, C)``
    - ``model.extract_feat(img, stage='neck')``; ``model.num_classes``; ``model.CLASSES``
    - ``model.init_weights()`` loads ``pretrained`` / ``init_cfg=dict(type='Pretrained', ...)``
      (whole model) and a backbone's ``init_cfg=dict(type='Pretrained', checkpoint, prefix)``.
    """

    def __init__(self, backbone: Mapping[str, Any], neck: Mapping[str, Any] | list | None = None,
                 head: Mapping[str, Any] | None = None, pretrained: str | None = None,
                 train_cfg: Mapping[str, Any] | None = None, init_cfg: Any = None):
        super().__init__()
        if head is None:
            raise BuildError("ImageClassifier needs a head (e.g. head=dict(type='LinearClsHead', ...))")
        self.backbone = BACKBONES.build(backbone)
        self.neck = _build_neck(neck) if neck is not None else None
        self.head = HEADS.build(head)
        self.CLASSES: list[str] | None = None
        if pretrained is not None:
            if init_cfg is not None:
                raise BuildError("ImageClassifier: give either pretrained or init_cfg, not both")
            init_cfg = {"type": "Pretrained", "checkpoint": pretrained}
        self.init_cfg = init_cfg
        self._check_head_fits_backbone(head)
        self.augments = None
        if train_cfg is not None:
            self._apply_train_cfg(train_cfg)

    # -- build checks ------------------------------------------------------------------------
    def _check_head_fits_backbone(self, head_cfg: Mapping[str, Any]) -> None:
        head_type = head_cfg.get("type")
        backbone_classes = getattr(self.backbone, "num_classes", None)
        feature_dim = getattr(self.backbone, "feature_dim", None)
        in_channels = getattr(self.head, "in_channels", None)
        if in_channels is None:
            if backbone_classes is None:
                raise BuildError(f"head {head_type!r} takes logits but backbone {type(self.backbone).__name__} "
                                 "outputs features; use LinearClsHead(num_classes, in_channels="
                                 f"{feature_dim})" if feature_dim else
                                 f"head {head_type!r} takes logits but the backbone outputs features")
            self.head.set_num_classes(backbone_classes)
            return
        if backbone_classes is not None:
            raise BuildError(f"backbone {type(self.backbone).__name__} keeps its classifier ({backbone_classes} "
                             f"classes) and outputs logits; use head=dict(type='ClsHead') instead of {head_type!r}")
        if feature_dim is not None and in_channels != feature_dim:
            raise BuildError(f"head {head_type!r} has in_channels={in_channels} but backbone "
                             f"{type(self.backbone).__name__} outputs {feature_dim} features",
                             hint=f"set model.head.in_channels={feature_dim}")

    def _apply_train_cfg(self, train_cfg: Mapping[str, Any]) -> None:
        if not isinstance(train_cfg, Mapping):
            raise BuildError(f"train_cfg must be a dict, got {train_cfg!r}")
        unknown = sorted(set(train_cfg) - {"augments"})
        if unknown:
            raise BuildError(f"train_cfg has unsupported key(s) {', '.join(map(repr, unknown))}; only 'augments' "
                             "(Mixup/CutMix) is supported")
        if train_cfg.get("augments") is not None:
            self.augments = build_augments(train_cfg["augments"], self.num_classes)

    # -- API ---------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """Number of classes the model predicts."""
        value = getattr(self.head, "num_classes", None) or getattr(self.backbone, "num_classes", None)
        return int(value)

    def extract_feat(self, img: torch.Tensor, stage: str = "neck"):
        """Features after ``'backbone'``, ``'neck'`` or ``'pre_logits'`` (the head's hidden layers)."""
        if stage not in ("backbone", "neck", "pre_logits"):
            raise ValueError(f"stage must be 'backbone', 'neck' or 'pre_logits', got {stage!r}")
        x = self.backbone(img)
        if stage == "backbone":
            return x
        if self.neck is not None:
            x = self.neck(x)
        if stage == "neck":
            return x
        return self.head.pre_logits(x)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)``."""
        return self.head(self.extract_feat(img))

    def forward_train(self, img: torch.Tensor, gt_label: torch.Tensor) -> dict:
        """Loss dict ``{'loss': Tensor}`` of one batch (Mixup/CutMix applied when configured)."""
        if self.augments is not None:
            img, gt_label = self.augments(img, gt_label)
        return self.head.forward_train(self.extract_feat(img), gt_label)

    def forward_test(self, img: torch.Tensor) -> torch.Tensor:
        """Softmax scores ``(N, num_classes)``."""
        return self.head.simple_test(self.extract_feat(img))

    # -- weights -----------------------------------------------------------------------------
    def init_weights(self, logger=None) -> None:
        """Load the weights that ``pretrained`` / ``init_cfg`` name (mmcv's ``init_weights`` step)."""
        for owner, module in (("model", self), ("backbone", self.backbone)):
            cfg = getattr(module, "init_cfg", None)
            if cfg is not None and not isinstance(cfg, (Mapping, list, tuple)):
                raise BuildError(f"{owner} init_cfg must be a dict such as dict(type='Pretrained', checkpoint=...), "
                                 f"got {cfg!r}", hint="on the command line give its keys one by one: "
                                 f"--cfg-options model.{'backbone.' if owner == 'backbone' else ''}init_cfg.type=...")
            if not isinstance(cfg, Mapping) or cfg.get("type") != "Pretrained":
                continue
            checkpoint = cfg.get("checkpoint")
            if not checkpoint:
                raise BuildError(f"{owner} init_cfg type 'Pretrained' needs a 'checkpoint'")
            prefix = cfg.get("prefix")
            if owner == "model" and not prefix:
                load_checkpoint(self, checkpoint, logger=logger)
            else:
                load_prefixed_checkpoint(self, checkpoint, prefix=prefix or "backbone", logger=logger)


class SoftmaxScores(nn.Module):
    """``forward(input)``: ``classifier``'s softmax scores (its ``forward_test``), as a module to trace or export."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.model = classifier

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - the exported graph input's name
        return self.model.forward_test(input)
