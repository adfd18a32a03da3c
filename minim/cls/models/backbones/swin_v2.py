"""mmcls 0.x ``SwinTransformerV2``: Swin v2 (post-norm blocks, cosine window attention with a
log-spaced continuous position bias) with mmcls's module names, so its checkpoints load unchanged.

Built on the Swin v1 pieces of :mod:`.swin`.  torchvision's ``swin_v2_*`` checkpoints are converted
too (renamed, merged channels reordered, the ``qkv`` bias split into ``q_bias``/``v_bias``), and so
are timm's ``swinv2_*``; both ways back with ``minim run cls convert --to torchvision|timm``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as checkpoint
from timm.layers import DropPath
from torch import nn

from minim.cls.models.backbones.swin import (
    DEFAULT_NORM_CFG, DERIVED_BUFFERS, FFN, PatchMerging, ShiftWindowMSA, SwinTransformer, WindowSelfAttention,
    reject_unknown,
)
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_SWIN_V2_ARCHS = {
    **dict.fromkeys(("t", "tiny"), {"embed_dims": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24],
                                    "extra_norm_every_n_blocks": 0}),
    **dict.fromkeys(("s", "small"), {"embed_dims": 96, "depths": [2, 2, 18, 2], "num_heads": [3, 6, 12, 24],
                                     "extra_norm_every_n_blocks": 0}),
    **dict.fromkeys(("b", "base"), {"embed_dims": 128, "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32],
                                    "extra_norm_every_n_blocks": 0}),
    **dict.fromkeys(("l", "large"), {"embed_dims": 192, "depths": [2, 2, 18, 2], "num_heads": [6, 12, 24, 48],
                                     "extra_norm_every_n_blocks": 0}),
    **dict.fromkeys(("h", "huge"), {"embed_dims": 352, "depths": [2, 2, 18, 2], "num_heads": [8, 16, 32, 64],
                                    "extra_norm_every_n_blocks": 6}),
    **dict.fromkeys(("g", "giant"), {"embed_dims": 512, "depths": [2, 2, 42, 4], "num_heads": [16, 32, 64, 128],
                                     "extra_norm_every_n_blocks": 6}),
}
_POST_NORM_MERGING = {"downsample_cfg": {"is_post_norm": True}}
#: upper bound of the learned attention temperature (its log is clamped to log(1 / 0.01))
_MAX_LOGIT_SCALE = math.log(100.0)


def log_spaced_coords(window: int, pretrained_window: int) -> torch.Tensor:
    """``(1, 2W-1, 2W-1, 2)`` relative offsets scaled to [-8, 8] by the (pre-training) window, log-spaced."""
    offsets = torch.arange(-(window - 1), window, dtype=torch.float32)
    table = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1).unsqueeze(0)
    table = table / ((pretrained_window if pretrained_window > 0 else window) - 1) * 8
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)


class WindowAttentionV2(WindowSelfAttention):
    """Swin v2 window attention: cosine similarity times a learned per-head temperature, plus a bias
    ``16 * sigmoid(mlp(log-spaced offset))``; the key projection has no bias."""

    def __init__(self, embed_dims: int, window_size: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, pretrained_window_size: int = 0,
                 cpb_mlp_hidden_dims: int = 512):
        super().__init__(embed_dims, window_size, num_heads, False, attn_drop, proj_drop)
        self.cpb_mlp = nn.Sequential(nn.Linear(2, cpb_mlp_hidden_dims), nn.ReLU(inplace=True),
                                     nn.Linear(cpb_mlp_hidden_dims, num_heads, bias=False))
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((num_heads, 1, 1))))
        self.register_buffer("relative_coords_table", log_spaced_coords(window_size, pretrained_window_size))
        self.q_bias = nn.Parameter(torch.zeros(embed_dims)) if qkv_bias else None
        self.v_bias = nn.Parameter(torch.zeros(embed_dims)) if qkv_bias else None

    def qkv_projection(self, x: torch.Tensor) -> torch.Tensor:
        if self.q_bias is None:
            return self.qkv(x)
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        return F.linear(x, self.qkv.weight, bias)

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        cosine = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        return cosine * torch.clamp(self.logit_scale, max=_MAX_LOGIT_SCALE).exp()

    def position_bias(self) -> torch.Tensor:
        return 16 * torch.sigmoid(self.bias_of_pairs(self.cpb_mlp(self.relative_coords_table)))


class SwinBlockV2(nn.Module):
    """Post-norm Swin v2 block: ``x + norm1(attn(x))``, then ``x + norm2(ffn(x))`` (then ``norm3`` if extra)."""

    def __init__(self, attn: ShiftWindowMSA, embed_dims: int, ffn_ratio: float, drop_path: float,
                 extra_norm: bool, with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.attn = attn
        self.norm1 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, int(embed_dims * ffn_ratio))
        self.norm2 = nn.LayerNorm(embed_dims)
        self.norm3 = nn.LayerNorm(embed_dims) if extra_norm else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def residuals(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        x = x + self.norm1(self.attn(x, hw_shape))
        x = x + self.norm2(self.drop_path(self.ffn(x)))
        return self.norm3(x) if self.norm3 is not None else x

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint.checkpoint(self.residuals, x, hw_shape, use_reentrant=False)
        return self.residuals(x, hw_shape)


@BACKBONES.register()
class SwinTransformerV2(SwinTransformer):
    """mmcls ``SwinTransformerV2`` (arch ``'tiny'|'small'|'base'|'large'|'huge'|'giant'`` or a dict of
    ``embed_dims``, ``depths``, ``num_heads``, ``extra_norm_every_n_blocks``).

    ``window_size`` is one size or one per stage; ``pretrained_window_sizes`` (one per stage) scale
    the position-bias coordinates as in pre-training.  Patch merging opens every stage but the
    first and is post-norm by default (``stage_cfgs=dict(downsample_cfg=dict(is_post_norm=True))``).
    """

    type_name = "SwinTransformerV2"
    archs = _SWIN_V2_ARCHS
    arch_keys = {"embed_dims", "depths", "num_heads", "extra_norm_every_n_blocks"}
    merge_first = True

    def __init__(self, arch: Any = "tiny", img_size: Any = 256, patch_size: int = 4, in_channels: int = 3,
                 window_size: Any = 8, drop_rate: float = 0.0, drop_path_rate: float = 0.1, out_indices=(3,),
                 use_abs_pos_embed: bool = False, interpolate_mode: str = "bicubic", with_cp: bool = False,
                 frozen_stages: int = -1, norm_eval: bool = False, pad_small_map: bool = False,
                 norm_cfg: Any = DEFAULT_NORM_CFG, stage_cfgs: Any = _POST_NORM_MERGING, patch_cfg: Any = None,
                 pretrained_window_sizes: Sequence[int] = (0, 0, 0, 0), init_cfg: Any = None):
        self.pretrained_window_sizes = list(pretrained_window_sizes)
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, in_channels=in_channels,
                         window_size=window_size, drop_rate=drop_rate, drop_path_rate=drop_path_rate,
                         out_indices=out_indices, use_abs_pos_embed=use_abs_pos_embed,
                         interpolate_mode=interpolate_mode, with_cp=with_cp, frozen_stages=frozen_stages,
                         norm_eval=norm_eval, pad_small_map=pad_small_map, norm_cfg=norm_cfg, stage_cfgs=stage_cfgs,
                         patch_cfg=patch_cfg, init_cfg=init_cfg)

    # -- construction -------------------------------------------------------------------------
    def _stage_windows(self, window_size: Any) -> list[int]:
        if len(self.pretrained_window_sizes) < self.num_layers:
            raise BuildError(f"{self.type_name}: pretrained_window_sizes needs one size per stage "
                             f"({self.num_layers}), got {self.pretrained_window_sizes!r}")
        if isinstance(window_size, Sequence) and not isinstance(window_size, str):
            if len(window_size) != self.num_layers or not all(isinstance(w, int) for w in window_size):
                raise BuildError(f"{self.type_name}: window_size needs {self.num_layers} ints, got {window_size!r}")
            return list(window_size)
        return super()._stage_windows(window_size)

    def _merging(self, index: int, dims: int, downsample_cfg: Any) -> tuple[PatchMerging | None, int]:
        """v2 merges at the start of every stage but the first (post-norm only when ``is_post_norm``)."""
        if not isinstance(downsample_cfg, Mapping):
            raise BuildError(f"{self.type_name}: stage_cfgs.downsample_cfg must be a dict, got {downsample_cfg!r}")
        reject_unknown(self.type_name, "downsample_cfg", downsample_cfg, {"is_post_norm"})
        if index == 0:
            return None, dims
        merging = PatchMerging(dims, 2 * dims, post_norm=bool(downsample_cfg.get("is_post_norm", False)))
        return merging, merging.out_channels

    def _attention(self, stage: int, dims: int, heads: int, window: int, attn_cfgs: Mapping) -> WindowSelfAttention:
        reject_unknown(self.type_name, "attn_cfgs", attn_cfgs, {"qkv_bias", "qk_scale", "attn_drop", "proj_drop"})
        kwargs = {k: v for k, v in attn_cfgs.items() if k != "qk_scale"}  # mmcls's v2 ignores qk_scale too
        return WindowAttentionV2(dims, window, heads, pretrained_window_size=self.pretrained_window_sizes[stage],
                                 **kwargs)

    def _block(self, stage: int, block: int, dims: int, heads: int, window: int, drop_path: float,
               cfg: Mapping) -> nn.Module:
        every = self.arch_settings["extra_norm_every_n_blocks"]
        attn = self._shift_window_attention(stage, block, dims, heads, window, drop_path, cfg)
        return SwinBlockV2(attn, dims, cfg.get("ffn_ratio", 4.0), drop_path,
                           extra_norm=bool(every) and (block + 1) % every == 0, with_cp=self.with_cp)

    def _output_channels(self) -> list[int]:
        widths, width = [], self.embed_dims
        for stage in self.stages:
            width = stage.downsample.out_channels if stage.downsample is not None else width
            widths.append(width)
        return widths

    # -- checkpoints ------------------------------------------------------------------------------
    def convert_mmcls_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """mmcls's keys are this module's.  mmcls rebuilds the coordinate table and index buffers from the
        config; minim loads them, rebuilding only those a checkpoint lacks or has in another shape."""
        if any(key.startswith("features.") for key in state):
            return self.convert_plain_state(state)
        converted = dict(state)
        for key, own in self.state_dict().items():
            if key.endswith(DERIVED_BUFFERS) and (key not in state or state[key].shape != own.shape):
                converted[key] = own
        return converted

    def _plain_layout(self) -> bool:
        """v1's conditions, with post-norm patch merging and no extra block norms (the plain v2 models have
        neither choice). timm builds the coordinate tables from its own ``window_size`` and
        ``pretrained_window_sizes``, which must be the config's (torchvision loads them)."""
        return (super()._plain_layout()
                and all(stage.downsample is None or stage.downsample.post_norm for stage in self.stages)
                and all(block.norm3 is None for stage in self.stages for block in stage.blocks))

    @staticmethod
    def _plain_attention(attn: WindowSelfAttention) -> bool:
        return attn.q_bias is not None

    def to_plain_state(self, state: dict[str, torch.Tensor], fmt: str) -> dict[str, torch.Tensor]:
        """v1's conversion; for torchvision each ``q_bias``/``v_bias`` pair becomes one ``qkv`` bias whose key
        part is zero (torchvision zeroes that part in its forward; timm keeps the pair)."""
        if fmt == "timm":
            return super().to_plain_state(state, fmt)
        merged = {}
        for key, value in state.items():
            if key.endswith("w_msa.v_bias"):
                continue
            if key.endswith("w_msa.q_bias"):
                prefix = key[: -len("q_bias")]
                v_bias = state[prefix + "v_bias"]
                key, value = prefix + "qkv.bias", torch.cat((value, torch.zeros_like(v_bias), v_bias))
            merged[key] = value
        return super().to_plain_state(merged, fmt)

    def _torchvision_tensors(self, key: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
        converted = super()._torchvision_tensors(key, value)
        own_key = next(iter(converted))
        if not own_key.endswith("w_msa.qkv.bias"):
            return converted
        q_bias, _, v_bias = value.chunk(3)  # torchvision zeroes the key bias in its forward
        prefix = own_key[: -len("qkv.bias")]
        return {prefix + "q_bias": q_bias, prefix + "v_bias": v_bias}


__all__ = ["SwinTransformerV2"]
