"""mmcls 0.x ``T2T_ViT``: Tokens-to-Token ViT (soft splits + token attention, then a ViT encoder)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.vit import (
    TransformerEncoderLayer,
    drop_path_rates,
    fit_checkpoint_pos_embed,
    layer_norm,
    normalise_out_indices,
    pair,
    per_layer_cfgs,
    resize_pos_embed,
    token_outputs,
)
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError


def _unfold_size(unfold: nn.Unfold, size: Sequence[int]) -> tuple[int, int]:
    kernel, stride, padding = pair(unfold.kernel_size), pair(unfold.stride), pair(unfold.padding)
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(size, kernel, stride, padding))


class T2TModule(nn.Module):
    """Tokens-to-token stem: three soft splits (unfolds of 7/4, 3/2, 3/2) with a single-head token
    transformer between them, then a linear ``project`` to ``embed_dims`` (an input/16 token grid)."""

    def __init__(self, img_size: int = 224, in_channels: int = 3, embed_dims: int = 384, token_dims: int = 64,
                 use_performer: bool = False):
        super().__init__()
        if use_performer:
            raise BuildError("T2T_ViT: t2t_cfg.use_performer=True is not supported (mmcls has no Performer "
                             "either)")
        self.soft_split0 = nn.Unfold(kernel_size=7, stride=4, padding=2)
        self.soft_split1 = nn.Unfold(kernel_size=3, stride=2, padding=1)
        self.soft_split2 = nn.Unfold(kernel_size=3, stride=2, padding=1)
        self.attention1 = TransformerEncoderLayer(token_dims, 1, token_dims, input_dims=in_channels * 7 * 7,
                                                  qkv_bias=False)
        self.attention2 = TransformerEncoderLayer(token_dims, 1, token_dims, input_dims=token_dims * 3 * 3,
                                                  qkv_bias=False)
        self.project = nn.Linear(token_dims * 3 * 3, embed_dims)
        side = img_size // 16
        self.init_out_size = (side, side)

    def forward(self, x: torch.Tensor):
        grid = _unfold_size(self.soft_split0, x.shape[2:])
        x = self.soft_split0(x).transpose(1, 2)
        for attention, soft_split in ((self.attention1, self.soft_split1), (self.attention2, self.soft_split2)):
            x = attention(x).transpose(1, 2)
            x = x.reshape(x.shape[0], x.shape[1], *grid)
            grid = _unfold_size(soft_split, grid)
            x = soft_split(x).transpose(1, 2)
        return self.project(x), grid


def sinusoid_table(positions: int, dims: int) -> torch.Tensor:
    """The fixed ``(1, positions, dims)`` sine/cosine position table of T2T-ViT (float64 maths, as mmcls)."""
    exponent = torch.arange(dims, dtype=torch.float64)
    exponent = (exponent - exponent % 2) / dims
    angles = torch.arange(positions, dtype=torch.float64).view(-1, 1) * torch.pow(10000, -exponent).view(1, -1)
    table = torch.empty_like(angles)
    table[:, 0::2] = angles[:, 0::2].sin()
    table[:, 1::2] = angles[:, 1::2].cos()
    return table.to(torch.float32).unsqueeze(0)


@BACKBONES.register()
class T2T_ViT(Backbone):  # noqa: N801 - mmcls's type name
    """mmcls ``T2T_ViT``: ``tokens_to_token`` stem, class token, sinusoidal position table (a buffer),
    ``encoder`` layers and final ``norm``.  Outputs as ``VisionTransformer`` (pair with
    ``VisionTransformerClsHead``)."""

    num_extra_tokens = 1

    def __init__(self, img_size: int = 224, in_channels: int = 3, embed_dims: int = 384, num_layers: int = 14,
                 out_indices: Any = -1, drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 norm_cfg: Mapping[str, Any] | None = None, final_norm: bool = True, with_cls_token: bool = True,
                 output_cls_token: bool = True, interpolate_mode: str = "bicubic",
                 t2t_cfg: Mapping[str, Any] | None = None, layer_cfgs: Any = None, init_cfg: Any = None):
        super().__init__(init_cfg=init_cfg)
        name = "T2T_ViT"
        if output_cls_token and not with_cls_token:
            raise BuildError(f"{name}: output_cls_token=True needs with_cls_token=True")
        if not isinstance(img_size, int):
            raise BuildError(f"{name}: img_size must be an int, got {img_size!r}")
        self.feature_dim = embed_dims
        self.tokens_to_token = T2TModule(img_size=img_size, in_channels=in_channels, embed_dims=embed_dims,
                                         **dict(t2t_cfg or {}))
        self.patch_resolution = self.tokens_to_token.init_out_size
        self.with_cls_token = with_cls_token
        self.output_cls_token = output_cls_token
        self.interpolate_mode = interpolate_mode
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        self.register_buffer("pos_embed", sinusoid_table(num_patches + self.num_extra_tokens, embed_dims))
        self.drop_after_pos = nn.Dropout(drop_rate)
        self.out_indices = normalise_out_indices(name, out_indices, num_layers)
        rates = drop_path_rates(drop_path_rate, num_layers)
        norm_cfg = norm_cfg if norm_cfg is not None else {"type": "LN"}
        cfgs = per_layer_cfgs(name, layer_cfgs, num_layers)
        self.encoder = nn.ModuleList(
            TransformerEncoderLayer(**{**dict(embed_dims=embed_dims, num_heads=6, feedforward_channels=3 * embed_dims,
                                              drop_path_rate=rates[i], qkv_bias=False, norm_cfg=norm_cfg), **cfgs[i]})
            for i in range(num_layers))
        self.final_norm = final_norm
        self.norm = layer_norm(name, norm_cfg, embed_dims) if final_norm else nn.Identity()

    def cam_target_layer(self) -> str:
        """Grad-CAM's layer: the last encoder layer's ``ln1`` (as ``VisionTransformer``'s)."""
        return f"encoder.{len(self.encoder) - 1}.ln1"

    def convert_mmcls_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """mmcls's keys are this backbone's; a position table of another input size is resized."""
        own = dict(state)
        fit_checkpoint_pos_embed(own, "pos_embed", self.pos_embed, self.patch_resolution, self.interpolate_mode,
                                 self.num_extra_tokens)
        return own

    def forward(self, x: torch.Tensor):
        x, grid = self.tokens_to_token(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, grid, self.interpolate_mode,
                                 self.num_extra_tokens)
        x = self.drop_after_pos(x)
        extra = self.num_extra_tokens
        if not self.with_cls_token:
            x, extra = x[:, extra:], 0
        outs = []
        for index, layer in enumerate(self.encoder):
            x = layer(x)
            if index == len(self.encoder) - 1:
                x = self.norm(x)
            if index in self.out_indices:
                outs.append(token_outputs(x, grid, extra, self.output_cls_token))
        return tuple(outs)
