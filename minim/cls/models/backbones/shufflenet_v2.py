"""mmcls 0.x ``ShuffleNetV2``, with mmcls's module names (torchvision's checkpoints are renamed onto them)."""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from torchvision.models.shufflenetv2 import channel_shuffle

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.layers import conv_module
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_STAGE_CHANNELS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024),
                   2.0: (244, 488, 976, 2048)}
_STAGE_BLOCKS = (4, 8, 4)
_BN = {"type": "BN"}
_RELU = {"type": "ReLU"}

# torchvision module paths -> own paths: the Conv2d / BatchNorm2d of each of its conv-BN(-ReLU) runs
_TORCHVISION_CONVS = {"branch1": {"0": "0.conv", "1": "0.bn", "2": "1.conv", "3": "1.bn"},
                      "branch2": {"0": "0.conv", "1": "0.bn", "3": "1.conv", "4": "1.bn", "5": "2.conv", "6": "2.bn"}}
_TORCHVISION_KEY = re.compile(r"stage(\d)\.(\d+)\.(branch[12])\.(\d)\.")
#: the reverse of ``_TORCHVISION_CONVS`` and ``_TORCHVISION_KEY`` (own keys -> torchvision's)
_PLAIN_INDEX = {branch: {inner: index for index, inner in convs.items()}
                for branch, convs in _TORCHVISION_CONVS.items()}
_OWN_KEY = re.compile(r"layers\.([012])\.(\d+)\.(branch[12])\.(\d\.(?:conv|bn))\.")


class ShuffleV2Block(nn.Module):
    """mmcls's ShuffleNetV2 ``InvertedResidual``: ``branch1`` (strided blocks only) and ``branch2``,
    concatenated and channel-shuffled; stride-1 blocks pass half the channels through."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, conv_cfg, norm_cfg, act_cfg,
                 with_cp: bool):
        super().__init__()
        self.stride = stride
        self.with_cp = with_cp
        branch = out_channels // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                conv_module(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels,
                            conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None),
                conv_module(in_channels, branch, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))
        elif in_channels != 2 * branch:
            raise BuildError(f"ShuffleNetV2: a stride-1 block needs in_channels == out_channels, got {in_channels} "
                             f"and {out_channels}")
        self.branch2 = nn.Sequential(
            conv_module(in_channels if stride > 1 else branch, branch, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                        act_cfg=act_cfg),
            conv_module(branch, branch, 3, stride=stride, padding=1, groups=branch, conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg, act_cfg=None),
            conv_module(branch, branch, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        else:
            split = x.shape[1] // 2 + x.shape[1] % 2
            out = torch.cat((x[:, :split], self.branch2(x[:, split:])), dim=1)
        return channel_shuffle(out, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


class ShuffleNetBackbone(Backbone):
    """``conv1`` -> max-pool -> ``layers``, outputting the layers of ``out_indices``.

    ``frozen_stages=k`` freezes the stem's parameters (its BN stays in train mode, as in mmcls)
    and layers ``0..k-1`` (``k`` up to ``frozen_layers``).
    """

    frozen_layers: int = 0

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[]] + [[layer] for layer in self.layers[:self.frozen_layers]]

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        if self.frozen_stages >= 0:
            for param in self.conv1.parameters():
                param.requires_grad = False

    def forward(self, x: torch.Tensor):
        x = self.maxpool(self.conv1(x))
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)


@BACKBONES.register()
class ShuffleNetV2(ShuffleNetBackbone):
    """mmcls ``ShuffleNetV2(widen_factor=0.5|1.0|1.5|2.0)``.

    Keys ``conv1.*`` and ``layers.{0,1,2}.{j}.branch{1,2}.*`` (the three stages) and
    ``layers.3.*`` (the final 1x1 conv); torchvision's ``shufflenet_v2_x*`` checkpoints load too.
    ``out_indices`` name ``layers`` (default 3); ``frozen_stages=k`` freezes the stem's
    parameters and stages ``0..k-1``, as mmcls does.
    """

    frozen_layers = 3

    def __init__(self, widen_factor: float = 1.0, out_indices=(3,), frozen_stages: int = -1, conv_cfg=None,
                 norm_cfg: Any = _BN, act_cfg: Any = _RELU, norm_eval: bool = False, with_cp: bool = False,
                 init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        if widen_factor not in _STAGE_CHANNELS:
            raise BuildError(f"ShuffleNetV2: widen_factor={widen_factor!r} is not supported; use 0.5, 1.0, 1.5 or 2.0")
        channels = _STAGE_CHANNELS[widen_factor]
        self.out_indices = resolve_out_indices("ShuffleNetV2", out_indices, 4)
        self.conv1 = conv_module(3, 24, 3, stride=2, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=act_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList()
        in_channels = 24
        for out_channels, blocks in zip(channels, _STAGE_BLOCKS):
            self.layers.append(nn.Sequential(*(
                ShuffleV2Block(in_channels if i == 0 else out_channels, out_channels, 2 if i == 0 else 1,
                               conv_cfg, norm_cfg, act_cfg, with_cp) for i in range(blocks))))
            in_channels = out_channels
        self.layers.append(conv_module(in_channels, channels[-1], 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                       act_cfg=act_cfg))
        self.feature_dim = channels[self.out_indices[-1]]
        self.head_layers = ("fc",)
        self._check_frozen_stages("ShuffleNetV2")

    def plain_key_to_own(self, key: str) -> str | None:
        """torchvision's ``conv1.{0,1}``, ``stage{2,3,4}.{j}.branch*`` and ``conv5.{0,1}`` onto own keys."""
        head, _, rest = key.partition(".")
        if head in ("conv1", "conv5") and rest[:2] in ("0.", "1."):
            own = "conv1" if head == "conv1" else "layers.3"
            return f"{own}.{'conv' if rest[0] == '0' else 'bn'}.{rest[2:]}"
        match = _TORCHVISION_KEY.match(key)
        if match and match.group(4) in _TORCHVISION_CONVS[match.group(3)]:
            stage, block, branch, index = match.groups()
            inner = _TORCHVISION_CONVS[branch][index]
            return f"layers.{int(stage) - 2}.{block}.{branch}.{inner}.{key[match.end():]}"
        return key

    #: minim's checkpoints before it used mmcls's names kept torchvision's under ``backbone.``
    classifier_key_to_own = plain_key_to_own

    plain_formats = ("torchvision",)

    def own_key_to_plain(self, key: str) -> str:
        """The inverse of ``plain_key_to_own``: own keys onto torchvision's."""
        for own, plain in (("conv1.", "conv1"), ("layers.3.", "conv5")):
            if key.startswith(own):
                module, _, rest = key[len(own):].partition(".")
                return f"{plain}.{'0' if module == 'conv' else '1'}.{rest}"
        match = _OWN_KEY.match(key)
        if match:
            stage, block, branch, inner = match.groups()
            return f"stage{int(stage) + 2}.{block}.{branch}.{_PLAIN_INDEX[branch][inner]}.{key[match.end():]}"
        return key

