"""mmcls 0.x ``DeiTClsHead``: the distilled DeiT's two classifiers, averaged."""

from __future__ import annotations

import torch
from torch import nn

from minim.cls.models.heads.common import VisionTransformerClsHead, init_layers
from minim.cls.models.registry import HEADS


@HEADS.register()
class DeiTClsHead(VisionTransformerClsHead):
    """mmcls ``DeiTClsHead``: ``layers.head`` on the class token and ``layers.head_dist`` on the
    distillation token; the logits are their mean (training uses the same mean, as mmcls does)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        width = self.in_channels if self.hidden_dim is None else self.hidden_dim
        head_dist = nn.Linear(width, self.num_classes)
        if self.init_cfg is None:
            nn.init.zeros_(head_dist.weight)
            nn.init.zeros_(head_dist.bias)
        else:
            init_layers(head_dist, self.init_cfg)
        self.layers.add_module("head_dist", head_dist)

    def linear_layer_paths(self) -> list[str]:
        return [*super().linear_layer_paths(), "layers.head_dist"]

    def pre_logits(self, x):
        """The (class, distillation) token features (through ``pre_logits`` + act with ``hidden_dim``)."""
        if isinstance(x, tuple):
            x = x[-1]
        _, cls_token, dist_token = x
        if self.hidden_dim is None:
            return cls_token, dist_token
        return tuple(self.layers.act(self.layers.pre_logits(token)) for token in (cls_token, dist_token))

    def forward(self, x) -> torch.Tensor:
        cls_token, dist_token = self.pre_logits(x)
        return (self.layers.head(cls_token) + self.layers.head_dist(dist_token)) / 2
