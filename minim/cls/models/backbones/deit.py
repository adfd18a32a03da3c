"""mmcls 0.x ``DistilledVisionTransformer`` (DeiT with a distillation token)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from minim.cls.models.backbones.vit import VisionTransformer
from minim.cls.models.registry import BACKBONES


@BACKBONES.register()
class DistilledVisionTransformer(VisionTransformer):
    """mmcls ``DistilledVisionTransformer``: a ``VisionTransformer`` whose class token is followed by a
    distillation token (``dist_token``); each output is ``[patch_map, cls_token, dist_token]``
    (pair it with ``DeiTClsHead``)."""

    plain_formats = ()  # torchvision's ViT has no distillation token

    num_extra_tokens = 2

    def __init__(self, arch: Any = "deit-base", *args: Any, **kwargs: Any):
        super().__init__(arch, *args, **kwargs)

    def _build_extra_tokens(self) -> None:
        super()._build_extra_tokens()
        self.dist_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        nn.init.trunc_normal_(self.dist_token, std=0.02)

    def _extra_tokens(self, batch: int) -> list[torch.Tensor]:
        return [*super()._extra_tokens(batch), self.dist_token.expand(batch, -1, -1)]
