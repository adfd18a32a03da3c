"""mmcls 0.x ``LeNet5`` (32x32 single-channel input), with mmcls's module names."""

from __future__ import annotations

import torch
from torch import nn

from minim.cls.models.backbones.base import Backbone
from minim.cls.models.registry import BACKBONES


@BACKBONES.register()
class LeNet5(Backbone):
    """mmcls ``LeNet5(num_classes=-1)``: three tanh convolutions (``features``), and with
    ``num_classes > 0`` the two-layer ``classifier``, whose logits it outputs (pair it with
    ``ClsHead``, as mmcls does); otherwise the ``(N, 120, 1, 1)`` feature map.
    """

    def __init__(self, num_classes: int = -1, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5), nn.Tanh(), nn.AvgPool2d(kernel_size=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(kernel_size=2),
            nn.Conv2d(16, 120, kernel_size=5), nn.Tanh())
        self.include_top = num_classes > 0
        if self.include_top:
            self.num_classes = num_classes
            self.classifier = nn.Sequential(nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes))
            self.num_classes_keys = ("classifier.2.",)
        else:
            self.feature_dim = 120

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(torch.flatten(x, 1)) if self.include_top else x
