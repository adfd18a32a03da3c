"""mmcls ``EfficientFormerClsHead``: a classifier and, with distillation, a second one averaged with it."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from minim.cls.models.heads.common import ClsHead, init_layers
from minim.cls.models.registry import HEADS
from minim.errors import BuildError


@HEADS.register()
class EfficientFormerClsHead(ClsHead):
    """Keys ``head.head`` and (``distillation=True``, the default) ``head.dist_head``.

    Logits are ``head(x)``, or ``(head(x) + dist_head(x)) / 2`` with distillation; as in mmcls,
    the distilled head cannot be trained.
    """

    def __init__(self, num_classes: int, in_channels: int, distillation: bool = True, init_cfg: Any = None,
                 loss: Mapping[str, Any] | None = None, topk: Any = (1,), cal_acc: bool = False):
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc)
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"num_classes={num_classes!r} must be a positive integer")
        self.in_channels = in_channels
        self.dist = bool(distillation)
        self.head = nn.Linear(in_channels, num_classes)
        if self.dist:
            self.dist_head = nn.Linear(in_channels, num_classes)
        self.init_cfg = init_cfg if init_cfg is not None else {"type": "Normal", "layer": "Linear", "std": 0.01}
        init_layers(self, self.init_cfg)
        self.set_num_classes(num_classes)

    def linear_layer_paths(self) -> list[str]:
        return ["head", "dist_head"] if self.dist else ["head"]

    def forward(self, x) -> torch.Tensor:
        x = self.pre_logits(x)
        logits = self.head(x)
        return (logits + self.dist_head(x)) / 2 if self.dist else logits

    def forward_train(self, x, gt_label: torch.Tensor) -> dict:
        if self.dist:
            raise BuildError("EfficientFormerClsHead: the distilled head cannot be trained (as in mmcls); "
                             "set model.head.distillation=False to fine-tune")
        return super().forward_train(x, gt_label)
