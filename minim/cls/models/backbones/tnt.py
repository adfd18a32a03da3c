"""mmcls 0.x ``TNT``: Transformer in Transformer (inner pixel-level and outer patch-level blocks)."""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

from minim.cls.models.backbones._checks import require_value
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.vit import FFN, drop_path, drop_path_rates, layer_norm, pair
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_TNT_KEYS = ("embed_dims_outer", "embed_dims_inner", "num_layers", "num_heads_outer", "num_heads_inner")
_TNT_ARCHS = {
    **dict.fromkeys(("s", "small"), (384, 24, 12, 6, 4)),
    **dict.fromkeys(("b", "base"), (640, 40, 12, 10, 4)),
}


class TokenAttention(nn.Module):
    """mmcv's ``MultiheadAttention`` wrapper: torch's ``nn.MultiheadAttention`` (keys ``attn.in_proj_*``,
    ``attn.out_proj``) on batch-first tokens, then dropout, drop path and the residual."""

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.0, proj_drop: float = 0.0,
                 drop_path_rate: float = 0.0, qkv_bias: bool = False):
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=attn_drop)
        if not qkv_bias:
            self.attn.in_proj_bias = None
        self.proj_drop = nn.Dropout(proj_drop)
        self.drop_path = drop_path(drop_path_rate)

    def forward(self, x: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        tokens = x.transpose(0, 1)
        out = self.attn(tokens, tokens, tokens, need_weights=False)[0].transpose(0, 1)
        return identity + self.drop_path(self.proj_drop(out))


class TransformerBlock(nn.Module):
    """Pre-norm block of TNT (keys ``norm_attn``, ``attn.attn``, ``norm_ffn``, ``ffn``)."""

    def __init__(self, embed_dims: int, num_heads: int, ffn_ratio: int = 4, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0, num_fcs: int = 2, qkv_bias: bool = False,
                 norm_cfg: Mapping[str, Any] | None = None):
        super().__init__()
        self.norm_attn = layer_norm("TNT", norm_cfg, embed_dims)
        self.attn = TokenAttention(embed_dims, num_heads, attn_drop_rate, drop_rate, drop_path_rate, qkv_bias)
        self.norm_ffn = layer_norm("TNT", norm_cfg, embed_dims)
        self.ffn = FFN(embed_dims, embed_dims * ffn_ratio, num_fcs, None, drop_rate, drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn(self.norm_attn(x), identity=x)
        return self.ffn(self.norm_ffn(x), identity=x)


class TnTLayer(nn.Module):
    """An inner block on the pixel tokens, their projection added to the patch tokens, an outer block."""

    def __init__(self, num_pixel: int, embed_dims_inner: int, embed_dims_outer: int, num_heads_inner: int,
                 num_heads_outer: int, block_cfg: dict, norm_cfg: Mapping[str, Any] | None):
        super().__init__()
        self.inner_block = TransformerBlock(embed_dims_inner, num_heads_inner, norm_cfg=norm_cfg, **block_cfg)
        self.norm_proj = layer_norm("TNT", norm_cfg, embed_dims_inner)
        self.projection = nn.Linear(embed_dims_inner * num_pixel, embed_dims_outer)
        self.outer_block = TransformerBlock(embed_dims_outer, num_heads_outer, norm_cfg=norm_cfg, **block_cfg)

    def forward(self, pixel_embed: torch.Tensor, patch_embed: torch.Tensor):
        pixel_embed = self.inner_block(pixel_embed)
        batch, length, _ = patch_embed.shape
        added = self.projection(self.norm_proj(pixel_embed).reshape(batch, length - 1, -1))
        patch_embed = torch.cat([patch_embed[:, :1], patch_embed[:, 1:] + added], dim=1)
        return pixel_embed, self.outer_block(patch_embed)


class PixelEmbed(nn.Module):
    """A strided 7x7 conv (``proj``) whose map is cut into one small pixel grid per patch."""

    def __init__(self, img_size: Any, patch_size: Any, in_channels: int, embed_dims_inner: int, stride: int):
        super().__init__()
        self.img_size = pair(img_size)
        patch_size = pair(patch_size)
        self.num_patches = (self.img_size[0] // patch_size[0]) * (self.img_size[1] // patch_size[1])
        self.embed_dims_inner = embed_dims_inner
        self.new_patch_size = tuple(math.ceil(size / stride) for size in patch_size)
        self.proj = nn.Conv2d(in_channels, embed_dims_inner, kernel_size=7, padding=3, stride=stride)
        self.unfold = nn.Unfold(kernel_size=self.new_patch_size, stride=self.new_patch_size)

    def forward(self, x: torch.Tensor, pixel_pos: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != self.img_size:
            raise ValueError(f"TNT: the input is {tuple(x.shape[2:])} pixels but the model's img_size is "
                             f"{self.img_size}")
        pixels = self.unfold(self.proj(x)).transpose(1, 2)
        pixels = pixels.reshape(-1, self.embed_dims_inner, *self.new_patch_size) + pixel_pos
        return pixels.reshape(pixels.shape[0], self.embed_dims_inner, -1).transpose(1, 2)


def _tnt_arch(arch: Any) -> dict[str, int]:
    if isinstance(arch, str):
        if arch.lower() not in _TNT_ARCHS:
            raise BuildError(f"TNT: arch={arch!r} is not supported; use 's', 'small', 'b', 'base' or a dict "
                             f"with keys {list(_TNT_KEYS)}")
        return dict(zip(_TNT_KEYS, _TNT_ARCHS[arch.lower()]))
    if not isinstance(arch, Mapping) or set(arch) != set(_TNT_KEYS):
        raise BuildError(f"TNT: a custom arch must be a dict with exactly the keys {list(_TNT_KEYS)}, got {arch!r}")
    return {key: int(arch[key]) for key in _TNT_KEYS}


@BACKBONES.register()
class TNT(Backbone):
    """mmcls ``TNT``: pixel embedding, its projection to patch tokens (``norm1_proj``, ``projection``,
    ``norm2_proj``), class token, ``patch_pos``/``pixel_pos`` embeddings, TnT layers, final ``norm``.

    Outputs ``(cls_token,)`` (N, embed_dims_outer): pair it with ``LinearClsHead``.  Inputs must be
    ``img_size`` pixels.
    """

    #: the class token before the patch tokens (Grad-CAM drops it)
    num_extra_tokens = 1

    def __init__(self, arch: Any = "b", img_size: Any = 224, patch_size: Any = 16, in_channels: int = 3,
                 ffn_ratio: int = 4, qkv_bias: bool = False, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, act_cfg: Mapping[str, Any] | None = None,
                 norm_cfg: Mapping[str, Any] | None = None, first_stride: int = 4, num_fcs: int = 2,
                 init_cfg: Any = None):
        super().__init__(init_cfg=init_cfg)
        require_value("TNT", "act_cfg", act_cfg, None, {"type": "GELU"})  # mmcls's blocks always use GELU
        settings = _tnt_arch(arch)
        inner, outer = settings["embed_dims_inner"], settings["embed_dims_outer"]
        self.embed_dims = self.feature_dim = outer
        norm_cfg = norm_cfg if norm_cfg is not None else {"type": "LN"}
        self.pixel_embed = PixelEmbed(img_size, patch_size, in_channels, inner, first_stride)
        self.num_patches = self.pixel_embed.num_patches
        new_patch_size = self.pixel_embed.new_patch_size
        num_pixel = new_patch_size[0] * new_patch_size[1]
        self.norm1_proj = layer_norm("TNT", norm_cfg, num_pixel * inner)
        self.projection = nn.Linear(num_pixel * inner, outer)
        self.norm2_proj = layer_norm("TNT", norm_cfg, outer)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, outer))
        self.patch_pos = nn.Parameter(torch.zeros(1, self.num_patches + 1, outer))
        self.pixel_pos = nn.Parameter(torch.zeros(1, inner, *new_patch_size))
        for param in (self.cls_token, self.patch_pos, self.pixel_pos):
            nn.init.trunc_normal_(param, std=0.02)
        self.drop_after_pos = nn.Dropout(drop_rate)
        rates = drop_path_rates(drop_path_rate, settings["num_layers"])
        self.layers = nn.ModuleList(
            TnTLayer(num_pixel, inner, outer, settings["num_heads_inner"], settings["num_heads_outer"],
                     dict(ffn_ratio=ffn_ratio, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                          drop_path_rate=rate, num_fcs=num_fcs, qkv_bias=qkv_bias), norm_cfg)
            for rate in rates)
        self.norm = layer_norm("TNT", norm_cfg, outer)

    def cam_target_layer(self) -> str:
        """Grad-CAM's layer: the normed patch tokens the last layer's class token attends to."""
        return f"layers.{len(self.layers) - 1}.outer_block.norm_attn"

    def forward(self, x: torch.Tensor):
        batch = x.shape[0]
        pixel_embed = self.pixel_embed(x, self.pixel_pos)
        patch_embed = self.norm2_proj(self.projection(self.norm1_proj(pixel_embed.reshape(batch,
                                                                                          self.num_patches, -1))))
        patch_embed = torch.cat([self.cls_token.expand(batch, -1, -1), patch_embed], dim=1) + self.patch_pos
        patch_embed = self.drop_after_pos(patch_embed)
        for layer in self.layers:
            pixel_embed, patch_embed = layer(pixel_embed, patch_embed)
        return (self.norm(patch_embed)[:, 0],)
