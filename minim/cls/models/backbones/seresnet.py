"""mmcls 0.x ``SEResNet`` and ``SEResNeXt``: ResNet / ResNeXt bottlenecks with a squeeze-excitation gate.

Built on minim's ResNet (:mod:`.resnet`) with mmcls's module names (``layer{s}.{b}.se_layer.conv{1,2}.conv``),
so mmcls checkpoints load unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

from minim.cls.models.backbones.resnet import Bottleneck, ResNet
from minim.cls.models.layers import SELayer
from minim.cls.models.registry import BACKBONES


class SEBottleneck(Bottleneck):
    """A Bottleneck whose residual is gated by an ``SELayer(out_channels, ratio=se_ratio)``.

    As in mmcls, the block has no drop path (``drop_path_rate`` is accepted and unused).
    """

    def __init__(self, in_channels: int, out_channels: int, se_ratio: int = 16, drop_path_rate: float = 0.0,
                 **kwargs: Any):
        super().__init__(in_channels, out_channels, drop_path_rate=0.0, **kwargs)
        self.se_layer = SELayer(out_channels, ratio=se_ratio)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.se_layer(super().residual(x))


_SE_ARCHS = {depth: (SEBottleneck, blocks) for depth, (_, blocks) in ResNet.arch_settings.items() if depth >= 50}


@BACKBONES.register()
class SEResNet(ResNet):
    """mmcls ``SEResNet(depth=50|101|152, se_ratio=16, ...)``; the other arguments are ResNet's."""

    arch_settings = _SE_ARCHS

    def __init__(self, depth: int, se_ratio: int = 16, **kwargs: Any):
        self.se_ratio = se_ratio
        super().__init__(depth, **kwargs)

    def block_kwargs(self) -> dict:
        return dict(se_ratio=self.se_ratio)


@BACKBONES.register()
class SEResNeXt(SEResNet):
    """mmcls ``SEResNeXt(depth=50|101|152, groups=32, width_per_group=4, se_ratio=16, ...)``."""

    def __init__(self, depth: int, groups: int = 32, width_per_group: int = 4, **kwargs: Any):
        self.groups, self.width_per_group = groups, width_per_group
        super().__init__(depth, **kwargs)

    def block_kwargs(self) -> dict:
        return dict(super().block_kwargs(), groups=self.groups, width_per_group=self.width_per_group,
                    base_channels=self.base_channels)
