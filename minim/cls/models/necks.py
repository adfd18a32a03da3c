"""Necks between backbone and head."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from minim.cls.models.backbones.hrnet import res_layer
from minim.cls.models.layers import conv_module
from minim.cls.models.registry import NECKS
from minim.errors import BuildError


def _pool(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 2:
        return x
    if x.dim() in (3, 4, 5):
        return x.flatten(2).mean(dim=2)
    raise ValueError(f"GlobalAveragePooling expects (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs, "
                     f"got shape {tuple(x.shape)}")


@NECKS.register()
class GlobalAveragePooling(nn.Module):
    """mmcls ``GlobalAveragePooling``: averages feature maps to ``(N, C)``; ``(N, C)`` passes through.

    ``dim`` is accepted for mmcls compatibility (1, 2 or 3); pooling always averages over
    every spatial axis.
    """

    def __init__(self, dim: int = 2):
        super().__init__()
        if dim not in (1, 2, 3):
            raise ValueError(f"GlobalAveragePooling: dim must be 1, 2 or 3, got {dim!r}")
        self.dim = dim

    def forward(self, x):
        if isinstance(x, (tuple, list)):
            return tuple(_pool(item) for item in x)
        return _pool(x)


_FUSE_NORM = {"type": "BN", "momentum": 0.1}


@NECKS.register()
class HRFuseScales(nn.Module):
    """mmcls ``HRFuseScales(in_channels, out_channels=2048)``: fuses HRNet's four scales into one map.

    Each scale is widened to 128/256/512/1024 channels by one Bottleneck (``increase_layers``); the
    running sum is strided down a scale (``downsample_layers``, 3x3 ConvModules) before adding the
    next; a 1x1 ConvModule (``final_layer``) gives ``out_channels``.  Returns a 1-tuple, like mmcls.
    """

    widths = (128, 256, 512, 1024)

    def __init__(self, in_channels: Sequence[int], out_channels: int = 2048,
                 norm_cfg: Mapping[str, Any] = _FUSE_NORM, init_cfg: Any = None):
        super().__init__()
        if len(in_channels) != len(self.widths):
            raise BuildError(f"HRFuseScales: in_channels must give HRNet's {len(self.widths)} scales, "
                             f"got {in_channels!r}")
        self.in_channels = tuple(in_channels)
        self.increase_layers = nn.ModuleList(
            res_layer("BOTTLENECK", channels, width, 1) for channels, width in zip(in_channels, self.widths))
        self.downsample_layers = nn.ModuleList(
            conv_module(self.widths[i], self.widths[i + 1], 3, stride=2, padding=1, bias=False, norm_cfg=norm_cfg)
            for i in range(len(self.widths) - 1))
        self.final_layer = conv_module(self.widths[-1], out_channels, 1, bias=False, norm_cfg=norm_cfg)

    def forward(self, x: Sequence[torch.Tensor]) -> tuple[torch.Tensor]:
        if not isinstance(x, (tuple, list)) or len(x) != len(self.in_channels):
            raise ValueError(f"HRFuseScales expects {len(self.in_channels)} feature maps (HRNet's output)")
        fused = self.increase_layers[0](x[0])
        for downsample, increase, scale in zip(self.downsample_layers, self.increase_layers[1:], x[1:]):
            fused = downsample(fused) + increase(scale)
        return (self.final_layer(fused),)
