"""mmcls 0.x ``ShuffleNetV1`` (no torchvision or timm counterpart), with mmcls's module names."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from torchvision.models.shufflenetv2 import channel_shuffle

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.shufflenet_v2 import ShuffleNetBackbone
from minim.cls.models.layers import build_activation, conv_module, make_divisible
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

#: output channels of the three stages, by group count of the 1x1 convolutions
_STAGE_CHANNELS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
                   8: (384, 768, 1536)}
_STAGE_BLOCKS = (4, 8, 4)
_BN = {"type": "BN"}
_RELU = {"type": "ReLU"}


class ShuffleUnit(nn.Module):
    """Grouped 1x1 compress -> depthwise 3x3 -> channel shuffle -> grouped 1x1 expand.

    The first unit of a stage (``downsample``) has stride 2 and concatenates its output with the
    3x3-average-pooled input; the others add the input.  The network's very first unit uses an
    ungrouped compress convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int, first_block: bool, downsample: bool,
                 conv_cfg, norm_cfg, act_cfg, with_cp: bool):
        super().__init__()
        self.groups = groups
        self.downsample = downsample
        self.with_cp = with_cp
        bottleneck = out_channels // 4
        if downsample:
            out_channels -= in_channels
        elif in_channels != out_channels:
            raise BuildError(f"ShuffleNetV1: an adding unit needs in_channels == out_channels, got {in_channels} "
                             f"and {out_channels}")
        self.g_conv_1x1_compress = conv_module(in_channels, bottleneck, 1, groups=1 if first_block else groups,
                                               conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.depthwise_conv3x3_bn = conv_module(bottleneck, bottleneck, 3, stride=2 if downsample else 1, padding=1,
                                                groups=bottleneck, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        self.g_conv_1x1_expand = conv_module(bottleneck, out_channels, 1, groups=groups, conv_cfg=conv_cfg,
                                             norm_cfg=norm_cfg, act_cfg=None)
        self.act = build_activation(act_cfg)

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.depthwise_conv3x3_bn(self.g_conv_1x1_compress(x))
        if self.groups > 1:
            out = channel_shuffle(out, self.groups)
        out = self.g_conv_1x1_expand(out)
        if self.downsample:
            return torch.cat((F.avg_pool2d(x, kernel_size=3, stride=2, padding=1), self.act(out)), 1)
        return self.act(x + out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


@BACKBONES.register()
class ShuffleNetV1(ShuffleNetBackbone):
    """mmcls ``ShuffleNetV1(groups=1|2|3|4|8, widen_factor=1.0)``.

    Keys ``conv1.*`` (stem) and ``layers.{0,1,2}.{j}.*`` (ShuffleUnits); ``out_indices`` name the
    three stages (default 2); ``frozen_stages=k`` freezes the stem's parameters and stages
    ``0..k-1``, as mmcls does.
    """

    frozen_layers = 2

    def __init__(self, groups: int = 3, widen_factor: float = 1.0, out_indices=(2,), frozen_stages: int = -1,
                 conv_cfg=None, norm_cfg: Any = _BN, act_cfg: Any = _RELU, norm_eval: bool = False,
                 with_cp: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        if groups not in _STAGE_CHANNELS:
            raise BuildError(f"ShuffleNetV1: groups={groups!r} is not supported; use 1, 2, 3, 4 or 8")
        channels = [make_divisible(c * widen_factor, 8) for c in _STAGE_CHANNELS[groups]]
        self.out_indices = resolve_out_indices("ShuffleNetV1", out_indices, 3)
        in_channels = int(24 * widen_factor)
        self.conv1 = conv_module(3, in_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=act_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList()
        for stage, (out_channels, blocks) in enumerate(zip(channels, _STAGE_BLOCKS)):
            self.layers.append(nn.Sequential(*(
                ShuffleUnit(in_channels if i == 0 else out_channels, out_channels, groups,
                            first_block=stage == 0 and i == 0, downsample=i == 0, conv_cfg=conv_cfg,
                            norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp) for i in range(blocks))))
            in_channels = out_channels
        self.feature_dim = channels[self.out_indices[-1]]
        self._check_frozen_stages("ShuffleNetV1")

