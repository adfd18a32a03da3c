"""mmcls 0.x ``VAN`` (Visual Attention Network: large-kernel attention), built with mmcls's module names.

timm has no VAN, so the blocks are minim's own; their names equal mmcls's, so mmcls checkpoints
load unchanged.
"""

from __future__ import annotations

from typing import Mapping

import torch
from timm.layers import DropPath
from torch import nn

from minim.cls.models.backbones._checks import require_value, resolve_out_indices
from minim.cls.models.backbones.base import Backbone, drop_path_rates
from minim.cls.models.layers import build_activation, build_norm2d
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_WIDE = [64, 128, 320, 512]
_RATIOS = [8, 8, 4, 4]
_ARCHS = {
    **dict.fromkeys(["b0", "t", "tiny"], {"embed_dims": [32, 64, 160, 256], "depths": [3, 3, 5, 2]}),
    **dict.fromkeys(["b1", "s", "small"], {"embed_dims": _WIDE, "depths": [2, 2, 4, 2]}),
    **dict.fromkeys(["b2", "b", "base"], {"embed_dims": _WIDE, "depths": [3, 3, 12, 3]}),
    **dict.fromkeys(["b3", "l", "large"], {"embed_dims": _WIDE, "depths": [3, 5, 27, 3]}),
    "b4": {"embed_dims": _WIDE, "depths": [3, 6, 40, 3]},
    "b5": {"embed_dims": [96, 192, 480, 768], "depths": [3, 3, 24, 3]},
    "b6": {"embed_dims": [96, 192, 384, 768], "depths": [6, 6, 90, 6]},
}
_BLOCK_OPTIONS = {"act_cfg", "norm_cfg", "layer_scale_init_value"}


class PatchEmbed(nn.Module):
    """Overlapping strided convolution + BN (keys ``projection``, ``norm``); keeps the map 2-d."""

    def __init__(self, in_channels: int, out_channels: int, patch_size: int):
        super().__init__()
        self.projection = nn.Conv2d(in_channels, out_channels, patch_size, stride=patch_size // 2 + 1,
                                    padding=patch_size // 2)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.projection(x))


class LKA(nn.Module):
    """Large kernel attention: depthwise 5x5, depthwise dilated 7x7 (dilation 3), 1x1; gates the input."""

    def __init__(self, dim: int):
        super().__init__()
        self.DW_conv = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.DW_D_conv = nn.Conv2d(dim, dim, 7, padding=9, groups=dim, dilation=3)
        self.conv1 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv1(self.DW_D_conv(self.DW_conv(x)))


class SpatialAttention(nn.Module):
    """1x1 conv, activation, LKA, 1x1 conv, plus the input."""

    def __init__(self, dim: int, act_cfg):
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.activation = build_activation(act_cfg)
        self.spatial_gating_unit = LKA(dim)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x))))


class MixFFN(nn.Module):
    """1x1 conv, depthwise 3x3 conv, activation, 1x1 conv."""

    def __init__(self, dim: int, hidden: int, act_cfg, drop: float):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = build_activation(act_cfg)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        return self.drop(self.fc2(x))


class VANBlock(nn.Module):
    """Pre-norm residual attention and MixFFN branches, each scaled per channel (if the scale init > 0)."""

    def __init__(self, dim: int, ffn_ratio: float, drop_rate: float, drop_path_rate: float, act_cfg=None,
                 norm_cfg=None, layer_scale_init_value: float = 1e-2):
        super().__init__()
        act_cfg = act_cfg if act_cfg is not None else {"type": "GELU"}
        norm_cfg = norm_cfg if norm_cfg is not None else {"type": "BN"}
        self.norm1 = build_norm2d(norm_cfg, dim)
        self.attn = SpatialAttention(dim, act_cfg)
        self.drop_path = DropPath(drop_path_rate)
        self.norm2 = build_norm2d(norm_cfg, dim)
        self.mlp = MixFFN(dim, int(dim * ffn_ratio), act_cfg, drop_rate)
        use_scale = layer_scale_init_value > 0
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value))) if use_scale else None
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value))) if use_scale else None

    @staticmethod
    def _scaled(x: torch.Tensor, scale: nn.Parameter | None) -> torch.Tensor:
        return x if scale is None else scale[:, None, None] * x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self._scaled(self.attn(self.norm1(x)), self.layer_scale_1))
        return x + self.drop_path(self._scaled(self.mlp(self.norm2(x)), self.layer_scale_2))


def _arch_settings(arch) -> dict:
    if isinstance(arch, str):
        if arch.lower() not in _ARCHS:
            raise BuildError(f"VAN: arch={arch!r} is not supported; use one of {', '.join(_ARCHS)} or a dict")
        return {**_ARCHS[arch.lower()], "ffn_ratios": _RATIOS}
    keys = {"embed_dims", "depths", "ffn_ratios"}
    if not isinstance(arch, Mapping) or set(arch) != keys:
        raise BuildError(f"VAN: a custom arch must be a dict with exactly the keys {sorted(keys)}, got {arch!r}")
    return dict(arch)


@BACKBONES.register()
class VAN(Backbone):
    """mmcls ``VAN(arch='b0'..'b6'|'tiny'|'small'|'base'|'large'|dict)``; outputs ``(N, C, H, W)`` maps.

    Stage ``i`` has ``patch_embed{i+1}``, ``blocks{i+1}`` and a LayerNorm ``norm{i+1}`` over its
    tokens; ``frozen_stages=k`` freezes stages ``0..k``.
    """

    def __init__(self, arch="tiny", patch_sizes=(7, 3, 3, 3), in_channels: int = 3, drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, out_indices=(3,), frozen_stages: int = -1, norm_eval: bool = False,
                 norm_cfg=None, block_cfgs=None, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        settings = _arch_settings(arch)
        dims, depths, ratios = settings["embed_dims"], settings["depths"], settings["ffn_ratios"]
        block_cfgs = dict(block_cfgs or {})
        if set(block_cfgs) - _BLOCK_OPTIONS:
            raise BuildError(f"VAN: block_cfgs keys {sorted(set(block_cfgs) - _BLOCK_OPTIONS)} are not supported; "
                             f"use {sorted(_BLOCK_OPTIONS)}")
        norm_cfg = dict(norm_cfg) if norm_cfg is not None else {"type": "LN"}
        require_value("VAN", "norm_cfg type", norm_cfg.pop("type", None), "LN")
        self.num_stages = len(depths)
        self.out_indices = resolve_out_indices("VAN", out_indices, self.num_stages)
        rates = drop_path_rates(drop_path_rate, sum(depths))
        for i, depth in enumerate(depths):
            stage_rates, rates = rates[:depth], rates[depth:]
            self.add_module(f"patch_embed{i + 1}",
                            PatchEmbed(in_channels if i == 0 else dims[i - 1], dims[i], patch_sizes[i]))
            self.add_module(f"blocks{i + 1}", nn.ModuleList(
                VANBlock(dims[i], ratios[i], drop_rate, rate, **block_cfgs) for rate in stage_rates))
            self.add_module(f"norm{i + 1}", nn.LayerNorm(dims[i], **norm_cfg))
        self.feature_dim = dims[self.out_indices[-1]]
        self._check_frozen_stages("VAN")

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[getattr(self, f"{part}{i + 1}") for part in ("patch_embed", "blocks", "norm")]
                for i in range(self.num_stages)]

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(self.num_stages):
            x = getattr(self, f"patch_embed{i + 1}")(x)
            for block in getattr(self, f"blocks{i + 1}"):
                x = block(x)
            x = getattr(self, f"norm{i + 1}")(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous()
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)
