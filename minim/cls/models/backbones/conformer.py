"""mmcls 0.x ``Conformer``: a ResNet-like CNN branch and a ViT branch exchanging features every block."""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.vit import TransformerEncoderLayer, drop_path, drop_path_rates
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_CONFORMER_KEYS = ("embed_dims", "channel_ratio", "num_heads", "depths")
_CONFORMER_ARCHS = {
    **dict.fromkeys(("t", "tiny"), (384, 1, 6, 12)),
    **dict.fromkeys(("s", "small"), (384, 4, 6, 12)),
    **dict.fromkeys(("b", "base"), (576, 6, 9, 12)),
}
_TOKEN_NORM = {"type": "LN", "eps": 1e-6}
_BN_EPS = 1e-6


class ConvBlock(nn.Module):
    """Bottleneck (1x1, 3x3 with ``stride``/``groups``, 1x1; BN eps 1e-6, ReLU) with an optional projected
    residual; ``fusion_features`` are added before the 3x3 conv."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1,
                 drop_path_rate: float = 0.0, with_residual_conv: bool = False):
        super().__init__()
        mid = out_channels // 4
        self.conv1 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        self.act3 = nn.ReLU(inplace=True)
        self.with_residual_conv = with_residual_conv
        if with_residual_conv:
            self.residual_conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
            self.residual_bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        self.drop_path = drop_path(drop_path_rate)

    def forward(self, x: torch.Tensor, fusion_features: torch.Tensor | None = None, out_conv2: bool = True):
        identity = x
        x = self.act1(self.bn1(self.conv1(x)))
        x2 = self.act2(self.bn2(self.conv2(x if fusion_features is None else x + fusion_features)))
        x = self.drop_path(self.bn3(self.conv3(x2)))
        if self.with_residual_conv:
            identity = self.residual_bn(self.residual_conv(identity))
        x = self.act3(x + identity)
        return (x, x2) if out_conv2 else x


class FCUDown(nn.Module):
    """CNN map -> tokens: 1x1 conv, average pooling by ``down_stride``, LayerNorm, GELU (+ the class token)."""

    def __init__(self, in_channels: int, out_channels: int, down_stride: int, with_cls_token: bool = True):
        super().__init__()
        self.with_cls_token = with_cls_token
        self.conv_project = nn.Conv2d(in_channels, out_channels, 1)
        self.sample_pooling = nn.AvgPool2d(kernel_size=down_stride, stride=down_stride)
        self.ln = nn.LayerNorm(out_channels, eps=1e-6)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        x = self.sample_pooling(self.conv_project(x)).flatten(2).transpose(1, 2)
        x = self.act(self.ln(x))
        return torch.cat([tokens[:, :1], x], dim=1) if self.with_cls_token else x


class FCUUp(nn.Module):
    """Tokens -> CNN map: 1x1 conv, BN, ReLU, nearest upsampling by ``up_stride``."""

    def __init__(self, in_channels: int, out_channels: int, up_stride: int, with_cls_token: bool = True):
        super().__init__()
        self.up_stride = up_stride
        self.with_cls_token = with_cls_token
        self.conv_project = nn.Conv2d(in_channels, out_channels, 1)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        self.act = nn.ReLU(inplace=True)

    def forward(self, tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
        if self.with_cls_token:
            tokens = tokens[:, 1:]
        x = tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], height, width)
        x = self.act(self.bn(self.conv_project(x)))
        return F.interpolate(x, size=(height * self.up_stride, width * self.up_stride))


class ConvTransBlock(nn.Module):
    """One Conformer block: CNN bottleneck, its 3x3 features squeezed into the transformer layer, the
    transformer output expanded back and fused into a second bottleneck."""

    def __init__(self, in_channels: int, out_channels: int, embed_dims: int, conv_stride: int = 1,
                 with_residual_conv: bool = False, down_stride: int = 4, num_heads: int = 12,
                 mlp_ratio: float = 4.0, qkv_bias: bool = False, with_cls_token: bool = True,
                 drop_path_rate: float = 0.0, last_fusion: bool = False):
        super().__init__()
        self.cnn_block = ConvBlock(in_channels, out_channels, stride=conv_stride,
                                   with_residual_conv=with_residual_conv)
        self.fusion_block = ConvBlock(out_channels, out_channels, stride=2 if last_fusion else 1,
                                      drop_path_rate=drop_path_rate, with_residual_conv=last_fusion)
        self.squeeze_block = FCUDown(out_channels // 4, embed_dims, down_stride, with_cls_token)
        self.expand_block = FCUUp(embed_dims, out_channels // 4, down_stride, with_cls_token)
        self.trans_block = TransformerEncoderLayer(embed_dims, num_heads, int(embed_dims * mlp_ratio),
                                                   drop_path_rate=drop_path_rate, qkv_bias=qkv_bias,
                                                   norm_cfg=_TOKEN_NORM)
        self.down_stride = down_stride

    def forward(self, cnn_input: torch.Tensor, tokens: torch.Tensor):
        x, x2 = self.cnn_block(cnn_input, out_conv2=True)
        height, width = x2.shape[2] // self.down_stride, x2.shape[3] // self.down_stride
        tokens = self.trans_block(self.squeeze_block(x2, tokens) + tokens)
        x = self.fusion_block(x, fusion_features=self.expand_block(tokens, height, width), out_conv2=False)
        return x, tokens


def _conformer_arch(arch: Any) -> dict[str, Any]:
    if isinstance(arch, str):
        if arch.lower() not in _CONFORMER_ARCHS:
            raise BuildError(f"Conformer: arch={arch!r} is not supported; use 'tiny', 'small', 'base' (or 't', "
                             f"'s', 'b') or a dict with keys {list(_CONFORMER_KEYS)}")
        return dict(zip(_CONFORMER_KEYS, _CONFORMER_ARCHS[arch.lower()]))
    if not isinstance(arch, Mapping) or set(arch) != set(_CONFORMER_KEYS):
        raise BuildError(f"Conformer: a custom arch must be a dict with exactly the keys {list(_CONFORMER_KEYS)}, "
                         f"got {arch!r}")
    return dict(arch)


@BACKBONES.register()
class Conformer(Backbone):
    """mmcls ``Conformer``: stem (``conv1``/``bn1``/``maxpool``), ``conv_1`` + ``trans_1``, then
    ``conv_trans_2`` ... ``conv_trans_{depths}`` in three stages (channels x1, x2, x4).

    Each of ``out_indices`` (block numbers 2..depths; -1 is the last) gives ``[pooled CNN features,
    class token (or mean token)]``: pair it with ``ConformerHead(in_channels=[cnn, embed_dims])``.
    ``norm_eval`` and ``frozen_stages`` are accepted and, as in mmcls 0.25, have no effect.
    """

    def __init__(self, arch: Any = "tiny", patch_size: int = 16, base_channels: int = 64, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, with_cls_token: bool = True, drop_path_rate: float = 0.0,
                 norm_eval: bool = True, frozen_stages: int = 0, out_indices: Any = -1, init_cfg: Any = None):
        super().__init__(init_cfg=init_cfg)
        settings = _conformer_arch(arch)
        embed_dims, depths = int(settings["embed_dims"]), int(settings["depths"])
        if patch_size % 16:
            raise BuildError(f"Conformer: patch_size={patch_size} must be a multiple of 16")
        self.embed_dims = embed_dims
        self.depths = depths
        per_stage = depths // 3
        self.fin_stage = 3 * per_stage + 1
        self.out_indices = self._block_indices(out_indices, depths, self.fin_stage - 1)
        self.with_cls_token = with_cls_token
        if with_cls_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        rates = drop_path_rates(drop_path_rate, depths)
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.trans_down_stride = patch_size // 4
        channels = [int(base_channels * settings["channel_ratio"] * 2 ** stage) for stage in range(3)]
        self.conv_1 = ConvBlock(64, channels[0], with_residual_conv=True)
        self.trans_patch_conv = nn.Conv2d(64, embed_dims, self.trans_down_stride, stride=self.trans_down_stride)
        self.trans_1 = TransformerEncoderLayer(embed_dims, settings["num_heads"], int(embed_dims * mlp_ratio),
                                               drop_path_rate=rates[0], qkv_bias=qkv_bias, norm_cfg=_TOKEN_NORM)
        for index in range(2, self.fin_stage):
            stage = (index - 1) // per_stage
            first = stage > 0 and (index - 1) % per_stage == 0
            self.add_module(f"conv_trans_{index}", ConvTransBlock(
                channels[stage - 1] if first else channels[stage], channels[stage], embed_dims,
                conv_stride=2 if first else 1, with_residual_conv=first,
                down_stride=self.trans_down_stride // 2 ** stage, num_heads=settings["num_heads"],
                mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, with_cls_token=with_cls_token,
                drop_path_rate=rates[index - 1], last_fusion=index == depths))
        self.feature_dim = None  # two feature vectors: ConformerHead's in_channels=[channels[2], embed_dims]
        self.pooling = nn.AdaptiveAvgPool2d(1)
        self.trans_norm = nn.LayerNorm(embed_dims)
        self._init_weights()

    @staticmethod
    def _block_indices(out_indices: Any, depths: int, last: int) -> list[int]:
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        result = [depths + index + 1 if index < 0 else index for index in indices]
        if not result or any(not 2 <= index <= last for index in result):
            raise BuildError(f"Conformer: out_indices={out_indices!r} is invalid; blocks are numbered 2..{last} "
                             "(-1 is the last)")
        return result

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, ConvBlock):
                nn.init.zeros_(module.bn3.weight)
        if self.with_cls_token:
            nn.init.trunc_normal_(self.cls_token, std=0.02)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        """mmcv's corner padding of the stem output to a multiple of the token stride."""
        stride = self.trans_down_stride
        pad_h, pad_w = (-x.shape[2]) % stride, (-x.shape[3]) % stride
        return F.pad(x, [0, pad_w, 0, pad_h]) if pad_h or pad_w else x

    def cam_target_layer(self) -> str:
        """Grad-CAM's layer: the CNN branch's map after the last block (what the head pools)."""
        return f"conv_trans_{self.fin_stage - 1}.fusion_block"

    def forward(self, x: torch.Tensor):
        base = self._pad(self.maxpool(self.act1(self.bn1(self.conv1(x)))))
        x = self.conv_1(base, out_conv2=False)
        tokens = self.trans_patch_conv(base).flatten(2).transpose(1, 2)
        if self.with_cls_token:
            tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1)
        tokens = self.trans_1(tokens)
        outs = []
        for index in range(2, self.fin_stage):
            x, tokens = getattr(self, f"conv_trans_{index}")(x, tokens)
            if index in self.out_indices:
                normed = self.trans_norm(tokens)
                outs.append([self.pooling(x).flatten(1), normed[:, 0] if self.with_cls_token else normed.mean(1)])
        return tuple(outs)
