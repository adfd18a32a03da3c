"""mmcls 0.x ``MViT`` (MViTv2): pooling attention with decomposed relative positions, built with mmcls's names.

timm's ``MultiScaleVit`` groups blocks into stages (``stages.i.blocks.j``) and normalises only at
the end, while mmcls normalises the tokens in place wherever a scale is output (later blocks see
the normalised tokens); the blocks here are minim's own so mmcls checkpoints load unchanged.
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from timm.layers import DropPath, Mlp
from torch import nn

from minim.cls.models.backbones._checks import require_value, resolve_out_indices
from minim.cls.models.backbones.base import Backbone, drop_path_rates
from minim.cls.models.backbones.twins import PatchEmbed
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_ARCHS = {
    "tiny": {"embed_dims": 96, "num_layers": 10, "num_heads": 1, "downscale_indices": [1, 3, 8]},
    "small": {"embed_dims": 96, "num_layers": 16, "num_heads": 1, "downscale_indices": [1, 3, 14]},
    "base": {"embed_dims": 96, "num_layers": 24, "num_heads": 1, "downscale_indices": [2, 5, 21]},
    "large": {"embed_dims": 144, "num_layers": 48, "num_heads": 2, "downscale_indices": [2, 8, 44]},
}


def _relative_table(table: torch.Tensor, q_size: int, k_size: int) -> torch.Tensor:
    """Per (query, key) position embeddings ``(q_size, k_size, C)`` from a (resized) table."""
    length = int(2 * max(q_size, k_size) - 1)
    if table.shape[0] != length:
        table = F.interpolate(table.transpose(0, 1).unsqueeze(0), size=length, mode="linear")
        table = table.squeeze(0).transpose(0, 1)
    q_ratio, k_ratio = max(k_size / q_size, 1.0), max(q_size / k_size, 1.0)
    offsets = (torch.arange(q_size)[:, None] * q_ratio - torch.arange(k_size)[None, :] * k_ratio
               + (k_size - 1) * k_ratio)
    return table[offsets.long()]


def _pool(x: torch.Tensor, pool: nn.Module, size: tuple[int, int], norm: nn.Module | None = None):
    """Pool tokens ``(N, heads, L, C)`` or ``(N, L, C)`` laid out on a ``size`` map; returns them and the new size."""
    tokens_only = x.dim() == 3
    if tokens_only:
        x = x.unsqueeze(1)
    batch, heads, _, channels = x.shape
    x = pool(x.reshape(batch * heads, *size, channels).permute(0, 3, 1, 2))
    out_size = (x.shape[2], x.shape[3])
    x = x.reshape(batch, heads, channels, -1).transpose(2, 3)
    if norm is not None:
        x = norm(x)
    return (x.squeeze(1) if tokens_only else x), out_size


class MultiScaleAttention(nn.Module):
    """Attention whose q, k, v are pooled by strided depthwise convs (+ LN), with relative positions."""

    def __init__(self, in_dims: int, out_dims: int, num_heads: int, qkv_bias: bool, norm_eps: float,
                 pool_kernel, stride_q: int, stride_kv: int, rel_pos_spatial: bool, residual_pooling: bool,
                 input_size: tuple[int, int]):
        super().__init__()
        self.num_heads, self.out_dims = num_heads, out_dims
        head_dim = out_dims // num_heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(in_dims, out_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(out_dims, out_dims)
        padding = [k // 2 for k in pool_kernel]
        for name, stride in (("q", stride_q), ("k", stride_kv), ("v", stride_kv)):
            self.add_module(f"pool_{name}", nn.Conv2d(head_dim, head_dim, tuple(pool_kernel), stride=stride,
                                                      padding=padding, groups=head_dim, bias=False))
            self.add_module(f"norm_{name}", nn.LayerNorm(head_dim, eps=norm_eps))
        self.residual_pooling = residual_pooling
        self.rel_pos_spatial = rel_pos_spatial
        if rel_pos_spatial:
            if input_size[0] != input_size[1]:
                raise BuildError(f"MViT: rel_pos_spatial needs a square patch grid, got {tuple(input_size)}")
            length = 2 * max(input_size[0] // stride_q, input_size[0] // stride_kv) - 1
            self.rel_pos_h = nn.Parameter(torch.zeros(length, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(length, head_dim))
            nn.init.trunc_normal_(self.rel_pos_h, std=0.02)
            nn.init.trunc_normal_(self.rel_pos_w, std=0.02)

    def _add_rel_pos(self, attn: torch.Tensor, q: torch.Tensor, q_size, k_size) -> torch.Tensor:
        batch, heads, _, channels = q.shape
        table_h = _relative_table(self.rel_pos_h, q_size[0], k_size[0])
        table_w = _relative_table(self.rel_pos_w, q_size[1], k_size[1])
        q_map = q.reshape(batch, heads, *q_size, channels)
        rel_h = torch.einsum("byhwc,hkc->byhwk", q_map, table_h)
        rel_w = torch.einsum("byhwc,wkc->byhwk", q_map, table_w)
        rel = rel_h[..., :, None] + rel_w[..., None, :]
        attn = attn.view(batch, heads, *q_size, *k_size) + rel
        return attn.view(batch, heads, q_size[0] * q_size[1], k_size[0] * k_size[1])

    def forward(self, x: torch.Tensor, size: tuple[int, int]):
        batch, tokens, _ = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        q, q_size = _pool(q, self.pool_q, size, self.norm_q)
        k, k_size = _pool(k, self.pool_k, size, self.norm_k)
        v, _ = _pool(v, self.pool_v, size, self.norm_v)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.rel_pos_spatial:
            attn = self._add_rel_pos(attn, q, q_size, k_size)
        x = attn.softmax(dim=-1) @ v
        if self.residual_pooling:
            x = x + q
        return self.proj(x.transpose(1, 2).reshape(batch, -1, self.out_dims)), q_size


class MultiScaleBlock(nn.Module):
    """Pooling-attention and MLP residual branches; the width grows in the attention
    (``dim_mul_in_attention``) or in the MLP, through the skip projection ``proj``."""

    def __init__(self, in_dims: int, out_dims: int, num_heads: int, mlp_ratio: float, qkv_bias: bool,
                 drop_path: float, norm_eps: float, pool_kernel, stride_q: int, stride_kv: int,
                 rel_pos_spatial: bool, residual_pooling: bool, dim_mul_in_attention: bool,
                 input_size: tuple[int, int]):
        super().__init__()
        self.dim_mul_in_attention = dim_mul_in_attention
        attn_dims = out_dims if dim_mul_in_attention else in_dims
        self.norm1 = nn.LayerNorm(in_dims, eps=norm_eps)
        self.attn = MultiScaleAttention(in_dims, attn_dims, num_heads, qkv_bias, norm_eps, pool_kernel, stride_q,
                                        stride_kv, rel_pos_spatial, residual_pooling, input_size)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(attn_dims, eps=norm_eps)
        self.mlp = Mlp(attn_dims, int(attn_dims * mlp_ratio), out_dims)
        self.proj = nn.Linear(in_dims, out_dims) if in_dims != out_dims else None
        self.pool_skip = nn.MaxPool2d(stride_q + 1, stride_q, (stride_q + 1) // 2) if stride_q > 1 else None
        self.out_size = tuple(s // stride_q for s in input_size)

    def forward(self, x: torch.Tensor, size: tuple[int, int]):
        x_norm = self.norm1(x)
        x_attn, out_size = self.attn(x_norm, size)
        skip = self.proj(x_norm) if self.dim_mul_in_attention and self.proj is not None else x
        if self.pool_skip is not None:
            skip, _ = _pool(skip, self.pool_skip, size)
        x = skip + self.drop_path(x_attn)
        x_norm = self.norm2(x)
        skip = self.proj(x_norm) if not self.dim_mul_in_attention and self.proj is not None else x
        return skip + self.drop_path(self.mlp(x_norm)), out_size


def _arch_settings(arch) -> dict:
    if isinstance(arch, str):
        if arch.lower() not in _ARCHS:
            raise BuildError(f"MViT: arch={arch!r} is not supported; use one of {', '.join(_ARCHS)} or a dict")
        return _ARCHS[arch.lower()]
    keys = set(_ARCHS["tiny"])
    if not isinstance(arch, Mapping) or not keys <= set(arch):
        raise BuildError(f"MViT: a custom arch must be a dict with the keys {sorted(keys)}, got {arch!r}")
    return dict(arch)


def _layer_norm_eps(norm_cfg) -> float:
    if not isinstance(norm_cfg, Mapping) or norm_cfg.get("type") != "LN" or set(norm_cfg) - {"type", "eps"}:
        raise BuildError(f"MViT: norm_cfg={norm_cfg!r} is not supported; use dict(type='LN'[, eps=...])")
    return float(norm_cfg.get("eps", 1e-5))


@BACKBONES.register()
class MViT(Backbone):
    """mmcls ``MViT(arch='tiny'|'small'|'base'|'large'|dict)`` (MViTv2); outputs ``(N, C, H, W)`` per scale.

    ``out_scales`` index the scales (one per downscale plus the first); an output scale's tokens
    are normalised by ``norm{scale}`` and the following blocks continue from them, as in mmcls.
    """

    def __init__(self, arch="base", img_size: int = 224, in_channels: int = 3, out_scales=-1,
                 drop_path_rate: float = 0.0, use_abs_pos_embed: bool = False, interpolate_mode: str = "bicubic",
                 pool_kernel=(3, 3), dim_mul: int = 2, head_mul: int = 2, adaptive_kv_stride: int = 4,
                 rel_pos_spatial: bool = True, residual_pooling: bool = True, dim_mul_in_attention: bool = True,
                 rel_pos_zero_init: bool = False, mlp_ratio: float = 4.0, qkv_bias: bool = True, norm_cfg=None,
                 patch_cfg=None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        settings = _arch_settings(arch)
        eps = _layer_norm_eps(norm_cfg if norm_cfg is not None else {"type": "LN", "eps": 1e-6})
        patch = {"kernel_size": 7, "stride": 4, "padding": 3, **(patch_cfg or {})}
        if set(patch) != {"kernel_size", "stride", "padding"}:
            raise BuildError(f"MViT: patch_cfg={patch_cfg!r} is not supported; give kernel_size, stride, padding")
        require_value("MViT", "interpolate_mode", interpolate_mode, "bicubic", "bilinear", "nearest")
        self.interpolate_mode = interpolate_mode
        downscales = list(settings["downscale_indices"])
        num_layers = settings["num_layers"]
        self.num_scales = len(downscales) + 1
        self.scale_of_block = {index - 1: i for i, index in enumerate(downscales)}
        self.scale_of_block[num_layers - 1] = self.num_scales - 1
        self.out_scales = resolve_out_indices("MViT", out_scales, self.num_scales, name="out_scales")

        self.patch_embed = PatchEmbed(in_channels, settings["embed_dims"], patch["kernel_size"], patch["stride"],
                                      patch["padding"], norm=False)
        size = img_size if isinstance(img_size, (tuple, list)) else (img_size, img_size)
        grid = tuple((s + 2 * patch["padding"] - patch["kernel_size"]) // patch["stride"] + 1 for s in size)
        self.patch_resolution = grid
        if use_abs_pos_embed:
            self.pos_embed = nn.Parameter(torch.zeros(1, grid[0] * grid[1], settings["embed_dims"]))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        rates = drop_path_rates(drop_path_rate, num_layers)
        self.blocks = nn.ModuleList()
        dims, heads, stride_kv = settings["embed_dims"], settings["num_heads"], adaptive_kv_stride
        for i in range(num_layers):
            stride_q = 1
            if i in downscales:
                heads, stride_q, stride_kv = heads * head_mul, 2, max(stride_kv // 2, 1)
            grows = i in downscales if dim_mul_in_attention else i + 1 in downscales
            out_dims = dims * dim_mul if grows else dims
            block = MultiScaleBlock(dims, out_dims, heads, mlp_ratio, qkv_bias, rates[i], eps, pool_kernel, stride_q,
                                    stride_kv, rel_pos_spatial, residual_pooling, dim_mul_in_attention, grid)
            if rel_pos_spatial and rel_pos_zero_init:
                nn.init.zeros_(block.attn.rel_pos_h)
                nn.init.zeros_(block.attn.rel_pos_w)
            self.blocks.append(block)
            grid, dims = block.out_size, out_dims
            if self.scale_of_block.get(i) in self.out_scales:
                self.add_module(f"norm{self.scale_of_block[i]}", nn.LayerNorm(out_dims, eps=eps))
                self.feature_dim = out_dims

    def _position_embedding(self, size: tuple[int, int]) -> torch.Tensor:
        if size == self.patch_resolution:
            return self.pos_embed
        channels = self.pos_embed.shape[-1]
        grid = self.pos_embed.reshape(1, *self.patch_resolution, channels).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=size, align_corners=False, mode=self.interpolate_mode)
        return grid.flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor):
        x, size = self.patch_embed(x)
        if hasattr(self, "pos_embed"):
            x = x + self._position_embedding(size)
        outs = []
        for i, block in enumerate(self.blocks):
            x, size = block(x, size)
            scale = self.scale_of_block.get(i)
            if scale in self.out_scales:
                x = getattr(self, f"norm{scale}")(x)
                outs.append(x.transpose(1, 2).reshape(x.shape[0], -1, *size).contiguous())
        return outs[0] if len(outs) == 1 else tuple(outs)
