"""mmcls 0.x ``EfficientNet`` (b0-b8 and EdgeTPU es/em/el), with mmcls's module names.

mmcls's EdgeTPU blocks stride their 1x1 projection rather than their first convolution, so
timm's ``efficientnet_es``/``em``/``el`` differ from them; both families are built here from
mmcls's ``InvertedResidual`` (see :mod:`.mobilenet_v3`) and ``EdgeResidual``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from timm.layers import DropPath
from torch import nn
from torch.utils.checkpoint import checkpoint

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.mobilenet_v3 import InvertedResidual
from minim.cls.models.layers import SELayer, conv_module, make_divisible
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

# Layers of blocks: kernel size, out channels, SE ratio, stride, expand ratio, kind
# (-1: a plain ConvModule, 0: InvertedResidual, 1: EdgeResidual).
_LAYERS = {
    "b": [[(3, 32, 0, 2, 0, -1)],
          [(3, 16, 4, 1, 1, 0)],
          [(3, 24, 4, 2, 6, 0), (3, 24, 4, 1, 6, 0)],
          [(5, 40, 4, 2, 6, 0), (5, 40, 4, 1, 6, 0)],
          [(3, 80, 4, 2, 6, 0), (3, 80, 4, 1, 6, 0), (3, 80, 4, 1, 6, 0),
           (5, 112, 4, 1, 6, 0), (5, 112, 4, 1, 6, 0), (5, 112, 4, 1, 6, 0)],
          [(5, 192, 4, 2, 6, 0), (5, 192, 4, 1, 6, 0), (5, 192, 4, 1, 6, 0), (5, 192, 4, 1, 6, 0),
           (3, 320, 4, 1, 6, 0)],
          [(1, 1280, 0, 1, 0, -1)]],
    "e": [[(3, 32, 0, 2, 0, -1)],
          [(3, 24, 0, 1, 3, 1)],
          [(3, 32, 0, 2, 8, 1), (3, 32, 0, 1, 8, 1)],
          [(3, 48, 0, 2, 8, 1), (3, 48, 0, 1, 8, 1), (3, 48, 0, 1, 8, 1), (3, 48, 0, 1, 8, 1)],
          [(5, 96, 0, 2, 8, 0)] + [(5, 96, 0, 1, 8, 0)] * 4 + [(5, 144, 0, 1, 8, 0)] * 4,
          [(5, 192, 0, 2, 8, 0), (5, 192, 0, 1, 8, 0)],
          [(1, 1280, 0, 1, 0, -1)]],
}
#: arch -> (width factor, depth factor); the family is the arch's first letter
_SCALES = {"b0": (1.0, 1.0), "b1": (1.0, 1.1), "b2": (1.1, 1.2), "b3": (1.2, 1.4), "b4": (1.4, 1.8),
           "b5": (1.6, 2.2), "b6": (1.8, 2.6), "b7": (2.0, 3.1), "b8": (2.2, 3.6),
           "es": (1.0, 1.0), "em": (1.0, 1.1), "el": (1.2, 1.4)}
_ADAPTIVE_PADDING = {"type": "Conv2dAdaptivePadding"}
_BN = {"type": "BN", "eps": 1e-3}
_SWISH = {"type": "Swish"}


class EdgeResidual(nn.Module):
    """mmcls's ``EdgeResidual``: kxk ``conv1`` (stride 1) -> [``se``] -> 1x1 ``conv2`` carrying the
    block's stride (no activation), plus the input when ``with_residual`` and the shape allow."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, kernel_size: int = 3,
                 stride: int = 1, se_cfg: dict | None = None, with_residual: bool = True, conv_cfg=None,
                 norm_cfg: Any = _BN, act_cfg: Any = _SWISH, drop_path_rate: float = 0.0, with_cp: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise BuildError(f"EdgeResidual: stride must be 1 or 2, got {stride!r}")
        self.with_residual = stride == 1 and in_channels == out_channels and with_residual
        self.with_cp = with_cp
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.conv1 = conv_module(in_channels, mid_channels, kernel_size, padding=kernel_size // 2, conv_cfg=conv_cfg,
                                 norm_cfg=norm_cfg, act_cfg=act_cfg)
        if se_cfg is not None:
            self.se = SELayer(**se_cfg)
        self.conv2 = conv_module(mid_channels, out_channels, 1, stride=stride, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=None)

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        if "se" in self._modules:
            out = self.se(out)
        out = self.conv2(out)
        return x + self.drop_path(out) if self.with_residual else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


def scaled_layers(arch: str) -> list[list[tuple]]:
    """mmcls's compound scaling of ``arch``'s layers.

    Widths become multiples of 8; each run of equal-width blocks in the middle layers is
    repeated to ``ceil(depth * length)`` blocks (extra copies of its last block), and a run whose
    first block has stride 1 joins the layer before it.
    """
    width, depth = _SCALES[arch]
    stem, *middle, last = [[(b[0], make_divisible(b[1] * width, 8), *b[2:]) for b in layer]
                           for layer in _LAYERS[arch[0]]]
    layers = [stem]
    for run_index, run in enumerate(list(run) for layer in middle
                                    for _, run in itertools.groupby(layer, key=lambda b: b[1])):
        count = math.ceil(depth * len(run))
        run = run[:count] + [run[-1]] * (count - len(run))
        if run_index > 0 and run[0][3] == 1:
            layers[-1] = layers[-1] + run
        else:
            layers.append(run)
    return layers + [last]


@BACKBONES.register()
class EfficientNet(Backbone):
    """mmcls ``EfficientNet(arch='b0'..'b8'|'es'|'em'|'el')``.

    ``layers.0`` is the stem, ``layers.1..5`` the block layers (``layers.{i}.{j}.*``), ``layers.6``
    the final 1x1 conv; convolutions pad the TensorFlow way (mmcv's ``Conv2dAdaptivePadding``)
    unless ``conv_cfg`` says otherwise.  ``out_indices`` name layers (default 6);
    ``frozen_stages=k`` freezes ``layers.0..k-1``.
    """

    def __init__(self, arch: str = "b0", drop_path_rate: float = 0.0, out_indices=(6,), frozen_stages: int = 0,
                 conv_cfg: Any = _ADAPTIVE_PADDING, norm_cfg: Any = _BN, act_cfg: Any = _SWISH,
                 norm_eval: bool = False, with_cp: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        if arch not in _SCALES:
            raise BuildError(f"EfficientNet: arch={arch!r} is not supported; use one of {', '.join(_SCALES)}")
        settings = scaled_layers(arch)
        self.out_indices = resolve_out_indices("EfficientNet", out_indices, len(settings))
        convs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        (stem_kernel, in_channels, _, stem_stride, _, _), = settings[0]
        (last_kernel, last_channels, _, last_stride, _, _), = settings[-1]
        self.layers = nn.ModuleList([conv_module(3, in_channels, stem_kernel, stride=stem_stride,
                                                 padding=stem_kernel // 2, act_cfg=act_cfg, **convs)])
        widths = [in_channels]
        num_blocks = sum(len(layer) for layer in settings[1:-1])
        rates = iter(torch.linspace(0, drop_path_rate, num_blocks, device="cpu").tolist())
        for layer in settings[1:-1]:
            blocks = []
            for i, block in enumerate(layer):
                blocks.append(self._block(block, i, in_channels, next(rates), act_cfg, with_cp, convs))
                in_channels = block[1]
            self.layers.append(nn.Sequential(*blocks))
            widths.append(in_channels)
        self.layers.append(conv_module(in_channels, last_channels, last_kernel, stride=last_stride,
                                       padding=last_kernel // 2, act_cfg=act_cfg, **convs))
        widths.append(last_channels)
        self.feature_dim = widths[self.out_indices[-1]]
        self._check_frozen_stages("EfficientNet")

    @staticmethod
    def _block(setting: tuple, index: int, in_channels: int, drop_path_rate: float, act_cfg, with_cp: bool,
               convs: dict) -> nn.Module:
        kernel, out_channels, se_ratio, stride, expand, kind = setting
        edge = kind == 1
        with_residual = not (edge and index > 0 and expand == 3)  # mmcls's EdgeTPU quirk: then expand 4, no skip
        expand = expand if with_residual else 4
        mid_channels = int(in_channels * expand)
        se_cfg = None if se_ratio <= 0 else {"channels": mid_channels, "ratio": expand * se_ratio, "divisor": 1,
                                             "act_cfg": (act_cfg, {"type": "Sigmoid"})}
        args = dict(kernel_size=kernel, stride=stride, se_cfg=se_cfg, act_cfg=act_cfg, drop_path_rate=drop_path_rate,
                    with_cp=with_cp, **convs)
        if edge:
            return EdgeResidual(in_channels, out_channels, mid_channels, with_residual=with_residual, **args)
        return InvertedResidual(in_channels, out_channels, mid_channels, **args)

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[]] + [[layer] for layer in self.layers]

    def forward(self, x: torch.Tensor):
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)
