"""mmcls 0.x ``EfficientFormer``: pooling MetaFormer blocks, then attention blocks on tokens at the end.

Built natively with mmcls's module names (checkpoints load unchanged): timm's EfficientFormer
nests its stages differently and keeps the attention-bias index out of the state dict, so the
conversion would cost more than these blocks. Its linear MLP is timm's ``Mlp`` (same keys).
"""

from __future__ import annotations

import itertools
from typing import Mapping

import torch
from timm.layers import DropPath, Mlp
from torch import nn

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.hornet import LayerScale
from minim.cls.models.backbones.poolformer import Pooling
from minim.cls.models.layers import build_activation
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_ARCHS = {
    "l1": {"layers": [3, 2, 6, 4], "embed_dims": [48, 96, 224, 448], "downsamples": [False, True, True, True],
           "vit_num": 1},
    "l3": {"layers": [4, 4, 12, 6], "embed_dims": [64, 128, 320, 512], "downsamples": [False, True, True, True],
           "vit_num": 4},
    "l7": {"layers": [6, 6, 18, 8], "embed_dims": [96, 192, 384, 768], "downsamples": [False, True, True, True],
           "vit_num": 8},
}


class ConvBN(nn.Sequential):
    """mmcv ``ConvModule`` with BN: ``conv`` -> ``bn`` (-> ReLU when ``relu``)."""

    def __init__(self, in_channels: int, out_channels: int, relu: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        if relu:
            self.activate = nn.ReLU(inplace=True)


class Flat(nn.Module):
    """``(N, C, H, W)`` -> tokens ``(N, H*W, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)


class AttentionWithBias(nn.Module):
    """Multi-head attention over 7x7 tokens with a learned bias per head and |dy|, |dx| offset."""

    def __init__(self, dim: int, num_heads: int = 8, key_dim: int = 32, attn_ratio: float = 4.0,
                 resolution: int = 7):
        super().__init__()
        self.num_heads, self.key_dim = num_heads, key_dim
        self.scale = key_dim ** -0.5
        self.value_dim = int(attn_ratio * key_dim)
        self.qkv = nn.Linear(dim, (self.value_dim + 2 * key_dim) * num_heads)
        self.proj = nn.Linear(self.value_dim * num_heads, dim)
        points = list(itertools.product(range(resolution), range(resolution)))
        offsets: dict[tuple[int, int], int] = {}
        indices = [offsets.setdefault((abs(a[0] - b[0]), abs(a[1] - b[1])), len(offsets))
                   for a in points for b in points]
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, len(offsets)))
        self.register_buffer("attention_bias_idxs", torch.tensor(indices).view(len(points), len(points)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, self.num_heads, -1).permute(0, 2, 1, 3)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.value_dim], dim=-1)
        attn = (q @ k.transpose(-2, -1)) * self.scale + self.attention_biases[:, self.attention_bias_idxs]
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, tokens, -1)
        return self.proj(x)


class ConvMlp(nn.Module):
    """1x1 conv -> BN -> act -> 1x1 conv -> BN (keys ``fc1``, ``norm1``, ``fc2``, ``norm2``)."""

    def __init__(self, dim: int, hidden: int, act_cfg, drop: float):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = build_activation(act_cfg)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.norm1 = nn.BatchNorm2d(hidden)
        self.norm2 = nn.BatchNorm2d(dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.norm1(self.fc1(x))))
        return self.drop(self.norm2(self.fc2(x)))


class Meta4D(nn.Module):
    """Pooling mixer and conv MLP on ``(N, C, H, W)`` maps."""

    def __init__(self, dim: int, pool_size: int, act_cfg, drop: float, drop_path: float, use_layer_scale: bool):
        super().__init__()
        self.token_mixer = Pooling(pool_size)
        self.mlp = ConvMlp(dim, dim * 4, act_cfg, drop)
        self.drop_path = DropPath(drop_path)
        self.ls1 = LayerScale(dim, channels_first=True) if use_layer_scale else nn.Identity()
        self.ls2 = LayerScale(dim, channels_first=True) if use_layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.ls1(self.token_mixer(x)))
        return x + self.drop_path(self.ls2(self.mlp(x)))


class Meta3D(nn.Module):
    """Pre-norm attention and linear MLP on tokens ``(N, L, C)``."""

    def __init__(self, dim: int, mlp_ratio: float, act_cfg, drop: float, drop_path: float, use_layer_scale: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mixer = AttentionWithBias(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=lambda: build_activation(act_cfg), drop=drop)
        self.drop_path = DropPath(drop_path)
        self.ls1 = LayerScale(dim) if use_layer_scale else nn.Identity()
        self.ls2 = LayerScale(dim) if use_layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.ls1(self.token_mixer(self.norm1(x))))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))


def _arch_settings(arch) -> dict:
    if isinstance(arch, str):
        if arch not in _ARCHS:
            raise BuildError(f"EfficientFormer: arch={arch!r} is not supported; use one of {', '.join(_ARCHS)} "
                             "or a dict")
        return _ARCHS[arch]
    keys = set(_ARCHS["l1"])
    if not isinstance(arch, Mapping) or set(arch) != keys:
        raise BuildError(f"EfficientFormer: a custom arch must be a dict with exactly the keys {sorted(keys)}, "
                         f"got {arch!r}")
    if not 0 <= arch["vit_num"] <= arch["layers"][-1]:
        raise BuildError(f"EfficientFormer: vit_num must be in 0..{arch['layers'][-1]}, got {arch['vit_num']!r}")
    return dict(arch)


@BACKBONES.register()
class EfficientFormer(Backbone):
    """mmcls ``EfficientFormer(arch='l1'|'l3'|'l7'|dict)``.

    The last ``vit_num`` blocks of stage 4 are attention blocks on tokens; that stage's output is
    LayerNorm-ed tokens as ``(N, C, L)`` (pool it with ``GlobalAveragePooling(dim=1)``), or with
    ``reshape_last_feat=True`` a GroupNorm-ed ``(N, C, H, W)`` map. ``frozen_stages=k`` freezes the
    stem and stages ``1..k``.
    """

    def __init__(self, arch="l1", in_channels: int = 3, pool_size: int = 3, mlp_ratios: float = 4,
                 reshape_last_feat: bool = False, out_indices=-1, frozen_stages: int = -1, act_cfg=None,
                 drop_rate: float = 0.0, drop_path_rate: float = 0.0, use_layer_scale: bool = True, init_cfg=None):
        super().__init__(frozen_stages=frozen_stages, init_cfg=init_cfg)
        settings = _arch_settings(arch)
        layers, dims, self.downsamples = settings["layers"], settings["embed_dims"], settings["downsamples"]
        self.vit_num = settings["vit_num"]
        self.reshape_last_feat = reshape_last_feat
        act_cfg = act_cfg if act_cfg is not None else {"type": "GELU"}
        self.patch_embed = nn.Sequential(ConvBN(in_channels, dims[0] // 2, relu=True),
                                         ConvBN(dims[0] // 2, dims[0], relu=True))
        total = sum(layers)
        stages = []
        for i, depth in enumerate(layers):
            blocks: list[nn.Module] = []
            if self.downsamples[i]:
                blocks.append(ConvBN(dims[i - 1] if i else dims[i], dims[i], relu=False))
            first_attention = depth - self.vit_num if i == len(layers) - 1 else depth
            for j in range(depth):
                rate = drop_path_rate * (sum(layers[:i]) + j) / max(total - 1, 1)
                if j == first_attention:
                    blocks.append(Flat())
                if j >= first_attention:
                    blocks.append(Meta3D(dims[i], mlp_ratios, act_cfg, drop_rate, rate, use_layer_scale))
                else:
                    blocks.append(Meta4D(dims[i], pool_size, act_cfg, drop_rate, rate, use_layer_scale))
            stages.append(nn.Sequential(*blocks))
        self.network = nn.ModuleList(stages)
        self.out_indices = resolve_out_indices("EfficientFormer", out_indices, len(layers))
        last = len(layers) - 1
        for index in self.out_indices:
            tokens_out = index == last and self.vit_num > 0 and not reshape_last_feat
            self.add_module(f"norm{index}", nn.LayerNorm(dims[index]) if tokens_out else nn.GroupNorm(1, dims[index]))
        self.feature_dim = dims[max(self.out_indices)]
        self._check_frozen_stages("EfficientFormer")

    def stage_modules(self) -> list[list[nn.Module]]:
        stages = [[self.patch_embed]]
        for index, module in enumerate(self.network):
            stages.append([module] + ([getattr(self, f"norm{index}")] if index in self.out_indices else []))
        return stages

    def _output(self, index: int, x: torch.Tensor, map_size: tuple[int, int]) -> torch.Tensor:
        norm = getattr(self, f"norm{index}")
        if x.dim() != 3:
            return norm(x)
        if self.reshape_last_feat:
            return norm(x.transpose(1, 2).reshape(x.shape[0], -1, *map_size))
        return norm(x).transpose(1, 2).contiguous()

    def forward(self, x: torch.Tensor):
        x = self.patch_embed(x)
        outs = []
        for index, stage in enumerate(self.network):
            stride = 2 if self.downsamples[index] else 1
            map_size = (x.shape[2] // stride, x.shape[3] // stride)
            x = stage(x)
            if index in self.out_indices:
                outs.append(self._output(index, x, map_size))
        return outs[0] if len(outs) == 1 else tuple(outs)
