"""mmcls 0.x ``PoolFormer``: MetaFormer blocks whose token mixer is average pooling.

Built natively with mmcls's module names, so mmcls checkpoints load unchanged. The 1x1-conv
MLP is timm's ``Mlp(use_conv=True)`` (same ``fc1``/``fc2`` keys and arithmetic).
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from timm.layers import DropPath, Mlp
from torch import nn

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.layers import build_activation, build_norm2d
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_ARCHS = {
    "s12": {"layers": [2, 2, 6, 2], "embed_dims": [64, 128, 320, 512], "layer_scale_init_value": 1e-5},
    "s24": {"layers": [4, 4, 12, 4], "embed_dims": [64, 128, 320, 512], "layer_scale_init_value": 1e-5},
    "s36": {"layers": [6, 6, 18, 6], "embed_dims": [64, 128, 320, 512], "layer_scale_init_value": 1e-6},
    "m36": {"layers": [6, 6, 18, 6], "embed_dims": [96, 192, 384, 768], "layer_scale_init_value": 1e-6},
    "m48": {"layers": [8, 8, 24, 8], "embed_dims": [96, 192, 384, 768], "layer_scale_init_value": 1e-6},
}


class PatchEmbed(nn.Module):
    """A strided convolution between stages (key ``proj``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        self.norm = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class Pooling(nn.Module):
    """PoolFormer's token mixer: ``avg_pool(x) - x`` (padding excluded from the average)."""

    def __init__(self, pool_size: int = 3):
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) - x


class PoolFormerBlock(nn.Module):
    """``x + s1 * pool(norm1(x))`` then ``x + s2 * mlp(norm2(x))`` with per-channel scales."""

    def __init__(self, dim: int, pool_size: int, mlp_ratio: float, norm: Callable[[int], nn.Module], act_cfg,
                 drop: float, drop_path: float, layer_scale_init_value: float):
        super().__init__()
        self.norm1 = norm(dim)
        self.token_mixer = Pooling(pool_size)
        self.norm2 = norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=lambda: build_activation(act_cfg), drop=drop,
                       use_conv=True)
        self.drop_path = DropPath(drop_path)
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1[:, None, None] * self.token_mixer(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x)))


def _arch_settings(arch) -> dict:
    if isinstance(arch, str):
        if arch not in _ARCHS:
            raise BuildError(f"PoolFormer: arch={arch!r} is not supported; use one of {', '.join(_ARCHS)} or a dict")
        return dict(_ARCHS[arch])
    if not isinstance(arch, Mapping) or not {"layers", "embed_dims"} <= set(arch):
        raise BuildError(f"PoolFormer: a custom arch must be a dict with 'layers' and 'embed_dims', got {arch!r}")
    return dict(arch)


@BACKBONES.register()
class PoolFormer(Backbone):
    """mmcls ``PoolFormer(arch='s12'|'s24'|'s36'|'m36'|'m48'|dict)``.

    ``out_indices`` count the network positions ``[stage1, down, stage2, down, stage3, down,
    stage4]`` (default -1: the last stage); each output has its own norm ``norm{index}``.
    ``frozen_stages=k`` (default 0) freezes the stem and the first ``k`` network positions.
    """

    def __init__(self, arch="s12", pool_size: int = 3, norm_cfg=None, act_cfg=None, in_patch_size: int = 7,
                 in_stride: int = 4, in_pad: int = 2, down_patch_size: int = 3, down_stride: int = 2,
                 down_pad: int = 1, drop_rate: float = 0.0, drop_path_rate: float = 0.0, out_indices=-1,
                 frozen_stages: int = 0, init_cfg=None):
        super().__init__(frozen_stages=frozen_stages, init_cfg=init_cfg)
        settings = _arch_settings(arch)
        layers, embed_dims = list(settings["layers"]), list(settings["embed_dims"])
        mlp_ratios = settings.get("mlp_ratios", [4] * len(layers))
        scale_init = settings.get("layer_scale_init_value", 1e-5)
        norm_cfg = norm_cfg if norm_cfg is not None else {"type": "GN", "num_groups": 1}
        build_norm2d(norm_cfg, embed_dims[0])
        norm = lambda channels: build_norm2d(norm_cfg, channels)  # noqa: E731
        act_cfg = act_cfg if act_cfg is not None else {"type": "GELU"}

        self.patch_embed = PatchEmbed(3, embed_dims[0], in_patch_size, in_stride, in_pad)
        total, start = sum(layers), 0
        network = []
        for i, depth in enumerate(layers):
            rates = [drop_path_rate * (start + j) / max(total - 1, 1) for j in range(depth)]
            start += depth
            network.append(nn.Sequential(*[
                PoolFormerBlock(embed_dims[i], pool_size, mlp_ratios[i], norm, act_cfg, drop_rate, rate, scale_init)
                for rate in rates]))
            if i + 1 < len(layers) and embed_dims[i] != embed_dims[i + 1]:
                network.append(PatchEmbed(embed_dims[i], embed_dims[i + 1], down_patch_size, down_stride, down_pad))
        self.network = nn.ModuleList(network)
        self.out_indices = resolve_out_indices("PoolFormer", out_indices, 7)
        for index in self.out_indices:
            self.add_module(f"norm{index}", norm(embed_dims[(index + 1) // 2]))
        self.feature_dim = embed_dims[(max(self.out_indices) + 1) // 2]
        self._check_frozen_stages("PoolFormer")

    def stage_modules(self) -> list[list[nn.Module]]:
        stages = [[self.patch_embed]]
        for index, module in enumerate(self.network):
            stages.append([module] + ([getattr(self, f"norm{index}")] if index in self.out_indices else []))
        return stages

    def forward(self, x: torch.Tensor):
        x = self.patch_embed(x)
        outs = []
        for index, module in enumerate(self.network):
            x = module(x)
            if index in self.out_indices:
                outs.append(getattr(self, f"norm{index}")(x))
        return outs[0] if len(outs) == 1 else tuple(outs)


__all__ = ["PoolFormer", "Pooling", "PatchEmbed"]
