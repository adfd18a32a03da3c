"""mmcls 0.x ``SwinTransformer``: shifted-window attention, built with mmcls's module names.

minim's own implementation (torchvision's Swin shifts and pads small maps differently and has no
``out_indices``/``out_after_downsample``/absolute position embedding), so mmcls checkpoints load
unchanged.  torchvision's ``swin_t/s/b`` checkpoints (and minim's older checkpoints in that layout)
are converted: renamed, with the patch-merging channels reordered from torchvision's
``(dw, dh, c)`` concatenation to the ``(c, dh, dw)`` order of mmcls's ``nn.Unfold``; so are timm's
(whose merging order is torchvision's), and both ways back (``minim run cls convert --to
torchvision|timm``, see ``plain_formats`` for the layouts that have a plain counterpart).

The building blocks here (patch embedding and merging, shifted windows, FFN, stages and the
backbone skeleton) are shared with :mod:`.swin_v2`.
"""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as checkpoint
from timm.layers import DropPath
from torch import nn

from minim.cls.models.backbones._checks import require_value
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_SWIN_ARCHS = {
    **dict.fromkeys(("t", "tiny"), {"embed_dims": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24]}),
    **dict.fromkeys(("s", "small"), {"embed_dims": 96, "depths": [2, 2, 18, 2], "num_heads": [3, 6, 12, 24]}),
    **dict.fromkeys(("b", "base"), {"embed_dims": 128, "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32]}),
    **dict.fromkeys(("l", "large"), {"embed_dims": 192, "depths": [2, 2, 18, 2], "num_heads": [6, 12, 24, 48]}),
}
DEFAULT_NORM_CFG = {"type": "LN"}
#: mask value of token pairs from different regions of a shifted window (mmcls's and the paper's)
_MASKED = -100.0


# ----------------------------------------------------------------------------- argument handling
def arch_settings(type_name: str, arch: Any, archs: Mapping[str, dict], keys: set[str]) -> dict:
    """The arch dict of a named arch, or a custom dict with exactly ``keys``."""
    if isinstance(arch, str):
        if arch.lower() not in archs:
            raise BuildError(f"{type_name}: arch={arch!r} is not supported; use one of "
                             f"{', '.join(repr(a) for a in archs)} or a dict with keys {sorted(keys)}")
        return deepcopy(archs[arch.lower()])
    if not isinstance(arch, Mapping) or set(arch) != keys:
        raise BuildError(f"{type_name}: a custom arch must be a dict with exactly the keys {sorted(keys)}, "
                         f"got {arch!r}")
    if not len(arch["depths"]) == len(arch["num_heads"]):
        raise BuildError(f"{type_name}: arch depths and num_heads must have the same length, got {arch!r}")
    return dict(arch)


def layer_norm(type_name: str, norm_cfg: Any, channels: int) -> nn.Module:
    """mmcls ``norm_cfg=dict(type='LN', eps=...)`` as ``nn.LayerNorm``; ``None`` as ``nn.Identity``."""
    if norm_cfg is None:
        return nn.Identity()
    if not isinstance(norm_cfg, Mapping) or norm_cfg.get("type") != "LN" or set(norm_cfg) - {"type", "eps"}:
        raise BuildError(f"{type_name}: norm_cfg={norm_cfg!r} is not supported; use dict(type='LN'[, eps=...]) "
                         "or None")
    return nn.LayerNorm(channels, eps=norm_cfg.get("eps", 1e-5))


def per_stage(type_name: str, stage_cfgs: Any, num_stages: int) -> list[dict]:
    """``stage_cfgs`` (one dict for all stages, or one per stage) as one dict per stage."""
    if stage_cfgs is None:
        return [{} for _ in range(num_stages)]
    if isinstance(stage_cfgs, Mapping):
        return [deepcopy(dict(stage_cfgs)) for _ in range(num_stages)]
    if isinstance(stage_cfgs, Sequence) and len(stage_cfgs) == num_stages and all(
            isinstance(cfg, Mapping) for cfg in stage_cfgs):
        return [dict(cfg) for cfg in stage_cfgs]
    raise BuildError(f"{type_name}: stage_cfgs must be a dict or {num_stages} dicts, got {stage_cfgs!r}")


def per_block(type_name: str, block_cfgs: Any, depth: int) -> list[dict]:
    if isinstance(block_cfgs, Mapping):
        return [dict(block_cfgs) for _ in range(depth)]
    if isinstance(block_cfgs, Sequence) and len(block_cfgs) == depth and all(
            isinstance(cfg, Mapping) for cfg in block_cfgs):
        return [dict(cfg) for cfg in block_cfgs]
    raise BuildError(f"{type_name}: block_cfgs must be a dict or {depth} dicts, got {block_cfgs!r}")


def reject_unknown(type_name: str, where: str, cfg: Mapping, supported: set[str]) -> None:
    unknown = sorted(set(cfg) - supported)
    if unknown:
        raise BuildError(f"{type_name}: {where} key(s) {', '.join(unknown)} are not supported; minim supports "
                         f"{', '.join(sorted(supported)) or 'none'}")


def drop_path_rates(rate: float, depths: Sequence[int]) -> list[list[float]]:
    """mmcls's stochastic-depth rule: rates rise linearly from 0 to ``rate`` over all blocks."""
    total = sum(depths)
    rates = [rate * i / (total - 1) if total > 1 else 0.0 for i in range(total)]
    out, start = [], 0
    for depth in depths:
        out.append(rates[start:start + depth])
        start += depth
    return out


def resize_pos_embed(pos_embed: torch.Tensor, src: tuple[int, int], dst: tuple[int, int],
                     mode: str) -> torch.Tensor:
    """A ``(1, h*w, C)`` position embedding interpolated from grid ``src`` to grid ``dst``."""
    if tuple(src) == tuple(dst):
        return pos_embed
    grid = pos_embed.reshape(1, src[0], src[1], -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst, align_corners=False, mode=mode)
    return grid.flatten(2).transpose(1, 2)


def pad_to_multiple(x: torch.Tensor, height_multiple: int, width_multiple: int) -> torch.Tensor:
    """Zero-pad an ``(N, C, H, W)`` map at the bottom and right to multiples of the given sizes."""
    pad_h = -x.shape[-2] % height_multiple
    pad_w = -x.shape[-1] % width_multiple
    return F.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x


# ----------------------------------------------------------------------------- modules
class PatchEmbed(nn.Module):
    """Non-overlapping patches (input padded at the bottom/right to whole patches), linear-projected and normed."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int):
        super().__init__()
        self.patch_size = patch_size
        self.projection = nn.Conv2d(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims)

    def output_size(self, img_size: tuple[int, int]) -> tuple[int, int]:
        return tuple(-(-side // self.patch_size) for side in img_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.projection(pad_to_multiple(x, self.patch_size, self.patch_size))
        hw_shape = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw_shape


class PatchMerging(nn.Module):
    """2x2 neighbourhoods concatenated in ``nn.Unfold`` order ``(c, dh, dw)`` and linearly reduced.

    ``post_norm=False`` (Swin v1): norm of the ``4C`` concatenation, then the reduction;
    ``post_norm=True`` (Swin v2): the reduction, then norm of its output.
    """

    def __init__(self, in_channels: int, out_channels: int, post_norm: bool = False):
        super().__init__()
        self.out_channels = out_channels
        self.post_norm = post_norm
        self.sampler = nn.Unfold(kernel_size=2, stride=2)
        self.reduction = nn.Linear(4 * in_channels, out_channels, bias=False)
        self.norm = nn.LayerNorm(out_channels if post_norm else 4 * in_channels)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        batch, _, channels = x.shape
        grid = pad_to_multiple(x.transpose(1, 2).reshape(batch, channels, *hw_shape), 2, 2)
        out_shape = (grid.shape[2] // 2, grid.shape[3] // 2)
        x = self.sampler(grid).transpose(1, 2)
        if self.post_norm:
            return self.norm(self.reduction(x)), out_shape
        return self.reduction(self.norm(x)), out_shape


class FFN(nn.Module):
    """Two linear layers with GELU (mmcv's ``FFN`` layout: ``layers.0.0`` and ``layers.1``)."""

    def __init__(self, embed_dims: int, hidden_dims: int, drop: float = 0.0):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, hidden_dims), nn.GELU(), nn.Dropout(drop)),
            nn.Linear(hidden_dims, embed_dims), nn.Dropout(drop))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def relative_position_index(window: tuple[int, int]) -> torch.Tensor:
    """``(Wh*Ww, Wh*Ww)`` index of each token pair's offset into a ``(2Wh-1)(2Ww-1)`` bias table."""
    rows, cols = torch.meshgrid(torch.arange(window[0]), torch.arange(window[1]), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    d_row = rows[:, None] - rows[None, :] + window[0] - 1
    d_col = cols[:, None] - cols[None, :] + window[1] - 1
    return d_row * (2 * window[1] - 1) + d_col


class WindowSelfAttention(nn.Module):
    """Multi-head self-attention inside ``(N, window*window, C)`` windows plus a per-head position bias.

    Subclasses define the attention scores and the position bias (Swin v1: a learned table; v2: an MLP).
    """

    def __init__(self, embed_dims: int, window_size: int, num_heads: int, qkv_bias: bool, attn_drop: float,
                 proj_drop: float):
        super().__init__()
        self.window_size = (window_size, window_size)
        self.num_heads = num_heads
        self.register_buffer("relative_position_index", relative_position_index(self.window_size))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def bias_of_pairs(self, table: torch.Tensor) -> torch.Tensor:
        """``(heads, N, N)`` bias of each token pair of a window, looked up in a per-offset ``table``."""
        tokens = self.window_size[0] * self.window_size[1]
        bias = table.reshape(-1, self.num_heads)[self.relative_position_index.reshape(-1)]
        return bias.reshape(tokens, tokens, -1).permute(2, 0, 1)

    def position_bias(self) -> torch.Tensor:
        raise NotImplementedError

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def qkv_projection(self, x: torch.Tensor) -> torch.Tensor:
        return self.qkv(x)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        windows, tokens, channels = x.shape
        qkv = self.qkv_projection(x).reshape(windows, tokens, 3, self.num_heads, channels // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = self.scores(q, k) + self.position_bias().unsqueeze(0)
        if mask is not None:
            per_image = mask.shape[0]
            attn = attn.view(windows // per_image, per_image, self.num_heads, tokens, tokens)
            attn = (attn + mask.unsqueeze(1).unsqueeze(0)).view(-1, self.num_heads, tokens, tokens)
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(windows, tokens, channels)
        return self.proj_drop(self.proj(x))


class WindowAttention(WindowSelfAttention):
    """Swin v1 window attention: scaled dot products plus a learned relative position bias table."""

    def __init__(self, embed_dims: int, window_size: int, num_heads: int, qkv_bias: bool = True,
                 qk_scale: float | None = None, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__(embed_dims, window_size, num_heads, qkv_bias, attn_drop, proj_drop)
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def position_bias(self) -> torch.Tensor:
        return self.bias_of_pairs(self.relative_position_bias_table)

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return (q * self.scale) @ k.transpose(-2, -1)


def shift_mask(padded: tuple[int, int], window: int, shift: int, device) -> torch.Tensor:
    """``(windows, N, N)`` additive mask that keeps a shifted window's regions from attending to each other."""
    regions = torch.zeros(padded, device=device)
    bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for label, (rows, cols) in enumerate((r, c) for r in bounds for c in bounds):
        regions[rows, cols] = label
    windows = partition_windows(regions[None, :, :, None], window).flatten(1)
    differs = windows.unsqueeze(1) != windows.unsqueeze(2)
    return torch.zeros(differs.shape, device=device).masked_fill(differs, _MASKED)


def partition_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B * windows, window, window, C)``."""
    batch, height, width, channels = x.shape
    x = x.view(batch, height // window, window, width // window, window, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, channels)


def merge_windows(windows: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The inverse of :func:`partition_windows`."""
    window = windows.shape[1]
    x = windows.view(-1, height // window, width // window, window, window, windows.shape[-1])
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, windows.shape[-1])


class ShiftWindowMSA(nn.Module):
    """Window attention over a map padded to whole windows, cyclically shifted by ``shift_size``.

    As in mmcls, a map whose shorter side equals the window is not shifted unless
    ``pad_small_map``; a shorter side below the window is padded to it (mmcls refuses that
    without ``pad_small_map``; minim then attends without shifting, as torchvision does).
    """

    def __init__(self, w_msa: WindowSelfAttention, window_size: int, shift_size: int, pad_small_map: bool,
                 drop_path: float):
        super().__init__()
        if not 0 <= shift_size < window_size:
            raise BuildError(f"shift size {shift_size} must be in [0, window size {window_size})")
        self.w_msa = w_msa
        self.window_size = window_size
        self.shift_size = shift_size
        self.pad_small_map = pad_small_map
        self.drop = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def effective_shift(self, hw_shape: tuple[int, int]) -> int:
        if min(hw_shape) <= self.window_size and not self.pad_small_map:
            return 0
        return self.shift_size

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        batch, _, channels = x.shape
        height, width = hw_shape
        window, shift = self.window_size, self.effective_shift(hw_shape)
        grid = pad_to_multiple(x.transpose(1, 2).reshape(batch, channels, height, width), window, window)
        grid = grid.permute(0, 2, 3, 1)
        padded = (grid.shape[1], grid.shape[2])
        if shift:
            grid = torch.roll(grid, shifts=(-shift, -shift), dims=(1, 2))
        mask = shift_mask(padded, window, shift, x.device) if shift else None
        windows = partition_windows(grid, window).view(-1, window * window, channels)
        windows = self.w_msa(windows, mask=mask).view(-1, window, window, channels)
        grid = merge_windows(windows, *padded)
        if shift:
            grid = torch.roll(grid, shifts=(shift, shift), dims=(1, 2))
        x = grid[:, :height, :width, :].reshape(batch, height * width, channels)
        return self.drop(x)


class SwinBlock(nn.Module):
    """Pre-norm Swin block: ``x + attn(norm1(x))``, then ``x + ffn(norm2(x))``."""

    def __init__(self, attn: ShiftWindowMSA, embed_dims: int, ffn_ratio: float, drop_path: float,
                 with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = attn
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, int(embed_dims * ffn_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def residuals(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), hw_shape)
        return x + self.drop_path(self.ffn(self.norm2(x)))

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint.checkpoint(self.residuals, x, hw_shape, use_reentrant=False)
        return self.residuals(x, hw_shape)


class SwinStage(nn.Module):
    """Blocks of one resolution and the patch merging before (Swin v2) or after (v1) them."""

    def __init__(self, blocks: list[nn.Module], downsample: PatchMerging | None, merge_first: bool):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample
        self.merge_first = merge_first

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int],
                merge_last: bool = True) -> tuple[torch.Tensor, tuple[int, int]]:
        if self.downsample is not None and self.merge_first:
            x, hw_shape = self.downsample(x, hw_shape)
        for block in self.blocks:
            x = block(x, hw_shape)
        if self.downsample is not None and not self.merge_first and merge_last:
            x, hw_shape = self.downsample(x, hw_shape)
        return x, hw_shape


# ----------------------------------------------------------------------------- the backbone
@BACKBONES.register()
class SwinTransformer(Backbone):
    """mmcls ``SwinTransformer`` (arch ``'tiny'|'small'|'base'|'large'`` or a dict of ``embed_dims``,
    ``depths``, ``num_heads``), with mmcls's options and checkpoint keys.

    Outputs the normed map ``(N, C, H, W)`` of each of ``out_indices`` (a tuple when several).
    ``stage_cfgs`` may set ``window_size`` per stage and ``block_cfgs`` (``window_size``,
    ``ffn_ratio``, ``attn_cfgs`` with ``qkv_bias``/``qk_scale``/``attn_drop``/``proj_drop``).
    """

    type_name = "SwinTransformer"
    head_layers = ("head",)
    plain_head_layers = {"timm": ("head.fc",)}
    archs = _SWIN_ARCHS
    arch_keys = {"embed_dims", "depths", "num_heads"}
    merge_first = False

    def __init__(self, arch: Any = "tiny", img_size: Any = 224, patch_size: int = 4, in_channels: int = 3,
                 window_size: Any = 7, drop_rate: float = 0.0, drop_path_rate: float = 0.1, out_indices=(3,),
                 out_after_downsample: bool = False, use_abs_pos_embed: bool = False,
                 interpolate_mode: str = "bicubic", with_cp: bool = False, frozen_stages: int = -1,
                 norm_eval: bool = False, pad_small_map: bool = False, norm_cfg: Any = DEFAULT_NORM_CFG,
                 stage_cfgs: Any = None, patch_cfg: Any = None, init_cfg: Any = None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = self.type_name
        settings = arch_settings(name, arch, self.archs, self.arch_keys)
        self.arch_settings = settings
        self.embed_dims = settings["embed_dims"]
        self.depths = list(settings["depths"])
        self.num_layers = len(self.depths)
        self.out_indices = self._checked_out_indices(out_indices)
        self.out_after_downsample = bool(out_after_downsample)
        self.with_cp = bool(with_cp)
        self.pad_small_map = bool(pad_small_map)
        self.interpolate_mode = interpolate_mode
        require_value(name, "patch_cfg", patch_cfg, None, {})
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_embed = PatchEmbed(in_channels, self.embed_dims, patch_size)
        self.patch_resolution = self.patch_embed.output_size(self.img_size)
        self.use_abs_pos_embed = bool(use_abs_pos_embed)
        if self.use_abs_pos_embed:
            patches = self.patch_resolution[0] * self.patch_resolution[1]
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, patches, self.embed_dims))
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        self.stages = nn.ModuleList(self._build_stages(window_size, drop_path_rate, stage_cfgs))
        self.num_features = self._output_channels()
        for index in self.out_indices:
            self.add_module(f"norm{index}", layer_norm(name, norm_cfg, self.num_features[index]))
        self.feature_dim = self.num_features[self.out_indices[-1]]
        self._check_frozen_stages(name)

    # -- construction -------------------------------------------------------------------------
    def _checked_out_indices(self, out_indices: Any) -> tuple[int, ...]:
        indices = (out_indices,) if isinstance(out_indices, int) else out_indices
        if (not isinstance(indices, Sequence) or not indices
                or not all(isinstance(i, int) and 0 <= i < self.num_layers for i in indices)):
            raise BuildError(f"{self.type_name}: out_indices must be stage indices in 0..{self.num_layers - 1}, "
                             f"got {out_indices!r}")
        return tuple(indices)

    def _stage_windows(self, window_size: Any) -> list[int]:
        if isinstance(window_size, int) and not isinstance(window_size, bool):
            return [window_size] * self.num_layers
        raise BuildError(f"{self.type_name}: window_size must be an int, got {window_size!r}")

    def _build_stages(self, window_size: Any, drop_path_rate: float, stage_cfgs: Any) -> list[SwinStage]:
        name = self.type_name
        windows = self._stage_windows(window_size)
        rates = drop_path_rates(float(drop_path_rate), self.depths)
        stages, dims = [], self.embed_dims
        for index, (stage_cfg, depth, heads) in enumerate(zip(per_stage(name, stage_cfgs, self.num_layers),
                                                              self.depths, self.arch_settings["num_heads"])):
            reject_unknown(name, "stage_cfgs", stage_cfg, {"window_size", "block_cfgs", "downsample_cfg"})
            window = stage_cfg.get("window_size", windows[index])
            block_cfgs = per_block(name, stage_cfg.get("block_cfgs", {}), depth)
            downsample, block_dims = self._merging(index, dims, stage_cfg.get("downsample_cfg", {}))
            blocks = [self._block(index, j, block_dims, heads, cfg.get("window_size", window), rates[index][j], cfg)
                      for j, cfg in enumerate(block_cfgs)]
            stages.append(SwinStage(blocks, downsample, self.merge_first))
            dims = downsample.out_channels if downsample is not None else dims
        return stages

    def _merging(self, index: int, dims: int, downsample_cfg: Any) -> tuple[PatchMerging | None, int]:
        """The stage's patch merging (v1: after every stage but the last) and its blocks' width."""
        require_value(self.type_name, "stage_cfgs.downsample_cfg", downsample_cfg, {})
        if index < self.num_layers - 1:
            return PatchMerging(dims, 2 * dims), dims
        return None, dims

    def _attention(self, stage: int, dims: int, heads: int, window: int, attn_cfgs: Mapping) -> WindowSelfAttention:
        reject_unknown(self.type_name, "attn_cfgs", attn_cfgs, {"qkv_bias", "qk_scale", "attn_drop", "proj_drop"})
        return WindowAttention(dims, window, heads, **attn_cfgs)

    def _shift_window_attention(self, stage: int, block: int, dims: int, heads: int, window: int,
                                drop_path: float, cfg: Mapping) -> ShiftWindowMSA:
        reject_unknown(self.type_name, "block_cfgs", cfg, {"window_size", "ffn_ratio", "attn_cfgs"})
        w_msa = self._attention(stage, dims, heads, window, cfg.get("attn_cfgs", {}))
        return ShiftWindowMSA(w_msa, window, window // 2 if block % 2 else 0, self.pad_small_map, drop_path)

    def _block(self, stage: int, block: int, dims: int, heads: int, window: int, drop_path: float,
               cfg: Mapping) -> nn.Module:
        attn = self._shift_window_attention(stage, block, dims, heads, window, drop_path, cfg)
        return SwinBlock(attn, dims, cfg.get("ffn_ratio", 4.0), drop_path, self.with_cp)

    def _output_channels(self) -> list[int]:
        widths = [self.embed_dims]
        for stage in self.stages:
            widths.append(stage.downsample.out_channels if stage.downsample is not None else widths[-1])
        return widths[1:] if self.out_after_downsample else widths[:-1]

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, img: torch.Tensor):
        x, hw_shape = self.patch_embed(img)
        if self.use_abs_pos_embed:
            x = x + resize_pos_embed(self.absolute_pos_embed, self.patch_resolution, hw_shape,
                                     self.interpolate_mode)
        x = self.drop_after_pos(x)
        outs = []
        for index, stage in enumerate(self.stages):
            x, hw_shape = stage(x, hw_shape, merge_last=self.out_after_downsample)
            if index in self.out_indices:
                out = getattr(self, f"norm{index}")(x)
                outs.append(out.view(-1, *hw_shape, out.shape[-1]).permute(0, 3, 1, 2).contiguous())
            if stage.downsample is not None and not stage.merge_first and not self.out_after_downsample:
                x, hw_shape = stage.downsample(x, hw_shape)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def cam_target_layer(self) -> str:
        """Grad-CAM's layer: the normed tokens of the last output stage (what the head pools)."""
        return f"norm{self.out_indices[-1]}"

    # -- freezing ----------------------------------------------------------------------------------
    def stage_modules(self) -> list[list[nn.Module]]:
        """Stage 0 is the patch embedding with the first stage (mmcls freezes them together)."""
        groups = [[stage] for stage in self.stages]
        groups[0].insert(0, self.patch_embed)
        for index in self.out_indices:
            groups[index].append(getattr(self, f"norm{index}"))
        return groups

    # -- checkpoints ------------------------------------------------------------------------------
    def convert_mmcls_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """mmcls's keys are this module's; also accepts mmcls's pre-v2 ``norm.``/``attn_mask`` keys and the
        torchvision layout (minim's earlier SwinTransformer checkpoints)."""
        if any(key.startswith("features.") for key in state):
            return self.convert_plain_state(state)
        last = f"norm{self.num_layers - 1}."
        return {(last + key[len("norm."):] if key.startswith("norm.") else key): value
                for key, value in state.items() if "attn_mask" not in key}

    def convert_plain_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """torchvision ``swin_*`` tensors (``features.*``, ``norm``; ``head`` goes to the head) or timm's
        (``layers.*``, ``norm``; ``head.fc`` goes to the head) in this layout; the index (and v2 coordinate)
        buffers timm does not save are this module's."""
        if any(key.startswith("features.") for key in state):
            return _converted(state, self._torchvision_tensors)
        if any(key.startswith("layers.") for key in state):
            own = {key: value for key, value in self.state_dict().items() if key.endswith(DERIVED_BUFFERS)}
            return {**own, **_converted(state, self._timm_tensors)}
        return state

    def _torchvision_tensors(self, key: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
        match = re.fullmatch(r"features\.(\d+)\.(.+)", key)
        if match is None:
            return self._final_norm(key, value)
        feature, rest = int(match.group(1)), match.group(2)
        if feature == 0:
            return {"patch_embed." + _TORCHVISION_PATCH_EMBED[rest[0]] + rest[1:]: value}
        if feature % 2 == 0:
            return self._plain_merging(feature // 2, rest, value)
        block, _, inner = rest.partition(".")
        if inner.endswith("relative_position_index"):
            tokens = int(round(value.numel() ** 0.5))
            value = value.reshape(tokens, tokens)
        return {f"stages.{(feature - 1) // 2}.blocks.{block}." + _renamed(inner, _TORCHVISION_BLOCK_NAMES): value}

    def _timm_tensors(self, key: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
        if key.startswith("patch_embed.proj."):
            return {"patch_embed.projection." + key[len("patch_embed.proj."):]: value}
        match = re.fullmatch(r"layers\.(\d+)\.(downsample|blocks)\.(.+)", key)
        if match is None:
            return self._final_norm(key, value)
        stage, part, rest = match.groups()
        if part == "downsample":
            return self._plain_merging(int(stage), rest, value)
        block, _, inner = rest.partition(".")
        return {f"stages.{stage}.blocks.{block}." + _renamed(inner, _TIMM_BLOCK_NAMES): value}

    def _final_norm(self, key: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
        last = f"norm{self.num_layers - 1}."
        return {(last + key[len("norm."):] if key.startswith("norm.") else key): value}

    def _plain_merging(self, merge: int, rest: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
        """The plain model's ``merge``-th patch merging (v1: after its stage ``merge - 1``; v2: opening stage
        ``merge``), channels reordered."""
        stage = merge if self.merge_first else merge - 1
        if rest.startswith("reduction."):
            value = value[:, unfold_order(value.shape[1] // 4, value.device)]
        elif not self.stages[stage].downsample.post_norm:
            value = value[unfold_order(value.shape[0] // 4, value.device)]
        return {f"stages.{stage}.downsample.{rest}": value}

    @property
    def plain_formats(self) -> tuple[str, ...]:
        """torchvision's ``swin_*`` (``swin_v2_*`` for v2) for the layout it has: RGB input, no absolute position
        embedding, one window size, ``qkv`` biases and the default scale, FFN ratio 4, layer norms of eps 1e-5, one
        output (the last stage) and ``pad_small_map=False`` (torchvision never shifts a map no larger than its
        window). Square inputs compute the same; on a non-square one, a stage whose shorter side fits a window
        but whose longer side does not is shifted along the longer side by torchvision only.

        timm's ``swin_*`` (``swinv2_*``) too where ``img_size``, the one input size a timm model takes, gives
        every stage a map of whole windows: timm shifts before padding to whole windows, and shrinks a window
        larger than the map, where mmcls pads first."""
        if not self._plain_layout():
            return ()
        return ("torchvision", "timm") if self._whole_windows() else ("torchvision",)

    def _plain_layout(self) -> bool:
        attentions = [m for m in self.modules() if isinstance(m, ShiftWindowMSA)]
        hidden_layers = [m.layers[0][0] for m in self.modules() if isinstance(m, FFN)]
        last_norm = getattr(self, f"norm{self.num_layers - 1}", None)
        return (self.patch_embed.projection.in_channels == 3 and not self.use_abs_pos_embed
                and not self.pad_small_map and self.out_indices == (self.num_layers - 1,)
                and isinstance(last_norm, nn.LayerNorm) and len({a.window_size for a in attentions}) == 1
                and all(self._plain_attention(a.w_msa) for a in attentions)
                and all(layer.out_features == 4 * layer.in_features for layer in hidden_layers)
                and all(m.eps == _PLAIN_NORM_EPS for m in self.modules() if isinstance(m, nn.LayerNorm)))

    @staticmethod
    def _plain_attention(attn: WindowSelfAttention) -> bool:
        return attn.qkv.bias is not None and attn.scale == (attn.qkv.in_features // attn.num_heads) ** -0.5

    def _whole_windows(self) -> bool:
        """Whether every stage's map at ``img_size`` is whole windows, both sides above one window or both one."""
        window = self.stages[0].blocks[0].attn.window_size
        if any(side % self.patch_embed.patch_size for side in self.img_size):
            return False
        sides = self.patch_resolution
        for _ in self.stages:
            if any(side % window for side in sides) or (min(sides) == window < max(sides)):
                return False
            sides = tuple(-(-side // 2) for side in sides)
        return True

    def to_plain_state(self, state: dict[str, torch.Tensor], fmt: str) -> dict[str, torch.Tensor]:
        """This module's tensors in torchvision's or timm's layout (the inverse of ``convert_plain_state``)."""
        return _converted(state, lambda key, value: self._own_tensors(key, value, fmt))

    def _own_tensors(self, key: str, value: torch.Tensor, fmt: str) -> dict[str, torch.Tensor]:
        timm = fmt == "timm"
        last = f"norm{self.num_layers - 1}."
        if key.startswith(last):
            return {"norm." + key[len(last):]: value}
        if key.startswith("patch_embed."):
            layer, _, param = key[len("patch_embed."):].partition(".")
            if timm:
                return {f"patch_embed.{'proj' if layer == 'projection' else layer}.{param}": value}
            return {f"features.0.{_OWN_PATCH_EMBED[layer]}.{param}": value}
        stage, part, rest = re.fullmatch(r"stages\.(\d+)\.(blocks|downsample)\.(.+)", key).groups()
        if part == "downsample":
            return self._own_merging(int(stage), rest, value, fmt)
        block, _, inner = rest.partition(".")
        if timm:
            if inner.endswith(DERIVED_BUFFERS):  # timm computes them, without saving
                return {}
            return {f"layers.{stage}.blocks.{block}." + _renamed(inner, _OWN_TIMM_BLOCK_NAMES): value}
        if inner.endswith("relative_position_index"):
            value = value.flatten()
        return {f"features.{2 * int(stage) + 1}.{block}." + _renamed(inner, _OWN_TORCHVISION_BLOCK_NAMES): value}

    def _own_merging(self, stage: int, rest: str, value: torch.Tensor, fmt: str) -> dict[str, torch.Tensor]:
        """Stage ``stage``'s patch merging as the plain model's, its channels in that model's order."""
        merge = stage if self.merge_first else stage + 1
        if rest.startswith("reduction."):
            value = value[:, torch.argsort(unfold_order(value.shape[1] // 4, value.device))]
        elif not self.stages[stage].downsample.post_norm:
            value = value[torch.argsort(unfold_order(value.shape[0] // 4, value.device))]
        return {(f"layers.{merge}.downsample." if fmt == "timm" else f"features.{2 * merge}.") + rest: value}


def _converted(state: dict[str, torch.Tensor], convert) -> dict[str, torch.Tensor]:
    """The union of ``convert(key, value)`` (a dict of zero or more tensors) over ``state``."""
    converted = {}
    for key, value in state.items():
        converted.update(convert(key, value))
    return converted


def _renamed(key: str, names: Sequence[tuple[str, str]]) -> str:
    """``key`` with the first of the ``(old, new)`` prefixes it starts with replaced."""
    for old, new in names:
        if key.startswith(old):
            return new + key[len(old):]
    return key


#: (plain prefix, own prefix) of a block's layers
_TORCHVISION_BLOCK_NAMES = (("attn.", "attn.w_msa."), ("mlp.0.", "ffn.layers.0.0."), ("mlp.3.", "ffn.layers.1."))
_TIMM_BLOCK_NAMES = (("attn.", "attn.w_msa."), ("mlp.fc1.", "ffn.layers.0.0."), ("mlp.fc2.", "ffn.layers.1."))
_OWN_TORCHVISION_BLOCK_NAMES = tuple((own, plain) for plain, own in _TORCHVISION_BLOCK_NAMES)
_OWN_TIMM_BLOCK_NAMES = tuple((own, plain) for plain, own in _TIMM_BLOCK_NAMES)
_TORCHVISION_PATCH_EMBED = {"0": "projection", "2": "norm"}
_OWN_PATCH_EMBED = {own: plain for plain, own in _TORCHVISION_PATCH_EMBED.items()}
#: eps of torchvision's and timm's Swin layer norms
_PLAIN_NORM_EPS = 1e-5
#: buffers computed from the config (timm neither saves nor loads them)
DERIVED_BUFFERS = ("relative_coords_table", "relative_position_index")


def unfold_order(channels: int, device=None) -> torch.Tensor:
    """Indices into torchvision's merged channels ``(dw, dh, c)`` in ``nn.Unfold``'s ``(c, dh, dw)`` order."""
    c, dh, dw = torch.meshgrid(torch.arange(channels, device=device), torch.arange(2, device=device),
                               torch.arange(2, device=device), indexing="ij")
    return ((dw * 2 + dh) * channels + c).flatten()


__all__ = ["SwinTransformer", "PatchMerging", "ShiftWindowMSA", "SwinStage", "WindowSelfAttention", "WindowAttention",
           "FFN"]
