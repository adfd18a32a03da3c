"""mmcls 0.x Twins backbones ``PCPVT`` and ``SVT``, built with mmcls's module names.

timm's Twins names its parts differently (``patch_embeds.i.proj``, ``blocks``, ``pos_block``,
``mlp.fc1``) and ends with one final norm instead of mmcls's per-stage ``norm_after_stage``;
the blocks here are minim's own so that mmcls checkpoints load unchanged. They reproduce
mmcls's arithmetic exactly, including its window mask (see ``LocallyGroupedSelfAttention``).
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import nn

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone, drop_path_rates
from minim.cls.models.layers import build_activation
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_COMMON = {"patch_sizes": [4, 2, 2, 2], "strides": [4, 2, 2, 2], "sr_ratios": [8, 4, 2, 1]}
_PCPVT = {"embed_dims": [64, 128, 320, 512], "num_heads": [1, 2, 5, 8], "mlp_ratios": [8, 8, 4, 4], **_COMMON}
_PCPVT_ARCHS = {
    **dict.fromkeys(["s", "small"], {**_PCPVT, "depths": [3, 4, 6, 3]}),
    **dict.fromkeys(["b", "base"], {**_PCPVT, "depths": [3, 4, 18, 3]}),
    **dict.fromkeys(["l", "large"], {**_PCPVT, "depths": [3, 8, 27, 3]}),
}
_SVT = {"mlp_ratios": [4, 4, 4, 4], "window_sizes": [7, 7, 7, 7], **_COMMON}
_SVT_ARCHS = {
    **dict.fromkeys(["s", "small"], {**_SVT, "embed_dims": [64, 128, 256, 512], "depths": [2, 2, 10, 4],
                                     "num_heads": [2, 4, 8, 16]}),
    **dict.fromkeys(["b", "base"], {**_SVT, "embed_dims": [96, 192, 384, 768], "depths": [2, 2, 18, 2],
                                    "num_heads": [3, 6, 12, 24]}),
    **dict.fromkeys(["l", "large"], {**_SVT, "embed_dims": [128, 256, 512, 1024], "depths": [2, 2, 18, 2],
                                     "num_heads": [4, 8, 16, 32]}),
}


class PatchEmbed(nn.Module):
    """mmcv's ``PatchEmbed``: a strided conv (``projection``) to tokens ``(N, H*W, C)``, optional ``norm``.

    ``padding='corner'`` pads the bottom/right so that every input pixel is covered.
    """

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int, stride: int, padding, norm: bool):
        super().__init__()
        self.corner_padding = padding == "corner"
        self.kernel_size, self.stride = kernel_size, stride
        self.projection = nn.Conv2d(in_channels, embed_dims, kernel_size, stride=stride,
                                    padding=0 if self.corner_padding else padding)
        if norm:
            self.norm = nn.LayerNorm(embed_dims)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        pads = [max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel_size - size, 0)
                for size in x.shape[-2:]]
        return F.pad(x, [0, pads[1], 0, pads[0]]) if any(pads) else x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        if self.corner_padding:
            x = self._pad(x)
        x = self.projection(x)
        size = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        return (self.norm(x) if hasattr(self, "norm") else x), size


class FFN(nn.Module):
    """mmcv's ``FFN`` without identity: ``layers`` = [[fc, act, dropout], fc, dropout], then drop path."""

    def __init__(self, dims: int, hidden: int, drop: float, drop_path: float):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(dims, hidden), build_activation({"type": "GELU"}), nn.Dropout(drop)),
            nn.Linear(hidden, dims), nn.Dropout(drop))
        self.dropout_layer = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout_layer(self.layers(x))


class GlobalSubsampledAttention(nn.Module):
    """Attention of every token to a ``sr_ratio``-times subsampled (strided conv + LN) token map."""

    def __init__(self, dims: int, num_heads: int, qkv_bias: bool, sr_ratio: int, attn_drop: float,
                 proj_drop: float, drop_path: float, norm_eps: float):
        super().__init__()
        self.num_heads, self.sr_ratio = num_heads, sr_ratio
        self.scale = (dims // num_heads) ** -0.5
        self.q = nn.Linear(dims, dims, bias=qkv_bias)
        self.kv = nn.Linear(dims, dims * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dims, dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.out_drop = DropPath(drop_path)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dims, dims, sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dims, eps=norm_eps)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        batch, tokens, dims = x.shape
        q = self.q(x).reshape(batch, tokens, self.num_heads, -1).transpose(1, 2)
        if self.sr_ratio > 1:
            x = self.sr(x.transpose(1, 2).reshape(batch, dims, *size)).flatten(2).transpose(1, 2)
            x = self.norm(x)
        k, v = self.kv(x).reshape(batch, -1, 2, self.num_heads, dims // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = self.attn_drop(((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(batch, tokens, dims)
        return self.out_drop(self.proj_drop(self.proj(x)))


class LocallyGroupedSelfAttention(nn.Module):
    """Self-attention inside non-overlapping ``window_size`` windows (the map is padded bottom/right).

    As in mmcls, padded tokens are masked (-1000 between real and padded tokens) only when the
    map is padded on both axes; with padding on one axis its zero tokens take part unmasked.
    """

    def __init__(self, dims: int, num_heads: int, qkv_bias: bool, attn_drop: float, proj_drop: float,
                 window_size: int):
        super().__init__()
        if dims % num_heads:
            raise BuildError(f"SVT: embed_dims {dims} must be divisible by num_heads {num_heads}")
        self.num_heads, self.window_size = num_heads, window_size
        self.scale = (dims // num_heads) ** -0.5
        self.qkv = nn.Linear(dims, dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dims, dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def _mask(self, height: int, width: int, pad_b: int, pad_r: int, device) -> torch.Tensor | None:
        if not (pad_b and pad_r):
            return None
        ws = self.window_size
        padded = torch.zeros(height, width, device=device)
        padded[height - pad_b:, :] = 1
        padded[:, width - pad_r:] = 1
        windows = padded.reshape(height // ws, ws, width // ws, ws).transpose(1, 2).reshape(-1, ws * ws)
        differs = windows[:, None, :] != windows[:, :, None]
        return torch.zeros_like(differs, dtype=torch.float32).masked_fill(differs, -1000.0)[None, :, None]

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        batch, tokens, dims = x.shape
        height, width = size
        ws = self.window_size
        pad_r, pad_b = (ws - width % ws) % ws, (ws - height % ws) % ws
        x = F.pad(x.view(batch, height, width, dims), (0, 0, 0, pad_r, 0, pad_b))
        rows, cols = x.shape[1] // ws, x.shape[2] // ws
        x = x.reshape(batch, rows, ws, cols, ws, dims).transpose(2, 3)
        qkv = self.qkv(x).reshape(batch, rows * cols, ws * ws, 3, self.num_heads, -1).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        mask = self._mask(rows * ws, cols * ws, pad_b, pad_r, x.device)
        if mask is not None:
            attn = attn + mask
        x = (self.attn_drop(attn.softmax(dim=-1)) @ v).transpose(2, 3)
        x = x.reshape(batch, rows, cols, ws, ws, dims).transpose(2, 3).reshape(batch, rows * ws, cols * ws, dims)
        x = x[:, :height, :width].reshape(batch, tokens, dims)
        return self.proj_drop(self.proj(x))


class EncoderLayer(nn.Module):
    """Pre-norm attention (``attn``) and FFN (``ffn``) residual branches."""

    def __init__(self, attn: nn.Module, dims: int, hidden: int, drop: float, drop_path: float, norm_eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dims, eps=norm_eps)
        self.attn = attn
        self.norm2 = nn.LayerNorm(dims, eps=norm_eps)
        self.ffn = FFN(dims, hidden, drop, drop_path)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), size))
        return x + self.drop_path(self.ffn(self.norm2(x)))


class ConditionalPositionEncoding(nn.Module):
    """Depthwise 3x3 conv of the token map added to it (key ``proj``)."""

    def __init__(self, dims: int):
        super().__init__()
        self.proj = nn.Conv2d(dims, dims, 3, padding=1, groups=dims)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        feature_map = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *size)
        return (self.proj(feature_map) + feature_map).flatten(2).transpose(1, 2)


def _arch_settings(type_name: str, arch, zoo: dict) -> dict:
    keys = set(next(iter(zoo.values())))
    if isinstance(arch, str):
        if arch.lower() not in zoo:
            raise BuildError(f"{type_name}: arch={arch!r} is not supported; use one of {', '.join(zoo)} or a dict")
        return zoo[arch.lower()]
    if not isinstance(arch, Mapping) or set(arch) != keys:
        raise BuildError(f"{type_name}: a custom arch must be a dict with exactly the keys {sorted(keys)}, "
                         f"got {arch!r}")
    if len({len(value) for value in arch.values()}) != 1:
        raise BuildError(f"{type_name}: every arch list must have one entry per stage, got {arch!r}")
    return dict(arch)


def _norm_eps(type_name: str, norm_cfg) -> float:
    """The LayerNorm eps of ``norm_cfg``."""
    if not isinstance(norm_cfg, Mapping) or norm_cfg.get("type") != "LN" or set(norm_cfg) - {"type", "eps"}:
        raise BuildError(f"{type_name}: norm_cfg={norm_cfg!r} is not supported; use dict(type='LN'[, eps=...])")
    return float(norm_cfg.get("eps", 1e-5))


@BACKBONES.register()
class PCPVT(Backbone):
    """mmcls ``PCPVT(arch='small'|'base'|'large'|dict)``: Twins-PCPVT, global sub-sampled attention
    with a conditional position encoding after each stage's first layer; outputs ``(N, C, H, W)``."""

    type_name = "PCPVT"
    arch_zoo = _PCPVT_ARCHS

    def __init__(self, arch, in_channels: int = 3, out_indices=(3,), qkv_bias: bool = False, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0, norm_cfg=None,
                 norm_after_stage=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        settings = _arch_settings(self.type_name, arch, self.arch_zoo)
        dims, depths = settings["embed_dims"], settings["depths"]
        self.num_stages = len(depths)
        self.norm_eps = eps = _norm_eps(self.type_name, norm_cfg if norm_cfg is not None else {"type": "LN"})
        self.out_indices = resolve_out_indices(self.type_name, out_indices, self.num_stages)
        self.patch_embeds = nn.ModuleList(
            PatchEmbed(in_channels if i == 0 else dims[i - 1], dims[i], settings["patch_sizes"][i],
                       settings["strides"][i], "corner", norm=True) for i in range(self.num_stages))
        self.position_encoding_drops = nn.ModuleList(nn.Dropout(drop_rate) for _ in range(self.num_stages))
        self.position_encodings = nn.ModuleList(ConditionalPositionEncoding(d) for d in dims)
        rates = drop_path_rates(drop_path_rate, sum(depths))
        self.stages = nn.ModuleList()
        for k, depth in enumerate(depths):
            stage_rates, rates = rates[:depth], rates[depth:]
            self.stages.append(nn.ModuleList(
                EncoderLayer(self._attention(settings, k, i, qkv_bias, attn_drop_rate, drop_rate, rate), dims[k],
                             settings["mlp_ratios"][k] * dims[k], drop_rate, rate, eps)
                for i, rate in enumerate(stage_rates)))
        for i, has_norm in enumerate(self._norm_flags(norm_after_stage)):
            self.add_module(f"norm_after_stage{i}",
                            nn.LayerNorm(dims[i], eps=eps) if has_norm else nn.Identity())
        self.feature_dim = dims[self.out_indices[-1]]

    def _norm_flags(self, norm_after_stage) -> list[bool]:
        flags = [norm_after_stage] * self.num_stages if isinstance(norm_after_stage, bool) else norm_after_stage
        if (not isinstance(flags, (list, tuple)) or len(flags) != self.num_stages
                or not all(isinstance(flag, bool) for flag in flags)):
            raise BuildError(f"{self.type_name}: norm_after_stage must be a bool or {self.num_stages} bools, "
                             f"got {norm_after_stage!r}")
        return list(flags)

    def _attention(self, settings: dict, stage: int, index: int, qkv_bias: bool, attn_drop: float, drop: float,
                   drop_path: float) -> nn.Module:
        return GlobalSubsampledAttention(settings["embed_dims"][stage], settings["num_heads"][stage], qkv_bias,
                                         settings["sr_ratios"][stage], attn_drop, drop, drop_path, self.norm_eps)

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(self.num_stages):
            x, size = self.patch_embeds[i](x)
            x = self.position_encoding_drops[i](x)
            for j, layer in enumerate(self.stages[i]):
                x = layer(x, size)
                if j == 0:
                    x = self.position_encodings[i](x, size)
            x = getattr(self, f"norm_after_stage{i}")(x)
            x = x.transpose(1, 2).reshape(x.shape[0], -1, *size).contiguous()
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)


@BACKBONES.register()
class SVT(PCPVT):
    """mmcls ``SVT(arch='small'|'base'|'large'|dict)``: Twins-SVT, PCPVT whose even layers attend
    within ``window_sizes`` windows (locally grouped attention)."""

    type_name = "SVT"
    arch_zoo = _SVT_ARCHS

    def _attention(self, settings: dict, stage: int, index: int, qkv_bias: bool, attn_drop: float, drop: float,
                   drop_path: float) -> nn.Module:
        if index % 2:
            return super()._attention(settings, stage, index, qkv_bias, attn_drop, drop, drop_path)
        return LocallyGroupedSelfAttention(settings["embed_dims"][stage], settings["num_heads"][stage], qkv_bias,
                                           attn_drop, drop, settings["window_sizes"][stage])
