"""mmcls 0.x ``CSRAClsHead``: class-specific residual attention for multi-label classification."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from minim.cls.models.heads.common import MultiLabelClsHead
from minim.cls.models.registry import HEADS
from minim.errors import BuildError

#: mmcls's softmax temperatures per head count (99: max pooling)
_TEMPERATURES = {1: [1], 2: [1, 99], 4: [1, 2, 4, 99], 6: [1, 2, 3, 4, 5, 99], 8: [1, 2, 3, 4, 5, 6, 7, 99]}
_MAX_POOLING = 99


class CSRAModule(nn.Module):
    """One attention head: per-class scores of every position (a 1x1 conv with unit-norm class
    vectors), their average plus ``lam`` times their temperature-softmax-weighted average (or maximum)."""

    def __init__(self, num_classes: int, in_channels: int, temperature: int, lam: float):
        super().__init__()
        self.temperature, self.lam = temperature, lam
        self.head = nn.Conv2d(in_channels, num_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        class_norms = self.head.weight.norm(dim=1, keepdim=True).transpose(0, 1)
        scores = (self.head(x) / class_norms).flatten(2)
        base = scores.mean(dim=2)
        if self.temperature == _MAX_POOLING:
            attended = scores.max(dim=2).values
        else:
            attended = (scores * torch.softmax(scores * self.temperature, dim=2)).sum(dim=2)
        return base + self.lam * attended


@HEADS.register()
class CSRAClsHead(MultiLabelClsHead):
    """mmcls ``CSRAClsHead(num_classes, in_channels, num_heads=1|2|4|6|8, lam)`` on a feature map (no neck).

    Keys ``csra_heads.{i}.head.weight``; the logits are the sum of the heads' (sigmoid scores at test time).
    """

    def __init__(self, num_classes: int, in_channels: int, num_heads: int, lam: float,
                 loss: Mapping[str, Any] | None = None, init_cfg: Any = None):
        super().__init__(loss=loss, init_cfg=init_cfg)
        if num_heads not in _TEMPERATURES:
            raise BuildError(f"CSRAClsHead: num_heads={num_heads!r} is not supported; use one of "
                             f"{', '.join(map(str, _TEMPERATURES))}")
        if not lam > 0:
            raise BuildError(f"CSRAClsHead: lam must be positive, got {lam!r}")
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise BuildError(f"CSRAClsHead: num_classes={num_classes!r} must be a positive integer")
        self.in_channels = in_channels
        self.csra_heads = nn.ModuleList(CSRAModule(num_classes, in_channels, temperature, lam)
                                        for temperature in _TEMPERATURES[num_heads])
        self.set_num_classes(num_classes)

    def forward(self, x) -> torch.Tensor:
        features = self.pre_logits(x)
        if features.dim() != 4:
            raise ValueError(f"CSRAClsHead needs (N, C, H, W) feature maps (use neck=None), got shape "
                             f"{tuple(features.shape)}")
        return sum(head(features) for head in self.csra_heads)
