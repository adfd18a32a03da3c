"""mmcls 0.x ``VisionTransformer``, and the transformer parts its relatives (DeiT, T2T-ViT, Conformer) share.

The modules carry mmcls's names (``patch_embed.projection``, ``layers.{i}.attn.qkv``,
``layers.{i}.ffn.layers.0.0``, ``ln1``, ...), so mmcls checkpoints load unchanged;
torchvision's ``vit_*`` checkpoints are renamed onto them (``plain_key_to_own``).
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import nn

from minim.cls.models.backbones._checks import norm_type
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.layers import build_activation
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_VIT_ARCHS = {  # embed_dims, num_layers, num_heads, feedforward_channels
    **dict.fromkeys(("s", "small"), (768, 8, 8, 768 * 3)),
    **dict.fromkeys(("b", "base"), (768, 12, 12, 3072)),
    **dict.fromkeys(("l", "large"), (1024, 24, 16, 4096)),
    **dict.fromkeys(("h", "huge"), (1280, 32, 16, 5120)),  # torchvision's vit_h_14 (not in mmcls 0.25)
    **dict.fromkeys(("deit-t", "deit-tiny"), (192, 12, 3, 768)),
    **dict.fromkeys(("deit-s", "deit-small"), (384, 12, 6, 1536)),
    **dict.fromkeys(("deit-b", "deit-base"), (768, 12, 12, 3072)),
}
_ARCH_KEYS = ("embed_dims", "num_layers", "num_heads", "feedforward_channels")

# torchvision ViT key -> own key (regex, replacement), applied in order.
_TORCHVISION_KEYS = (
    (r"^conv_proj\.", "patch_embed.projection."),
    (r"^class_token$", "cls_token"),
    (r"^encoder\.pos_embedding$", "pos_embed"),
    (r"^encoder\.ln\.", "ln1."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.", r"layers.\1."),
    (r"^(layers\.\d+\.)ln_(\d)\.", r"\1ln\2."),
    (r"^(layers\.\d+\.)self_attention\.in_proj_(weight|bias)$", r"\1attn.qkv.\2"),
    (r"^(layers\.\d+\.)self_attention\.out_proj\.", r"\1attn.proj."),
    (r"^(layers\.\d+\.)mlp\.0\.", r"\1ffn.layers.0.0."),
    (r"^(layers\.\d+\.)mlp\.3\.", r"\1ffn.layers.1."),
)
#: the reverse of ``_TORCHVISION_KEYS``, in reverse order (own keys -> torchvision's)
_OWN_KEYS = (
    (r"^(layers\.\d+\.)ffn\.layers\.1\.", r"\1mlp.3."),
    (r"^(layers\.\d+\.)ffn\.layers\.0\.0\.", r"\1mlp.0."),
    (r"^(layers\.\d+\.)attn\.proj\.", r"\1self_attention.out_proj."),
    (r"^(layers\.\d+\.)attn\.qkv\.(weight|bias)$", r"\1self_attention.in_proj_\2"),
    (r"^(layers\.\d+\.)ln(\d)\.", r"\1ln_\2."),
    (r"^layers\.(\d+)\.", r"encoder.layers.encoder_layer_\1."),
    (r"^ln1\.", "encoder.ln."),
    (r"^pos_embed$", "encoder.pos_embedding"),
    (r"^cls_token$", "class_token"),
    (r"^patch_embed\.projection\.", "conv_proj."),
)


# ----------------------------------------------------------------------------- small helpers
def pair(value: Any) -> tuple[int, int]:
    """``8`` -> ``(8, 8)``; a 2-sequence as a tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return (int(value[0]), int(value[0]))
        return (int(value[0]), int(value[1]))
    return (int(value), int(value))


def layer_norm(type_name: str, norm_cfg: Mapping[str, Any] | None, dims: int) -> nn.LayerNorm:
    """``nn.LayerNorm`` from an mmcv ``dict(type='LN', eps=...)`` (mmcv's default eps is 1e-5)."""
    cfg = norm_type(type_name, norm_cfg if norm_cfg is not None else {"type": "LN"}, "LN")
    unknown = sorted(set(cfg) - {"type", "eps", "requires_grad"})
    if unknown:
        raise BuildError(f"{type_name}: norm_cfg keys {unknown} are not supported (only 'eps', 'requires_grad')")
    norm = nn.LayerNorm(dims, eps=cfg.get("eps", 1e-5))
    norm.requires_grad_(cfg.get("requires_grad", True))
    return norm


def drop_path_rates(rate: float, depth: int) -> list[float]:
    """mmcls's stochastic-depth decay rule: ``rate`` rising linearly from 0 over ``depth`` layers."""
    if depth == 1:
        return [0.0]
    return [float(rate) * i / (depth - 1) for i in range(depth)]


def drop_path(rate: float) -> nn.Module:
    return DropPath(rate) if rate > 0 else nn.Identity()


def normalise_out_indices(type_name: str, out_indices: Any, num_layers: int) -> list[int]:
    """mmcls ``out_indices`` (an int or a sequence; negatives count from the end) as layer indices."""
    indices = [out_indices] if isinstance(out_indices, int) else out_indices
    if not isinstance(indices, Sequence) or isinstance(indices, str) or not indices:
        raise BuildError(f"{type_name}: out_indices must be an int or a sequence of ints, got {out_indices!r}")
    result = []
    for index in indices:
        if isinstance(index, bool) or not isinstance(index, int) or not -num_layers <= index < num_layers:
            raise BuildError(f"{type_name}: out_indices={out_indices!r} is invalid; each index must be in "
                             f"-{num_layers}..{num_layers - 1}")
        result.append(index % num_layers)
    return result


def resize_pos_embed(pos_embed: torch.Tensor, src_shape: Sequence[int], dst_shape: Sequence[int],
                     mode: str = "bicubic", num_extra_tokens: int = 1) -> torch.Tensor:
    """Interpolate the patch part of a ``(1, extra + H*W, C)`` position embedding from ``src_shape`` to
    ``dst_shape`` (H, W); the extra tokens' (class, distillation) embeddings are kept."""
    src_shape, dst_shape = tuple(src_shape), tuple(dst_shape)
    if src_shape == dst_shape:
        return pos_embed
    extra, grid = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    channels = pos_embed.shape[2]
    if grid.shape[1] != src_shape[0] * src_shape[1]:
        raise BuildError(f"pos_embed has {grid.shape[1]} patch positions, not {src_shape[0]}x{src_shape[1]}")
    grid = grid.reshape(1, src_shape[0], src_shape[1], channels).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst_shape, mode=mode, align_corners=False)
    return torch.cat((extra, grid.flatten(2).transpose(1, 2)), dim=1)


def fit_checkpoint_pos_embed(state: dict[str, torch.Tensor], key: str, own: torch.Tensor,
                             grid: Sequence[int], mode: str, num_extra_tokens: int) -> None:
    """Resize ``state[key]`` (a square-grid checkpoint position embedding) to ``own``'s shape in place,
    as mmcls does when a 224-pixel checkpoint loads into a 384-pixel model."""
    pos_embed = state.get(key)
    if pos_embed is None or pos_embed.shape == own.shape or pos_embed.dim() != 3:
        return
    side = math.isqrt(pos_embed.shape[1] - num_extra_tokens)
    state[key] = resize_pos_embed(pos_embed, (side, side), grid, mode, num_extra_tokens)


def token_outputs(x: torch.Tensor, grid: Sequence[int], num_extra_tokens: int, output_cls_token: bool):
    """One stage's mmcls output: the patch tokens as a ``(N, C, H, W)`` map, and with ``output_cls_token``
    the list ``[patch_map, cls_token, (dist_token)]``. ``num_extra_tokens`` = 0 when x has no extra tokens."""
    batch, _, channels = x.shape
    patches = x[:, num_extra_tokens:].reshape(batch, grid[0], grid[1], channels).permute(0, 3, 1, 2)
    if not output_cls_token:
        return patches
    return [patches, *x[:, :num_extra_tokens].unbind(1)]


# ----------------------------------------------------------------------------- modules
class PatchEmbed(nn.Module):
    """mmcv ``PatchEmbed``: a strided ``projection`` conv (after mmcv's adaptive padding) -> tokens.

    ``forward`` returns ``(tokens (N, H*W, C), (H, W))``.
    """

    def __init__(self, in_channels: int = 3, embed_dims: int = 768, conv_type: str = "Conv2d",
                 kernel_size: Any = 16, stride: Any = None, padding: Any = "corner", dilation: Any = 1,
                 bias: bool = True, norm_cfg: Mapping[str, Any] | None = None, input_size: Any = None,
                 init_cfg: Any = None):
        super().__init__()
        if conv_type != "Conv2d":
            raise BuildError(f"PatchEmbed: conv_type={conv_type!r} is not supported (only 'Conv2d')")
        kernel_size = pair(kernel_size)
        stride = pair(stride if stride is not None else kernel_size)
        dilation = pair(dilation)
        if isinstance(padding, str) and padding not in ("corner", "same"):
            raise BuildError(f"PatchEmbed: padding={padding!r} is not supported; use 'corner', 'same' or an int")
        self.adaptive_padding = padding if isinstance(padding, str) else None
        conv_padding = (0, 0) if isinstance(padding, str) else pair(padding)
        self.projection = nn.Conv2d(in_channels, embed_dims, kernel_size, stride, conv_padding, dilation, bias=bias)
        self.norm = layer_norm("PatchEmbed", norm_cfg, embed_dims) if norm_cfg is not None else None
        self.init_out_size = self.output_size(pair(input_size)) if input_size else None

    def _padding(self, size: Sequence[int]) -> tuple[int, int]:
        if self.adaptive_padding is None:
            return (0, 0)
        conv = self.projection
        return tuple(max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
                     for n, k, s, d in zip(size, conv.kernel_size, conv.stride, conv.dilation))

    def output_size(self, size: Sequence[int]) -> tuple[int, int]:
        """The token grid (H, W) of an input of ``size`` (H, W)."""
        conv = self.projection
        return tuple((n + extra + 2 * p - d * (k - 1) - 1) // s + 1
                     for n, extra, k, s, p, d in zip(size, self._padding(size), conv.kernel_size, conv.stride,
                                                     conv.padding, conv.dilation))

    def forward(self, x: torch.Tensor):
        pad_h, pad_w = self._padding(x.shape[-2:])
        if pad_h or pad_w:
            if self.adaptive_padding == "corner":
                x = F.pad(x, [0, pad_w, 0, pad_h])
            else:
                x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        x = self.projection(x)
        grid = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, grid


class FFN(nn.Module):
    """mmcv ``FFN``: ``num_fcs`` linear layers (keys ``layers.0.0`` ... ``layers.{n-1}``), activation and
    dropout between them, then drop path and (with ``add_identity``) the residual."""

    def __init__(self, embed_dims: int, feedforward_channels: int, num_fcs: int = 2,
                 act_cfg: Mapping[str, Any] | None = None, ffn_drop: float = 0.0, drop_path_rate: float = 0.0,
                 add_identity: bool = True):
        super().__init__()
        if num_fcs < 2:
            raise BuildError(f"FFN: num_fcs must be at least 2, got {num_fcs}")
        act_cfg = act_cfg if act_cfg is not None else {"type": "GELU"}
        blocks: list[nn.Module] = []
        width = embed_dims
        for _ in range(num_fcs - 1):
            blocks.append(nn.Sequential(nn.Linear(width, feedforward_channels), build_activation(act_cfg),
                                        nn.Dropout(ffn_drop)))
            width = feedforward_channels
        blocks += [nn.Linear(feedforward_channels, embed_dims), nn.Dropout(ffn_drop)]
        self.layers = nn.Sequential(*blocks)
        self.drop_path = drop_path(drop_path_rate)
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        out = self.drop_path(self.layers(x))
        if not self.add_identity:
            return out
        return (x if identity is None else identity) + out


class MultiheadAttention(nn.Module):
    """mmcls's ``MultiheadAttention`` (fused ``qkv`` + ``proj``); ``input_dims`` may differ from
    ``embed_dims``, and ``v_shortcut`` adds the (single-head) values to the output (T2T-ViT)."""

    def __init__(self, embed_dims: int, num_heads: int, input_dims: int | None = None, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, drop_path_rate: float = 0.0, qkv_bias: bool = True,
                 qk_scale: float | None = None, proj_bias: bool = True, v_shortcut: bool = False):
        super().__init__()
        if embed_dims % num_heads:
            raise BuildError(f"attention: embed_dims={embed_dims} is not divisible by num_heads={num_heads}")
        if v_shortcut and num_heads != 1:
            raise BuildError("attention: v_shortcut needs num_heads=1")
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.scale = qk_scale or self.head_dims ** -0.5
        self.v_shortcut = v_shortcut
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(input_dims or embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)
        self.drop_path = drop_path(drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, self.head_dims).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = F.dropout(attn.softmax(dim=-1), self.attn_drop, self.training)
        out = (attn @ v).transpose(1, 2).reshape(batch, length, self.embed_dims)
        out = self.drop_path(self.proj_drop(self.proj(out)))
        if self.v_shortcut:
            out = v.squeeze(1) + out
        return out


class TransformerEncoderLayer(nn.Module):
    """Pre-norm encoder layer (keys ``ln1``, ``attn``, ``ln2``, ``ffn``) of mmcls's ViT and T2T-ViT.

    With ``input_dims`` (T2T's token-to-token layers) the attention maps ``input_dims`` -> ``embed_dims``
    and replaces the input instead of adding to it (values shortcut).
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, input_dims: int | None = None,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 num_fcs: int = 2, qkv_bias: bool = True, qk_scale: float | None = None,
                 act_cfg: Mapping[str, Any] | None = None, norm_cfg: Mapping[str, Any] | None = None,
                 init_cfg: Any = None):
        super().__init__()
        self.v_shortcut = input_dims is not None
        input_dims = input_dims or embed_dims
        self.ln1 = layer_norm("TransformerEncoderLayer", norm_cfg, input_dims)
        self.attn = MultiheadAttention(embed_dims, num_heads, input_dims=input_dims, attn_drop=attn_drop_rate,
                                       proj_drop=drop_rate, drop_path_rate=drop_path_rate, qkv_bias=qkv_bias,
                                       qk_scale=qk_scale or (input_dims // num_heads) ** -0.5,
                                       v_shortcut=self.v_shortcut)
        self.ln2 = layer_norm("TransformerEncoderLayer", norm_cfg, embed_dims)
        self.ffn = FFN(embed_dims, feedforward_channels, num_fcs, act_cfg, drop_rate, drop_path_rate)
        self._init_ffn()

    def _init_ffn(self) -> None:
        for module in self.ffn.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.normal_(module.bias, std=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attended = self.attn(self.ln1(x))
        x = attended if self.v_shortcut else x + attended
        return self.ffn(self.ln2(x), identity=x)


# ----------------------------------------------------------------------------- the backbone
def vit_arch_settings(type_name: str, arch: Any) -> dict[str, int]:
    """``embed_dims``, ``num_layers``, ``num_heads``, ``feedforward_channels`` of an arch name or dict."""
    if isinstance(arch, str):
        if arch.lower() not in _VIT_ARCHS:
            raise BuildError(f"{type_name}: arch={arch!r} is not supported; use one of "
                             f"{', '.join(repr(a) for a in _VIT_ARCHS)} or a dict with keys {list(_ARCH_KEYS)}")
        return dict(zip(_ARCH_KEYS, _VIT_ARCHS[arch.lower()]))
    if not isinstance(arch, Mapping) or not set(_ARCH_KEYS) <= set(arch):
        raise BuildError(f"{type_name}: a custom arch must be a dict with keys {list(_ARCH_KEYS)}, got {arch!r}")
    return {key: int(arch[key]) for key in _ARCH_KEYS}


def per_layer_cfgs(type_name: str, layer_cfgs: Any, num_layers: int) -> list[dict]:
    """mmcls ``layer_cfgs``: one dict for every layer, or a sequence of one dict per layer."""
    if layer_cfgs is None or isinstance(layer_cfgs, Mapping):
        return [dict(layer_cfgs or {}) for _ in range(num_layers)]
    if isinstance(layer_cfgs, Sequence) and len(layer_cfgs) == num_layers:
        return [dict(cfg) for cfg in layer_cfgs]
    raise BuildError(f"{type_name}: layer_cfgs must be a dict or a list of {num_layers} dicts")


@BACKBONES.register()
class VisionTransformer(Backbone):
    """mmcls ``VisionTransformer``: patch embedding, class token, learned position embedding, pre-norm
    encoder layers, final LayerNorm.

    ``forward`` returns, for each of ``out_indices``, ``[patch_map (N, C, H, W), cls_token (N, C)]``
    (or only the patch map with ``output_cls_token=False``), as a tuple: pair it with
    ``VisionTransformerClsHead``.  Inputs of another size than ``img_size`` use a resized
    position embedding (``interpolate_mode``), as do checkpoints trained at another size.
    torchvision's ``vit_*`` checkpoints load too (``arch='h'`` is torchvision's ViT-H).
    """

    num_extra_tokens = 1
    head_layers = ("heads.head",)

    def __init__(self, arch: Any = "base", img_size: Any = 224, patch_size: Any = 16, in_channels: int = 3,
                 out_indices: Any = -1, drop_rate: float = 0.0, drop_path_rate: float = 0.0, qkv_bias: bool = True,
                 norm_cfg: Mapping[str, Any] | None = None, final_norm: bool = True, with_cls_token: bool = True,
                 output_cls_token: bool = True, interpolate_mode: str = "bicubic",
                 patch_cfg: Mapping[str, Any] | None = None, layer_cfgs: Any = None, init_cfg: Any = None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        settings = vit_arch_settings(name, arch)
        self.embed_dims = self.feature_dim = settings["embed_dims"]
        self.num_layers = settings["num_layers"]
        if output_cls_token and not with_cls_token:
            raise BuildError(f"{name}: output_cls_token=True needs with_cls_token=True")
        norm_cfg = norm_cfg if norm_cfg is not None else {"type": "LN", "eps": 1e-6}
        self.img_size = pair(img_size)
        embed_cfg = dict(in_channels=in_channels, input_size=img_size, embed_dims=self.embed_dims,
                         conv_type="Conv2d", kernel_size=patch_size, stride=patch_size)
        embed_cfg.update(patch_cfg or {})
        self.patch_embed = PatchEmbed(**embed_cfg)
        self.patch_resolution = self.patch_embed.init_out_size
        self.with_cls_token = with_cls_token
        self.output_cls_token = output_cls_token
        self.interpolate_mode = interpolate_mode
        self._build_extra_tokens()
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + self.num_extra_tokens, self.embed_dims))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.drop_after_pos = nn.Dropout(drop_rate)
        self.out_indices = normalise_out_indices(name, out_indices, self.num_layers)
        rates = drop_path_rates(drop_path_rate, self.num_layers)
        cfgs = per_layer_cfgs(name, layer_cfgs, self.num_layers)
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(**{**dict(embed_dims=self.embed_dims, num_heads=settings["num_heads"],
                                              feedforward_channels=settings["feedforward_channels"],
                                              drop_rate=drop_rate, drop_path_rate=rates[i], qkv_bias=qkv_bias,
                                              norm_cfg=norm_cfg), **cfgs[i]})
            for i in range(self.num_layers))
        self.final_norm = final_norm
        if final_norm:
            self.ln1 = layer_norm(name, norm_cfg, self.embed_dims)

    def _build_extra_tokens(self) -> None:
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))

    def cam_target_layer(self) -> str:
        """Grad-CAM's layer: the last layer's ``ln1``, whose patch tokens the class token attends to (after
        the last layer they no longer reach the head)."""
        return f"layers.{self.num_layers - 1}.ln1"

    def _extra_tokens(self, batch: int) -> list[torch.Tensor]:
        return [self.cls_token.expand(batch, -1, -1)]

    # -- checkpoints -------------------------------------------------------------------------
    def plain_key_to_own(self, key: str) -> str | None:
        """torchvision ``vit_*`` keys onto this backbone's (mmcls's) keys."""
        for pattern, replacement in _TORCHVISION_KEYS:
            key = re.sub(pattern, replacement, key)
        return key

    @property
    def plain_formats(self) -> tuple[str, ...]:
        """torchvision's ``vit_*``: a class token and a final norm."""
        return ("torchvision",) if self.final_norm and self.with_cls_token else ()

    def own_key_to_plain(self, key: str) -> str:
        for pattern, replacement in _OWN_KEYS:
            key = re.sub(pattern, replacement, key)
        return key

    def convert_mmcls_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """mmcls's keys are this backbone's; a position embedding of another input size is resized (and
        checkpoints minim saved with torchvision's layout are renamed)."""
        own = {self.plain_key_to_own(key): value for key, value in state.items()}
        fit_checkpoint_pos_embed(own, "pos_embed", self.pos_embed, self.patch_resolution, self.interpolate_mode,
                                 self.num_extra_tokens)
        return own

    # -- forward -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor):
        x, grid = self.patch_embed(x)
        x = torch.cat([*self._extra_tokens(x.shape[0]), x], dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, grid, self.interpolate_mode,
                                 self.num_extra_tokens)
        x = self.drop_after_pos(x)
        extra = self.num_extra_tokens
        if not self.with_cls_token:
            x, extra = x[:, extra:], 0
        outs = []
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index == self.num_layers - 1 and self.final_norm:
                x = self.ln1(x)
            if index in self.out_indices:
                outs.append(token_outputs(x, grid, extra, self.output_cls_token))
        return tuple(outs)
