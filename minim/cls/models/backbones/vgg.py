"""mmcls 0.x ``VGG``, with mmcls's module names (torchvision's checkpoints are renamed onto them)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone, renamed_module_key
from minim.cls.models.layers import conv_module
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

#: convolutions per stage
_STAGE_BLOCKS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
_RELU = {"type": "ReLU"}


def _stage_channels(stage: int) -> int:
    return 64 * 2**stage if stage < 4 else 512


@BACKBONES.register()
class VGG(Backbone):
    """mmcls ``VGG(depth=11|13|16|19, num_classes=-1, norm_cfg=None|BN, ...)``.

    ``features`` holds one ``ConvModule`` (keys ``features.{i}.conv``/``.bn``) per convolution and
    a max-pool per stage; with ``num_classes > 0`` the backbone keeps the three-layer
    ``classifier`` and its last output is the logits (pair it with ``ClsHead``, as mmcls does).
    Before the classifier an adaptive pool to 7x7 (a no-op at mmcls's 224x224 input) lets other
    input sizes run, as torchvision's VGG does; torchvision's ``vgg{depth}[_bn]`` checkpoints load.
    ``out_indices`` name stages 0..num_stages-1 (default: the last one; with a classifier
    ``num_stages``, only the logits, which always come last);
    ``frozen_stages=k`` freezes stages ``0..k-1``.
    """

    def __init__(self, depth: int, num_classes: int = -1, num_stages: int = 5, dilations=(1, 1, 1, 1, 1),
                 out_indices=None, frozen_stages: int = -1, conv_cfg=None, norm_cfg=None,
                 act_cfg: Any = _RELU, norm_eval: bool = False, ceil_mode: bool = False,
                 with_last_pool: bool = True, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        if depth not in _STAGE_BLOCKS:
            raise BuildError(f"VGG: invalid depth {depth!r}; use 11, 13, 16 or 19")
        if not 1 <= num_stages <= 5 or len(dilations) != num_stages:
            raise BuildError(f"VGG: num_stages={num_stages!r} must be in 1..5 with one dilation per stage "
                             f"(got dilations={dilations!r})")
        self.include_top = num_classes is not None and num_classes > 0
        self.stage_ranges = self._build_features(_STAGE_BLOCKS[depth][:num_stages], dilations, conv_cfg, norm_cfg,
                                                 act_cfg, ceil_mode, with_last_pool)
        if out_indices is None:
            out_indices = num_stages if self.include_top else num_stages - 1
        self.out_indices = resolve_out_indices("VGG", out_indices, num_stages + self.include_top)
        if self.include_top:
            self.num_classes = num_classes
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, num_classes))
            self.num_classes_keys = ("classifier.6.",)
        else:
            self.feature_dim = _stage_channels(self.out_indices[-1])
        self._torchvision_names = self._torchvision_feature_names()
        self._check_frozen_stages("VGG")

    def _build_features(self, stage_blocks, dilations, conv_cfg, norm_cfg, act_cfg, ceil_mode,
                        with_last_pool) -> list[tuple[int, int]]:
        layers: list[nn.Module] = []
        ranges = []
        in_channels = 3
        for stage, (blocks, dilation) in enumerate(zip(stage_blocks, dilations)):
            start = len(layers)
            out_channels = _stage_channels(stage)
            for _ in range(blocks):
                layers.append(conv_module(in_channels, out_channels, 3, padding=dilation, dilation=dilation,
                                          bias=True, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))
                in_channels = out_channels
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
            ranges.append((start, len(layers)))
        if not with_last_pool:
            layers.pop()
            ranges[-1] = (ranges[-1][0], len(layers))
        self.features = nn.Sequential(*layers)
        return ranges

    def _torchvision_feature_names(self) -> dict[str, str]:
        """torchvision's ``features.{j}`` (conv, BN, ReLU, max-pool each a module) -> own module path."""
        names, position = {}, 0
        for index, layer in enumerate(self.features):
            if isinstance(layer, nn.Sequential):
                for part in ("conv", "bn"):
                    if hasattr(layer, part):
                        names[f"features.{position}"] = f"features.{index}.{part}"
                        position += 1
            position += 1  # the activation, or the max-pool
        return names

    def plain_key_to_own(self, key: str) -> str | None:
        return renamed_module_key(key, self._torchvision_names)

    #: minim's checkpoints before it used mmcls's names kept torchvision's under ``backbone.``
    classifier_key_to_own = plain_key_to_own

    @property
    def plain_formats(self) -> tuple[str, ...]:
        """torchvision's VGG keeps its classifier: only a VGG with ``num_classes`` (include_top) matches it."""
        return ("torchvision",) if self.include_top else ()

    def own_key_to_plain(self, key: str) -> str:
        return renamed_module_key(key, {own: plain for plain, own in self._torchvision_names.items()})

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[]] + [list(self.features[start:end]) for start, end in self.stage_ranges]

    def forward(self, x: torch.Tensor):
        outs = []
        for stage, (start, end) in enumerate(self.stage_ranges):
            for index in range(start, end):
                x = self.features[index](x)
            if stage in self.out_indices:
                outs.append(x)
        if self.include_top:
            outs.append(self.classifier(torch.flatten(self.avgpool(x), 1)))
        return outs[0] if len(outs) == 1 else tuple(outs)
