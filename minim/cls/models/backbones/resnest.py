"""mmcls 0.x ``ResNeSt``: ResNetV1d with split-attention bottlenecks.

Built on minim's ResNet (:mod:`.resnet`) with mmcls's module names (``conv2.conv``, ``conv2.bn0``,
``conv2.fc1``, ``conv2.bn1``, ``conv2.fc2``), so mmcls checkpoints load unchanged.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from minim.cls.models.backbones.resnet import Bottleneck, ResNetV1d
from minim.cls.models.layers import build_norm2d
from minim.cls.models.registry import BACKBONES


class SplitAttentionConv2d(nn.Module):
    """A grouped conv giving ``radix`` candidate maps, mixed by a per-channel softmax attention (over the
    radix; a sigmoid gate when ``radix == 1``) computed from their pooled sum."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, groups: int = 1, radix: int = 2, reduction_factor: int = 4,
                 norm_cfg: Mapping[str, Any] | None = None):
        super().__init__()
        attention_channels = max(in_channels * radix // reduction_factor, 32)
        self.radix, self.groups = radix, groups
        self.conv = nn.Conv2d(in_channels, channels * radix, kernel_size, stride=stride, padding=padding,
                              dilation=dilation, groups=groups * radix, bias=False)
        self.bn0 = build_norm2d(norm_cfg, channels * radix)
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = nn.Conv2d(channels, attention_channels, 1, groups=groups)
        self.bn1 = build_norm2d(norm_cfg, attention_channels)
        self.fc2 = nn.Conv2d(attention_channels, channels * radix, 1, groups=groups)

    def _attention(self, logits: torch.Tensor) -> torch.Tensor:
        batch = logits.shape[0]
        if self.radix == 1:
            return torch.sigmoid(logits)
        per_group = logits.view(batch, self.groups, self.radix, -1).transpose(1, 2)
        return F.softmax(per_group, dim=1).reshape(batch, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn0(self.conv(x)))
        batch = x.shape[0]
        if self.radix > 1:
            candidates = x.view(batch, self.radix, -1, *x.shape[2:])
            pooled = candidates.sum(dim=1)
        else:
            pooled = x
        pooled = self.relu(self.bn1(self.fc1(F.adaptive_avg_pool2d(pooled, 1))))
        attention = self._attention(self.fc2(pooled)).view(batch, -1, 1, 1)
        if self.radix == 1:
            return (attention * x).contiguous()
        weights = attention.view(batch, self.radix, -1, 1, 1)
        return (weights * candidates).sum(dim=1).contiguous()


class ResNeStBottleneck(Bottleneck):
    """A Bottleneck whose 3x3 conv is a ``SplitAttentionConv2d``; with ``avg_down_stride`` a strided block
    strides by a 3x3 average pool after it instead.

    As in mmcls, the block has no drop path (``drop_path_rate`` is accepted and unused).
    """

    def __init__(self, in_channels: int, out_channels: int, radix: int = 2, reduction_factor: int = 4,
                 avg_down_stride: bool = True, drop_path_rate: float = 0.0, **kwargs: Any):
        self.radix, self.reduction_factor, self.avg_down_stride = radix, reduction_factor, avg_down_stride
        super().__init__(in_channels, out_channels, drop_path_rate=0.0, **kwargs)

    def build_middle(self, norm_cfg: Mapping[str, Any], groups: int) -> None:
        self.avg_down_stride = self.avg_down_stride and self.conv2_stride > 1
        self.conv2 = SplitAttentionConv2d(
            self.mid_channels, self.mid_channels, 3, stride=1 if self.avg_down_stride else self.conv2_stride,
            padding=self.dilation, dilation=self.dilation, groups=groups, radix=self.radix,
            reduction_factor=self.reduction_factor, norm_cfg=norm_cfg)
        if self.avg_down_stride:
            self.avd_layer = nn.AvgPool2d(3, self.conv2_stride, padding=1)

    def middle(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(x)
        return self.avd_layer(x) if self.avg_down_stride else x


@BACKBONES.register()
class ResNeSt(ResNetV1d):
    """mmcls ``ResNeSt(depth=50|101|152|200|269, groups=1, width_per_group=4, radix=2, reduction_factor=4,
    avg_down_stride=True, ...)`` (deep stem and average-pool shortcuts, as ResNetV1d)."""

    arch_settings = {
        50: (ResNeStBottleneck, (3, 4, 6, 3)),
        101: (ResNeStBottleneck, (3, 4, 23, 3)),
        152: (ResNeStBottleneck, (3, 8, 36, 3)),
        200: (ResNeStBottleneck, (3, 24, 36, 3)),
        269: (ResNeStBottleneck, (3, 30, 48, 8)),
    }

    def __init__(self, depth: int, groups: int = 1, width_per_group: int = 4, radix: int = 2,
                 reduction_factor: int = 4, avg_down_stride: bool = True, **kwargs: Any):
        self.groups, self.width_per_group = groups, width_per_group
        self.radix, self.reduction_factor, self.avg_down_stride = radix, reduction_factor, avg_down_stride
        super().__init__(depth, **kwargs)

    def block_kwargs(self) -> dict:
        return dict(groups=self.groups, width_per_group=self.width_per_group, base_channels=self.base_channels,
                    radix=self.radix, reduction_factor=self.reduction_factor, avg_down_stride=self.avg_down_stride)
