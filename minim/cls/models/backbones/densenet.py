"""mmcls 0.x ``DenseNet``, with mmcls's module names (torchvision's checkpoints are renamed onto them)."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.layers import build_activation, build_norm2d
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_ARCHS = {
    "121": {"growth_rate": 32, "depths": [6, 12, 24, 16], "init_channels": 64},
    "169": {"growth_rate": 32, "depths": [6, 12, 32, 32], "init_channels": 64},
    "201": {"growth_rate": 32, "depths": [6, 12, 48, 32], "init_channels": 64},
    "161": {"growth_rate": 48, "depths": [6, 12, 36, 24], "init_channels": 96},
}
_BN = {"type": "BN"}
_RELU = {"type": "ReLU"}

# torchvision ``features.*`` module paths -> own paths (see ``DenseNet.plain_key_to_own``)
_TORCHVISION_NAMES = (
    (re.compile(r"features\.conv0\."), lambda m: "stem.0."),
    (re.compile(r"features\.norm0\."), lambda m: "stem.1."),
    (re.compile(r"features\.denseblock(\d+)\.denselayer(\d+)\."),
     lambda m: f"stages.{int(m.group(1)) - 1}.block.{int(m.group(2)) - 1}."),
    (re.compile(r"features\.transition(\d+)\."), lambda m: f"transitions.{int(m.group(1)) - 1}."),
)
# and back (see ``DenseNet.own_key_to_plain``)
_OWN_NAMES = (
    (re.compile(r"stem\.0\."), lambda m: "features.conv0."),
    (re.compile(r"stem\.1\."), lambda m: "features.norm0."),
    (re.compile(r"stages\.(\d+)\.block\.(\d+)\."),
     lambda m: f"features.denseblock{int(m.group(1)) + 1}.denselayer{int(m.group(2)) + 1}."),
    (re.compile(r"transitions\.(\d+)\."), lambda m: f"features.transition{int(m.group(1)) + 1}."),
)


class DenseLayer(nn.Module):
    """norm1 -> act -> 1x1 conv1 -> norm2 -> act -> 3x3 conv2 on the concatenated earlier features."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, norm_cfg, act_cfg, drop_rate: float,
                 memory_efficient: bool):
        super().__init__()
        self.norm1 = build_norm2d(norm_cfg, in_channels)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.act = build_activation(act_cfg)
        self.norm2 = build_norm2d(norm_cfg, bn_size * growth_rate)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def _bottleneck(self, *features: torch.Tensor) -> torch.Tensor:
        return self.conv1(self.act(self.norm1(torch.cat(features, 1))))

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        if self.memory_efficient and any(f.requires_grad for f in features):
            out = checkpoint(self._bottleneck, *features, use_reentrant=False)
        else:
            out = self._bottleneck(*features)
        out = self.conv2(self.act(self.norm2(out)))
        return F.dropout(out, p=self.drop_rate, training=self.training) if self.drop_rate > 0 else out


class DenseBlock(nn.Module):
    """``block``: DenseLayers, each fed every earlier output; returns them all concatenated."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, **layer_args: Any):
        super().__init__()
        self.block = nn.ModuleList(DenseLayer(in_channels + i * growth_rate, growth_rate, **layer_args)
                                   for i in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.block:
            features.append(layer(features))
        return torch.cat(features, 1)


def _transition(in_channels: int, out_channels: int, norm_cfg, act_cfg) -> nn.Sequential:
    return nn.Sequential(OrderedDict(norm=build_norm2d(norm_cfg, in_channels), act=build_activation(act_cfg),
                              conv=nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
                              pool=nn.AvgPool2d(kernel_size=2, stride=2)))


def _arch_settings(arch: Any) -> dict:
    if isinstance(arch, Mapping):
        keys = {"growth_rate", "depths", "init_channels"}
        if not keys <= set(arch):
            raise BuildError(f"DenseNet: a custom arch needs the keys {sorted(keys)}, got {arch!r}")
        return dict(arch)
    if str(arch) not in _ARCHS:
        raise BuildError(f"DenseNet: arch={arch!r} is not supported; use {', '.join(map(repr, _ARCHS))} or a dict")
    return _ARCHS[str(arch)]


@BACKBONES.register()
class DenseNet(Backbone):
    """mmcls ``DenseNet(arch='121'|'161'|'169'|'201'|dict(growth_rate, depths, init_channels))``.

    Keys ``stem.*``, ``stages.{i}.block.{j}.*`` and ``transitions.{i}.*`` (the last transition
    is mmcls's final norm + activation); torchvision's ``densenet*`` checkpoints load too.
    Outputs the feature maps after the transitions of ``out_indices``; ``frozen_stages=k``
    freezes stages (with their transitions) ``0..k-1``.
    """

    def __init__(self, arch: Any = "121", in_channels: int = 3, bn_size: int = 4, drop_rate: float = 0.0,
                 compression_factor: float = 0.5, memory_efficient: bool = False, norm_cfg: Any = _BN,
                 act_cfg: Any = _RELU, out_indices=-1, frozen_stages: int = 0, init_cfg=None):
        super().__init__(frozen_stages=frozen_stages, init_cfg=init_cfg)
        settings = _arch_settings(arch)
        growth_rate, depths, channels = settings["growth_rate"], settings["depths"], settings["init_channels"]
        self.act = build_activation(act_cfg)
        if any(True for _ in self.act.parameters()):
            raise BuildError(f"DenseNet: act_cfg={act_cfg!r} has parameters, which mmcls's DenseNet shares between "
                             "layers; use a parameter-free activation")
        self.out_indices = resolve_out_indices("DenseNet", out_indices, len(depths))
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, kernel_size=7, stride=2, padding=3, bias=False),
                                  build_norm2d(norm_cfg, channels), self.act,
                                  nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        widths = []
        for i, depth in enumerate(depths):
            self.stages.append(DenseBlock(depth, channels, growth_rate, bn_size=bn_size, norm_cfg=norm_cfg,
                                          act_cfg=act_cfg, drop_rate=drop_rate, memory_efficient=memory_efficient))
            channels += depth * growth_rate
            if i < len(depths) - 1:
                reduced = math.floor(channels * compression_factor)
                self.transitions.append(_transition(channels, reduced, norm_cfg, act_cfg))
                channels = reduced
            else:
                self.transitions.append(nn.Sequential(build_norm2d(norm_cfg, channels), self.act))
            widths.append(channels)
        self.feature_dim = widths[self.out_indices[-1]]
        self.head_layers = ("classifier",)
        self._check_frozen_stages("DenseNet")

    def plain_key_to_own(self, key: str) -> str | None:
        if key.startswith("features.norm5."):
            return f"transitions.{len(self.transitions) - 1}.0." + key[len("features.norm5."):]
        return _renamed(key, _TORCHVISION_NAMES)

    plain_formats = ("torchvision",)

    def own_key_to_plain(self, key: str) -> str:
        last = f"transitions.{len(self.transitions) - 1}.0."
        if key.startswith(last):
            return "features.norm5." + key[len(last):]
        return _renamed(key, _OWN_NAMES)

    #: minim's checkpoints before it used mmcls's names kept torchvision's under ``backbone.``
    classifier_key_to_own = plain_key_to_own

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[]] + [[stage, transition] for stage, transition in zip(self.stages, self.transitions)]

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        outs = []
        for i, (stage, transition) in enumerate(zip(self.stages, self.transitions)):
            x = transition(stage(x))
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)


def _renamed(key: str, names) -> str:
    """``key`` with the prefix the first matching ``(pattern, new prefix)`` of ``names`` replaced."""
    for pattern, new in names:
        match = pattern.match(key)
        if match:
            return new(match) + key[match.end():]
    return key
