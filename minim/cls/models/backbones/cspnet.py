"""mmcls 0.x cross-stage-partial networks: ``CSPDarkNet``, ``CSPResNet``, ``CSPResNeXt``.

minim's own implementation with mmcls's module names (``stem``, ``stages.{i}.downsample_conv``,
``expand_conv``, ``blocks``, ``atfer_blocks_conv`` (sic), ``final_conv``), so mmcls checkpoints load
unchanged.  The ResNet / ResNeXt blocks are minim's (:mod:`.resnet`).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from minim.cls.models.backbones._checks import norm_type, require_value, resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.resnet import Bottleneck
from minim.cls.models.layers import conv_module
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_DEFAULT_NORM = {"type": "BN", "eps": 1e-5}
_DEFAULT_ACT = {"type": "LeakyReLU", "inplace": True}


class DarknetBottleneck(nn.Module):
    """1x1 then 3x3 conv-norm-act, plus the input when the widths agree (mmcls ``DarknetBottleneck``)."""

    def __init__(self, in_channels: int, out_channels: int, expansion: float = 2,
                 norm_cfg: Mapping[str, Any] = _DEFAULT_NORM, act_cfg: Mapping[str, Any] = _DEFAULT_ACT):
        super().__init__()
        hidden = int(out_channels / expansion)
        self.conv1 = conv_module(in_channels, hidden, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = conv_module(hidden, out_channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.add_identity = in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


def _resnet_block(in_channels: int, out_channels: int, expansion: int, norm_cfg: Mapping[str, Any],
                  act_cfg: Mapping[str, Any]) -> nn.Module:
    return Bottleneck(in_channels, out_channels, expansion=expansion, norm_cfg=norm_cfg, act_cfg=act_cfg)


def _resnext_block(in_channels: int, out_channels: int, expansion: int, norm_cfg: Mapping[str, Any],
                   act_cfg: Mapping[str, Any]) -> nn.Module:
    return Bottleneck(in_channels, out_channels, expansion=expansion, norm_cfg=norm_cfg, act_cfg=act_cfg,
                      groups=32, width_per_group=4, base_channels=32)


class CSPStage(nn.Module):
    """Downsample, expand, split in halves: one half through the blocks, then both concatenated and fused."""

    def __init__(self, block_fn, in_channels: int, out_channels: int, has_downsampler: bool, down_growth: bool,
                 expand_ratio: float, bottle_ratio: float, num_blocks: int, norm_cfg: Mapping[str, Any], act_cfg: Mapping[str, Any]):
        super().__init__()
        down_channels = out_channels if down_growth else in_channels
        if has_downsampler:
            self.downsample_conv = conv_module(in_channels, down_channels, 3, stride=2, padding=1,
                                               groups=32 if block_fn is _resnext_block else 1,
                                               norm_cfg=norm_cfg, act_cfg=act_cfg)
        else:
            self.downsample_conv = nn.Identity()
        expanded = int(down_channels * expand_ratio)
        if expanded % 2:
            raise BuildError(f"CSPNet: a stage's expanded width must be even, got {expanded}")
        self.expand_conv = conv_module(down_channels, expanded, 1, norm_cfg=norm_cfg,
                                       act_cfg=act_cfg if block_fn is DarknetBottleneck else None)
        half = expanded // 2
        self.blocks = nn.Sequential(*(block_fn(half, half, expansion=bottle_ratio, norm_cfg=norm_cfg,
                                               act_cfg=act_cfg) for _ in range(num_blocks)))
        self.atfer_blocks_conv = conv_module(half, half, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.final_conv = conv_module(2 * half, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.expand_conv(self.downsample_conv(x))
        kept, processed = x.chunk(2, dim=1)
        processed = self.atfer_blocks_conv(self.blocks(processed))
        return self.final_conv(torch.cat((kept, processed), dim=1))


def _per_stage(arch: Mapping[str, Any], num_stages: int) -> list[dict]:
    """mmcls's ``expand_arch``: one setting dict per stage (scalars repeated)."""
    def expand(value):
        return list(value) if isinstance(value, (list, tuple)) else [value] * num_stages

    columns = {key: expand(value) for key, value in arch.items()}
    return [{key: column[i] for key, column in columns.items()} for i in range(num_stages)]


class _CSPNet(Backbone):
    """The CSP backbones' shared body: ``stem`` then ``stages``, outputs of the ``out_indices`` stages."""

    arch: dict[str, Any] = {}

    def __init__(self, depth: int, in_channels: int, out_indices: Any, frozen_stages: int, conv_cfg: Any,
                 norm_cfg: Mapping[str, Any] | None, act_cfg: Mapping[str, Any] | None, norm_eval: bool,
                 init_cfg: Any):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = type(self).__name__
        require_value(name, "depth", depth, 50 if name != "CSPDarkNet" else 53)
        require_value(name, "conv_cfg", conv_cfg, None)
        self.depth = depth
        self.norm_cfg = norm_type(name, norm_cfg, "BN", "SyncBN") or dict(_DEFAULT_NORM)
        self.act_cfg = dict(act_cfg) if act_cfg is not None else dict(_DEFAULT_ACT)
        stage_channels = self.arch["in_channels"]
        self.stem = self._make_stem(in_channels, stage_channels[0])
        settings = _per_stage(self.arch, len(stage_channels))
        self.stages = nn.Sequential(*(CSPStage(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg, **setting)
                                      for setting in settings))
        self.out_indices = resolve_out_indices(name, out_indices, len(settings))
        self.feature_dim = settings[self.out_indices[-1]]["out_channels"]
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        self._check_frozen_stages(name)

    def _make_stem(self, in_channels: int, stem_channels: int) -> nn.Module:
        raise NotImplementedError

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        outs = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def stage_modules(self) -> list[list[nn.Module]]:
        """As mmcls freezes them: ``frozen_stages=0`` freezes the stem and the first stage."""
        return [[self.stem, self.stages[0]]] + [[stage] for stage in self.stages[1:]]


@BACKBONES.register()
class CSPDarkNet(_CSPNet):
    """mmcls ``CSPDarkNet(depth=53)``: a 3x3 stem and five CSP stages of Darknet bottlenecks."""

    arch = dict(block_fn=DarknetBottleneck, in_channels=(32, 64, 128, 256, 512),
                out_channels=(64, 128, 256, 512, 1024), num_blocks=(1, 2, 8, 8, 4), expand_ratio=(2, 1, 1, 1, 1),
                bottle_ratio=(2, 1, 1, 1, 1), has_downsampler=True, down_growth=True)

    def __init__(self, depth: int, in_channels: int = 3, out_indices: Any = (4,), frozen_stages: int = -1,
                 conv_cfg=None, norm_cfg: Mapping[str, Any] | None = None, act_cfg: Mapping[str, Any] | None = None,
                 norm_eval: bool = False, init_cfg: Any = None):
        super().__init__(depth, in_channels, out_indices, frozen_stages, conv_cfg, norm_cfg, act_cfg, norm_eval,
                         init_cfg)

    def _make_stem(self, in_channels: int, stem_channels: int) -> nn.Module:
        return conv_module(in_channels, stem_channels, 3, padding=1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)


@BACKBONES.register()
class CSPResNet(_CSPNet):
    """mmcls ``CSPResNet(depth=50, deep_stem=False)``: a ResNet stem and four CSP stages of bottlenecks."""

    arch = dict(block_fn=_resnet_block, in_channels=(64, 128, 256, 512), out_channels=(128, 256, 512, 1024),
                num_blocks=(3, 3, 5, 2), expand_ratio=4, bottle_ratio=2, has_downsampler=(False, True, True, True),
                down_growth=False)

    def __init__(self, depth: int, in_channels: int = 3, out_indices: Any = (3,), frozen_stages: int = -1,
                 deep_stem: bool = False, conv_cfg=None, norm_cfg: Mapping[str, Any] | None = None,
                 act_cfg: Mapping[str, Any] | None = None, norm_eval: bool = False, init_cfg: Any = None):
        self.deep_stem = bool(deep_stem)
        super().__init__(depth, in_channels, out_indices, frozen_stages, conv_cfg, norm_cfg, act_cfg, norm_eval,
                         init_cfg)

    def _make_stem(self, in_channels: int, stem_channels: int) -> nn.Module:
        norm, act = self.norm_cfg, self.act_cfg
        if self.deep_stem:
            half = stem_channels // 2
            return nn.Sequential(conv_module(in_channels, half, 3, stride=2, padding=1, norm_cfg=norm, act_cfg=act),
                                 conv_module(half, half, 3, padding=1, norm_cfg=norm, act_cfg=act),
                                 conv_module(half, stem_channels, 3, padding=1, norm_cfg=norm, act_cfg=act))
        return nn.Sequential(conv_module(in_channels, stem_channels, 7, stride=2, padding=3, norm_cfg=norm,
                                         act_cfg=act),
                             nn.MaxPool2d(kernel_size=3, stride=2, padding=1))


@BACKBONES.register()
class CSPResNeXt(CSPResNet):
    """mmcls ``CSPResNeXt(depth=50, deep_stem=False)``: CSPResNet with ResNeXt (32x4d) bottlenecks."""

    arch = dict(block_fn=_resnext_block, in_channels=(64, 256, 512, 1024), out_channels=(256, 512, 1024, 2048),
                num_blocks=(3, 3, 5, 2), expand_ratio=(4, 2, 2, 2), bottle_ratio=4,
                has_downsampler=(False, True, True, True), down_growth=False)
