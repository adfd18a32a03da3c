"""mmcls 0.x ``Res2Net``: bottlenecks whose 3x3 conv is split into ``scales`` hierarchical groups.

Built on minim's ResNet (:mod:`.resnet`) with mmcls's module names (``convs.{i}``, ``bns.{i}``), so
mmcls checkpoints load unchanged.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

from minim.cls.models.backbones.resnet import Bottleneck, ResNet, conv3x3
from minim.cls.models.layers import build_norm2d
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError


class Bottle2neck(Bottleneck):
    """Res2Net's bottleneck: ``conv1`` gives ``scales`` slices of ``width`` channels; all but the last go
    through a 3x3 conv each, every one (except in a stage's first block) fed the previous one's output
    plus its own slice; the last slice passes unchanged (average-pooled in a stage's first block).

    As in mmcls, the block has no drop path (``drop_path_rate`` is accepted and unused).
    """

    def __init__(self, in_channels: int, out_channels: int, scales: int = 4, base_width: int = 26,
                 base_channels: int = 64, stage_type: str = "normal", drop_path_rate: float = 0.0, **kwargs: Any):
        if scales <= 1:
            raise BuildError(f"Res2Net: scales must be > 1 (scales=1 is a plain ResNet), got {scales!r}")
        self.scales, self.base_width, self.first_in_stage = scales, base_width, stage_type == "stage"
        super().__init__(in_channels, out_channels, base_channels=base_channels, drop_path_rate=0.0, **kwargs)

    def middle_channels(self, plain: int, groups: int, width_per_group: int, base_channels: int) -> int:
        self.width = int(math.floor(plain * (self.base_width / base_channels)))
        return self.width * self.scales

    def build_middle(self, norm_cfg: Mapping[str, Any], groups: int) -> None:
        if self.first_in_stage:
            self.pool = nn.AvgPool2d(kernel_size=3, stride=self.conv2_stride, padding=1)
        self.convs = nn.ModuleList(conv3x3(self.width, self.width, self.conv2_stride, self.dilation)
                                   for _ in range(self.scales - 1))
        self.bns = nn.ModuleList(build_norm2d(norm_cfg, self.width) for _ in range(self.scales - 1))

    def middle(self, x: torch.Tensor) -> torch.Tensor:
        slices = torch.split(x, self.width, 1)
        outputs = []
        for index, (conv, norm) in enumerate(zip(self.convs, self.bns)):
            part = slices[index] if index == 0 or self.first_in_stage else part + slices[index]
            part = self.relu(norm(conv(part.contiguous())))
            outputs.append(part)
        outputs.append(self.pool(slices[-1]) if self.first_in_stage else slices[-1])
        return torch.cat(outputs, 1)


@BACKBONES.register()
class Res2Net(ResNet):
    """mmcls ``Res2Net(depth=50|101|152, scales=4, base_width=26, deep_stem=True, avg_down=True, ...)``.

    With ``avg_down`` every shortcut that changes shape starts with an average pool (of size 1 where
    the stage does not stride), as in mmcls.
    """

    arch_settings = {depth: (Bottle2neck, blocks) for depth, (_, blocks) in ResNet.arch_settings.items()
                     if depth >= 50}

    def __init__(self, depth: int, scales: int = 4, base_width: int = 26, style: str = "pytorch",
                 deep_stem: bool = True, avg_down: bool = True, init_cfg: Any = None, **kwargs: Any):
        self.scales, self.base_width = scales, base_width
        super().__init__(depth, style=style, deep_stem=deep_stem, avg_down=avg_down, init_cfg=init_cfg, **kwargs)

    def block_kwargs(self) -> dict:
        return dict(scales=self.scales, base_width=self.base_width, base_channels=self.base_channels)

    def _make_block(self, block: type, index: int, **kwargs: Any) -> nn.Module:
        return block(stage_type="stage" if index == 0 else "normal", **kwargs)

    def _make_downsample(self, in_channels: int, out_channels: int, stride: int,
                         pool_always: bool = True) -> nn.Sequential:
        return super()._make_downsample(in_channels, out_channels, stride, pool_always=pool_always)
