"""mmcls 0.x ``MobileNetV3`` and its ``InvertedResidual`` block, with mmcls's module names
(torchvision's ``mobilenet_v3_*`` checkpoints are renamed onto them)."""

from __future__ import annotations

from typing import Any

import torch
from timm.layers import DropPath
from torch import nn
from torch.utils.checkpoint import checkpoint

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone, renamed_module_key
from minim.cls.models.layers import SELayer, conv_module
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

# Per block: kernel size, mid channels, out channels, with SE, activation, stride.
_ARCHS = {
    "small": [(3, 16, 16, True, "ReLU", 2), (3, 72, 24, False, "ReLU", 2), (3, 88, 24, False, "ReLU", 1),
              (5, 96, 40, True, "HSwish", 2), (5, 240, 40, True, "HSwish", 1), (5, 240, 40, True, "HSwish", 1),
              (5, 120, 48, True, "HSwish", 1), (5, 144, 48, True, "HSwish", 1), (5, 288, 96, True, "HSwish", 2),
              (5, 576, 96, True, "HSwish", 1), (5, 576, 96, True, "HSwish", 1)],
    "large": [(3, 16, 16, False, "ReLU", 1), (3, 64, 24, False, "ReLU", 2), (3, 72, 24, False, "ReLU", 1),
              (5, 72, 40, True, "ReLU", 2), (5, 120, 40, True, "ReLU", 1), (5, 120, 40, True, "ReLU", 1),
              (3, 240, 80, False, "HSwish", 2), (3, 200, 80, False, "HSwish", 1), (3, 184, 80, False, "HSwish", 1),
              (3, 184, 80, False, "HSwish", 1), (3, 480, 112, True, "HSwish", 1), (3, 672, 112, True, "HSwish", 1),
              (5, 672, 160, True, "HSwish", 2), (5, 960, 160, True, "HSwish", 1), (5, 960, 160, True, "HSwish", 1)],
}
_LAST_CHANNELS = {"small": 576, "large": 960}
_SE_ACTS = ({"type": "ReLU"}, {"type": "HSigmoid", "bias": 3, "divisor": 6, "min_value": 0, "max_value": 1})
_BN = {"type": "BN", "eps": 0.001, "momentum": 0.01}
_RELU = {"type": "ReLU"}


class InvertedResidual(nn.Module):
    """mmcls's ``InvertedResidual``: [1x1 ``expand_conv``] -> depthwise ``depthwise_conv`` -> [``se``]
    -> 1x1 ``linear_conv`` (no activation), plus the input when the shape allows.

    The expand conv exists only when ``mid_channels != in_channels``; ``se_cfg`` holds
    ``SELayer`` arguments.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, kernel_size: int = 3,
                 stride: int = 1, se_cfg: dict | None = None, conv_cfg=None, norm_cfg: Any = _BN,
                 act_cfg: Any = _RELU, drop_path_rate: float = 0.0, with_cp: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise BuildError(f"InvertedResidual: stride must be 1 or 2, got {stride!r}")
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_cp = with_cp
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        convs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        if mid_channels != in_channels:
            self.expand_conv = conv_module(in_channels, mid_channels, 1, act_cfg=act_cfg, **convs)
        self.depthwise_conv = conv_module(mid_channels, mid_channels, kernel_size, stride=stride,
                                          padding=kernel_size // 2, groups=mid_channels, act_cfg=act_cfg, **convs)
        if se_cfg is not None:
            self.se = SELayer(**se_cfg)
        self.linear_conv = conv_module(mid_channels, out_channels, 1, act_cfg=None, **convs)

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for name in ("expand_conv", "depthwise_conv", "se", "linear_conv"):
            if name in self._modules:
                out = self._modules[name](out)
        return x + self.drop_path(out) if self.with_res_shortcut else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


def _torchvision_block_parts(block: InvertedResidual) -> dict[str, str]:
    """torchvision ``features.{i}.block.{j}[.k]`` suffixes -> own suffixes for one InvertedResidual."""
    parts = {}
    for position, name in enumerate(n for n in ("expand_conv", "depthwise_conv", "se", "linear_conv")
                                    if n in block._modules):
        if name == "se":
            parts.update({f"block.{position}.fc1": "se.conv1.conv", f"block.{position}.fc2": "se.conv2.conv"})
        else:
            parts.update({f"block.{position}.0": f"{name}.conv", f"block.{position}.1": f"{name}.bn"})
    return parts


@BACKBONES.register()
class MobileNetV3(Backbone):
    """mmcls ``MobileNetV3(arch='small'|'large')``: ``layer0`` (stem), ``layer1..n`` (InvertedResiduals)
    and the last 1x1 conv ``layer{n+1}`` (576 / 960 channels).

    ``out_indices`` name layers (default: the last); ``frozen_stages=k`` freezes ``layer0..k``.
    torchvision's ``mobilenet_v3_*`` checkpoints load too: its two-layer classifier maps onto
    ``StackedLinearClsHead(mid_channels=[1024|1280], act_cfg=HSwish)``, mmcls's head.
    """

    def __init__(self, arch: str = "small", conv_cfg=None, norm_cfg: Any = _BN, out_indices=None,
                 frozen_stages: int = -1, norm_eval: bool = False, with_cp: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        if arch not in _ARCHS:
            raise BuildError(f"MobileNetV3: arch={arch!r} is not supported; use 'small' or 'large'")
        settings = _ARCHS[arch]
        self.num_layers = len(settings) + 2
        self.out_indices = resolve_out_indices("MobileNetV3", -1 if out_indices is None else out_indices,
                                               self.num_layers)
        self.layer0 = conv_module(3, 16, 3, stride=2, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                  act_cfg={"type": "HSwish"})
        in_channels = 16
        widths = [16]
        for i, (kernel, mid, out, with_se, act, stride) in enumerate(settings, start=1):
            se_cfg = {"channels": mid, "ratio": 4, "act_cfg": _SE_ACTS} if with_se else None
            setattr(self, f"layer{i}", InvertedResidual(in_channels, out, mid, kernel, stride, se_cfg=se_cfg,
                                                        conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg={"type": act},
                                                        with_cp=with_cp))
            in_channels = out
            widths.append(out)
        last = _LAST_CHANNELS[arch]
        setattr(self, f"layer{self.num_layers - 1}", conv_module(in_channels, last, 1, conv_cfg=conv_cfg,
                                                                 norm_cfg=norm_cfg, act_cfg={"type": "HSwish"}))
        widths.append(last)
        self.feature_dim = widths[self.out_indices[-1]]
        self.head_layers = ("classifier.0", "classifier.3")
        self._torchvision_names = self._torchvision_layer_names()
        self._check_frozen_stages("MobileNetV3")

    def _layers(self) -> list[nn.Module]:
        return [getattr(self, f"layer{i}") for i in range(self.num_layers)]

    def _torchvision_layer_names(self) -> dict[str, str]:
        """torchvision module paths (``features.{i}...``) -> own module paths."""
        last = self.num_layers - 1
        names = {"features.0.0": "layer0.conv", "features.0.1": "layer0.bn",
                 f"features.{last}.0": f"layer{last}.conv", f"features.{last}.1": f"layer{last}.bn"}
        for i in range(1, last):
            for theirs, ours in _torchvision_block_parts(getattr(self, f"layer{i}")).items():
                names[f"features.{i}.{theirs}"] = f"layer{i}.{ours}"
        return names

    def plain_key_to_own(self, key: str) -> str | None:
        return renamed_module_key(key, self._torchvision_names)

    #: minim's checkpoints before it used mmcls's names kept torchvision's under ``backbone.``
    classifier_key_to_own = plain_key_to_own

    plain_formats = ("torchvision",)

    def own_key_to_plain(self, key: str) -> str:
        return renamed_module_key(key, {own: plain for plain, own in self._torchvision_names.items()})

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[layer] for layer in self._layers()]

    def forward(self, x: torch.Tensor):
        outs = []
        for i, layer in enumerate(self._layers()):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)
