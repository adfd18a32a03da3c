"""mmcls 0.x ``ConvNeXt``, built with mmcls's module names so its checkpoints load unchanged.

torchvision's ``convnext_*`` checkpoints are converted: renamed, with the layer scales reshaped
from ``(C, 1, 1)`` to mmcls's ``(C,)``; so are timm's (renamed only), and both ways back
(``minim run cls convert --to torchvision|timm``).  One difference stays: mmcls's downsampling
layer norms use eps 1e-5 where torchvision's and timm's use 1e-6, so the networks' logits agree
closely but not bit for bit (the tensors do round-trip bit for bit).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import torch
import torch.utils.checkpoint as checkpoint
from timm.layers import DropPath, LayerNorm2d
from torch import nn

from minim.cls.models.backbones._checks import require_value
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_CONVNEXT_ARCHS = {
    "tiny": {"depths": [3, 3, 9, 3], "channels": [96, 192, 384, 768]},
    "small": {"depths": [3, 3, 27, 3], "channels": [96, 192, 384, 768]},
    "base": {"depths": [3, 3, 27, 3], "channels": [128, 256, 512, 1024]},
    "large": {"depths": [3, 3, 27, 3], "channels": [192, 384, 768, 1536]},
    "xlarge": {"depths": [3, 3, 27, 3], "channels": [256, 512, 1024, 2048]},
}
DEFAULT_NORM_CFG = {"type": "LN2d", "eps": 1e-6}
#: eps of the layer norms that open the downsampling layers (mmcls builds them without norm_cfg)
_DOWNSAMPLE_NORM_EPS = 1e-5
#: torchvision block layer -> mmcls name
_TORCHVISION_BLOCK = {"block.0": "depthwise_conv", "block.2": "norm", "block.3": "pointwise_conv1",
                      "block.5": "pointwise_conv2"}
#: timm block layer -> mmcls name
_TIMM_BLOCK = {"conv_dw": "depthwise_conv", "norm": "norm", "mlp.fc1": "pointwise_conv1", "mlp.fc2": "pointwise_conv2"}
#: mmcls block layer -> its name in each plain format
_PLAIN_BLOCK = {fmt: {own: plain for plain, own in names.items()}
                for fmt, names in (("torchvision", _TORCHVISION_BLOCK), ("timm", _TIMM_BLOCK))}
#: eps of torchvision's and timm's stem, block and classifier layer norms
_PLAIN_NORM_EPS = 1e-6


def _channel_norm(norm_cfg: Any, channels: int) -> LayerNorm2d:
    if not isinstance(norm_cfg, Mapping) or norm_cfg.get("type") != "LN2d" or set(norm_cfg) - {"type", "eps"}:
        raise BuildError(f"ConvNeXt: norm_cfg={norm_cfg!r} is not supported; use dict(type='LN2d'[, eps=...])")
    return LayerNorm2d(channels, eps=norm_cfg.get("eps", 1e-5))


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv, channel layer norm, pointwise MLP (``Linear`` on channels-last, or 1x1 convs),
    layer scale ``gamma`` and a residual."""

    def __init__(self, channels: int, norm_cfg: Any, mlp_ratio: float = 4.0, linear_pw_conv: bool = True,
                 drop_path: float = 0.0, layer_scale_init_value: float = 1e-6, with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.linear_pw_conv = linear_pw_conv
        self.depthwise_conv = nn.Conv2d(channels, channels, kernel_size=7, padding=3, groups=channels)
        self.norm = _channel_norm(norm_cfg, channels)
        hidden = int(mlp_ratio * channels)
        if linear_pw_conv:
            self.pointwise_conv1, self.pointwise_conv2 = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        else:
            self.pointwise_conv1 = nn.Conv2d(channels, hidden, kernel_size=1)
            self.pointwise_conv2 = nn.Conv2d(hidden, channels, kernel_size=1)
        self.act = nn.GELU()
        self.gamma = (nn.Parameter(layer_scale_init_value * torch.ones(channels))
                      if layer_scale_init_value > 0 else None)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.depthwise_conv(x))
        if self.linear_pw_conv:
            y = self.pointwise_conv2(self.act(self.pointwise_conv1(y.permute(0, 2, 3, 1)))).permute(0, 3, 1, 2)
        else:
            y = self.pointwise_conv2(self.act(self.pointwise_conv1(y)))
        if self.gamma is not None:
            y = y.mul(self.gamma.view(1, -1, 1, 1))
        return x + self.drop_path(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint.checkpoint(self.residual, x, use_reentrant=False)
        return self.residual(x)


@BACKBONES.register()
class ConvNeXt(Backbone):
    """mmcls ``ConvNeXt`` (arch ``'tiny'|'small'|'base'|'large'|'xlarge'`` or a dict of ``depths`` and
    ``channels``), with mmcls's options and checkpoint keys.

    Outputs, for each of ``out_indices`` (a tuple when several), the normed pooled vector
    ``(N, C)`` (``gap_before_final_norm=True``) or the normed map ``(N, C, H, W)``.
    ``frozen_stages=k`` freezes the first ``k`` downsampling layers and stages (mmcls's count).
    """

    head_layers = ("classifier.2",)
    plain_head_layers = {"timm": ("head.fc",)}

    def __init__(self, arch: Any = "tiny", in_channels: int = 3, stem_patch_size: int = 4,
                 norm_cfg: Any = DEFAULT_NORM_CFG, act_cfg: Any = None, linear_pw_conv: bool = True,
                 drop_path_rate: float = 0.0, layer_scale_init_value: float = 1e-6, out_indices: Any = -1,
                 frozen_stages: int = 0, gap_before_final_norm: bool = True, with_cp: bool = False,
                 init_cfg: Any = None):
        super().__init__(frozen_stages=frozen_stages, init_cfg=init_cfg)
        require_value("ConvNeXt", "act_cfg", act_cfg, None, {"type": "GELU"})
        settings = self._arch_settings(arch)
        self.depths, self.channels = list(settings["depths"]), list(settings["channels"])
        self.num_stages = len(self.depths)
        self.out_indices = self._checked_out_indices(out_indices)
        self.gap_before_final_norm = bool(gap_before_final_norm)
        self.downsample_layers = nn.ModuleList(self._downsample_layers(in_channels, stem_patch_size, norm_cfg))
        total, first = sum(self.depths), 0
        stages = []
        for depth, channels in zip(self.depths, self.channels):
            rates = [float(drop_path_rate) * i / max(total - 1, 1) for i in range(first, first + depth)]
            stages.append(nn.Sequential(*[
                ConvNeXtBlock(channels, norm_cfg, linear_pw_conv=linear_pw_conv, drop_path=rate,
                              layer_scale_init_value=layer_scale_init_value, with_cp=bool(with_cp))
                for rate in rates]))
            first += depth
        self.stages = nn.ModuleList(stages)
        for index in self.out_indices:
            self.add_module(f"norm{index}", _channel_norm(norm_cfg, self.channels[index]))
        self.feature_dim = self.channels[self.out_indices[-1]]
        self._check_frozen()

    # -- construction -------------------------------------------------------------------------
    @staticmethod
    def _arch_settings(arch: Any) -> dict:
        if isinstance(arch, str):
            if arch not in _CONVNEXT_ARCHS:
                raise BuildError(f"ConvNeXt: arch={arch!r} is not supported; use one of "
                                 f"{', '.join(repr(a) for a in _CONVNEXT_ARCHS)} or a dict of depths and channels")
            return _CONVNEXT_ARCHS[arch]
        if (not isinstance(arch, Mapping) or not {"depths", "channels"} <= set(arch)
                or len(arch["depths"]) != len(arch["channels"])):
            raise BuildError(f"ConvNeXt: a custom arch must be a dict with depths and channels of equal length, "
                             f"got {arch!r}")
        return dict(arch)

    def _checked_out_indices(self, out_indices: Any) -> tuple[int, ...]:
        indices = [out_indices] if isinstance(out_indices, int) else out_indices
        if not isinstance(indices, Sequence) or not indices or not all(isinstance(i, int) for i in indices):
            raise BuildError(f"ConvNeXt: out_indices must be an int or a sequence of ints, got {out_indices!r}")
        resolved = tuple(i + self.num_stages if i < 0 else i for i in indices)
        if not all(0 <= i < self.num_stages for i in resolved):
            raise BuildError(f"ConvNeXt: out_indices {out_indices!r} are not all stages of {self.num_stages}")
        return resolved

    def _downsample_layers(self, in_channels: int, stem_patch_size: int, norm_cfg: Any) -> list[nn.Module]:
        stem = nn.Sequential(nn.Conv2d(in_channels, self.channels[0], kernel_size=stem_patch_size,
                                       stride=stem_patch_size),
                             _channel_norm(norm_cfg, self.channels[0]))
        return [stem] + [nn.Sequential(LayerNorm2d(before, eps=_DOWNSAMPLE_NORM_EPS),
                                       nn.Conv2d(before, after, kernel_size=2, stride=2))
                         for before, after in zip(self.channels[:-1], self.channels[1:])]

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor):
        outs = []
        for index, (downsample, stage) in enumerate(zip(self.downsample_layers, self.stages)):
            x = stage(downsample(x))
            if index in self.out_indices:
                norm = getattr(self, f"norm{index}")
                if self.gap_before_final_norm:
                    outs.append(norm(x.mean((-2, -1), keepdim=True)).flatten(1))
                else:
                    outs.append(norm(x).contiguous())
        return outs[0] if len(outs) == 1 else tuple(outs)

    # -- freezing ----------------------------------------------------------------------------------
    def _check_frozen(self) -> None:
        frozen = self.frozen_stages
        if not isinstance(frozen, int) or isinstance(frozen, bool) or not -1 <= frozen <= self.num_stages:
            raise BuildError(f"ConvNeXt: frozen_stages must be an int in 0..{self.num_stages} (the number of "
                             f"stages to freeze), got {frozen!r}")
        self._freeze_stages()

    def stage_modules(self) -> list[list[nn.Module]]:
        """The downsampling layer and blocks of each stage."""
        return [[down, stage] for down, stage in zip(self.downsample_layers, self.stages)]

    def _frozen_modules(self) -> list[nn.Module]:
        """mmcls's count: ``frozen_stages=k`` freezes stages ``0..k-1`` (0 freezes nothing)."""
        return [m for group in self.stage_modules()[:max(self.frozen_stages, 0)] for m in group]

    # -- checkpoints ------------------------------------------------------------------------------
    @property
    def plain_formats(self) -> tuple[str, ...]:
        """torchvision's and timm's ``convnext_*``, for mmcls's standard layout: RGB input, 4x4 patch stem,
        linear pointwise convs, layer scales, norms of eps 1e-6 and one output, the last stage pooled before its
        norm (only the downsampling norms' eps differ, see the module docstring)."""
        stem_conv, stem_norm = self.downsample_layers[0]
        blocks = [block for stage in self.stages for block in stage]
        norms = [stem_norm, getattr(self, f"norm{self.num_stages - 1}"), *(block.norm for block in blocks)]
        standard = (self.out_indices == (self.num_stages - 1,) and self.gap_before_final_norm
                    and stem_conv.in_channels == 3 and stem_conv.kernel_size == stem_conv.stride == (4, 4)
                    and all(block.linear_pw_conv and block.gamma is not None for block in blocks)
                    and all(norm.eps == _PLAIN_NORM_EPS for norm in norms))
        return ("torchvision", "timm") if standard else ()

    def to_plain_state(self, state: dict[str, torch.Tensor], fmt: str) -> dict[str, torch.Tensor]:
        """This module's tensors in torchvision's or timm's layout (the inverse of ``convert_plain_state``)."""
        return dict(self._own_tensor(key, value, fmt) for key, value in state.items())

    def _own_tensor(self, key: str, value: torch.Tensor, fmt: str) -> tuple[str, torch.Tensor]:
        timm = fmt == "timm"
        last_norm = f"norm{self.num_stages - 1}."
        if key.startswith(last_norm):
            return ("head.norm." if timm else "classifier.0.") + key[len(last_norm):], value
        match = re.fullmatch(r"downsample_layers\.(\d+)\.(.+)", key)
        if match:
            index, rest = int(match.group(1)), match.group(2)
            if timm:
                return (f"stages.{index}.downsample.{rest}" if index else f"stem.{rest}"), value
            return f"features.{2 * index}.{rest}", value
        stage, block, inner = re.fullmatch(r"stages\.(\d+)\.(\d+)\.(.+)", key).groups()
        prefix = f"stages.{stage}.blocks.{block}." if timm else f"features.{2 * int(stage) + 1}.{block}."
        if inner == "gamma":
            return (prefix + "gamma", value) if timm else (prefix + "layer_scale", value.reshape(-1, 1, 1))
        layer, _, param = inner.rpartition(".")
        return prefix + _PLAIN_BLOCK[fmt][layer] + "." + param, value

    def convert_mmcls_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """mmcls's keys are this module's; the torchvision layout (minim's earlier ConvNeXt checkpoints)
        is converted."""
        return self.convert_plain_state(state)

    def convert_plain_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """torchvision ``convnext_*`` tensors (``features.*``, ``classifier.0``) or timm's (``stem.*``,
        ``stages.*.blocks.*``, ``head.norm``) in this module's layout."""
        if any(key.startswith("features.") for key in state):
            return dict(self._torchvision_tensor(key, value) for key, value in state.items())
        if any(key.startswith("stem.") for key in state):
            return dict(self._timm_tensor(key, value) for key, value in state.items())
        return state

    def _torchvision_tensor(self, key: str, value: torch.Tensor) -> tuple[str, torch.Tensor]:
        if key.startswith("classifier.0."):
            return f"norm{self.num_stages - 1}." + key[len("classifier.0."):], value
        match = re.fullmatch(r"features\.(\d+)\.(.+)", key)
        if match is None:
            return key, value
        feature, rest = int(match.group(1)), match.group(2)
        if feature % 2 == 0:
            return f"downsample_layers.{feature // 2}.{rest}", value
        block, _, inner = rest.partition(".")
        prefix = f"stages.{feature // 2}.{block}."
        if inner == "layer_scale":
            return prefix + "gamma", value.reshape(-1)
        layer, _, param = inner.rpartition(".")
        return prefix + _TORCHVISION_BLOCK.get(layer, layer) + "." + param, value

    def _timm_tensor(self, key: str, value: torch.Tensor) -> tuple[str, torch.Tensor]:
        if key.startswith("head.norm."):
            return f"norm{self.num_stages - 1}." + key[len("head.norm."):], value
        if key.startswith("stem."):
            return "downsample_layers.0." + key[len("stem."):], value
        match = re.fullmatch(r"stages\.(\d+)\.(downsample|blocks)\.(.+)", key)
        if match is None:
            return key, value
        stage, part, rest = match.groups()
        if part == "downsample":
            return f"downsample_layers.{stage}.{rest}", value
        block, _, inner = rest.partition(".")
        layer, _, param = inner.rpartition(".")
        own = f"{_TIMM_BLOCK[layer]}.{param}" if layer else inner  # ``gamma`` keeps its name
        return f"stages.{stage}.{block}.{own}", value


__all__ = ["ConvNeXt", "ConvNeXtBlock"]
