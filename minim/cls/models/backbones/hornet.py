"""mmcls 0.x ``HorNet``: recursive gated convolutions (gnConv), with depthwise or global (FFT) filters.

timm has no HorNet, so the blocks are minim's own, named as mmcls names them (checkpoints load
unchanged).
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import nn
from torch.utils.checkpoint import checkpoint_sequential

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone, drop_path_rates
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_DW7 = {"type": "DW", "kernel_size": 7}
_GF = [_DW7, _DW7, {"type": "GF", "h": 14, "w": 8}, {"type": "GF", "h": 7, "w": 4}]
_GF384 = [_DW7, _DW7, {"type": "GF", "h": 24, "w": 12}, {"type": "GF", "h": 13, "w": 7}]
_BASE_DIMS = {"tiny": 64, "small": 96, "base": 128, "large": 192}
_ARCHS: dict[str, dict] = {}
for _size, _dim in _BASE_DIMS.items():
    for _suffix, _filters in (("", [_DW7] * 4), ("-gf", _GF), ("-gf384", _GF384)):
        if _suffix == "-gf384" and _size in ("tiny", "small"):
            continue
        _settings = {"base_dim": _dim, "depths": [2, 3, 18, 2], "orders": [2, 3, 4, 5], "dw_cfg": _filters}
        _ARCHS[_size + _suffix] = _ARCHS[_size[0] + _suffix] = _settings


class ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channels of ``(N, C, H, W)``, computed as HorNet computes it."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(1, keepdim=True)
        x = centred / torch.sqrt(centred.pow(2).mean(1, keepdim=True) + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class LayerScale(nn.Module):
    """Per-channel scale (key ``weight``) of channels-last or channels-first (``(N, C, H, W)``) inputs."""

    def __init__(self, dim: int, channels_first: bool = False, init_value: float = 1e-5):
        super().__init__()
        self.channels_first = channels_first
        self.weight = nn.Parameter(torch.full((dim,), init_value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.weight.view(-1, 1, 1) if self.channels_first else self.weight)


class GlobalLocalFilter(nn.Module):
    """Half the channels through a depthwise 3x3 conv, half through a learned global filter in Fourier space."""

    def __init__(self, dim: int, h: int = 14, w: int = 8):
        super().__init__()
        half = dim // 2
        self.dw = nn.Conv2d(half, half, 3, padding=1, bias=False, groups=half)
        self.complex_weight = nn.Parameter(torch.randn(half, h, w, 2) * 0.02)
        self.pre_norm = ChannelsFirstLayerNorm(dim)
        self.post_norm = ChannelsFirstLayerNorm(dim)

    def _filter_weight(self, size: torch.Size) -> torch.Tensor:
        weight = self.complex_weight
        if weight.shape[1:3] != size:
            weight = F.interpolate(weight.permute(3, 0, 1, 2), size=size, mode="bilinear",
                                   align_corners=True).permute(1, 2, 3, 0)
        return torch.view_as_complex(weight.contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre_norm(x)
        local, spectral = torch.chunk(x, 2, dim=1)
        local = self.dw(local)
        batch, channels, height, width = spectral.shape
        spectral = torch.fft.rfft2(spectral.float(), dim=(2, 3), norm="ortho")
        spectral = spectral * self._filter_weight(spectral.shape[2:4])
        spectral = torch.fft.irfft2(spectral, s=(height, width), dim=(2, 3), norm="ortho")
        # interleave the two halves channel by channel
        x = torch.stack([local, spectral], dim=2).reshape(batch, 2 * channels, height, width)
        return self.post_norm(x)


def _spatial_mixer(channels: int, dw_cfg: Mapping) -> nn.Module:
    cfg = dict(dw_cfg)
    kind = cfg.pop("type", None)
    if kind == "DW":
        kernel_size = cfg.pop("kernel_size", 7)
        bias = cfg.pop("bias", True)
        if not cfg:
            return nn.Conv2d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2, bias=bias,
                             groups=channels)
    elif kind == "GF" and set(cfg) <= {"h", "w"}:
        return GlobalLocalFilter(channels, **cfg)
    raise BuildError(f"HorNet: dw_cfg={dict(dw_cfg)!r} is not supported; use dict(type='DW', kernel_size=k) or "
                     "dict(type='GF', h=..., w=...)")


class gnConv(nn.Module):  # noqa: N801 (mmcls's module name)
    """Recursive gated convolution of order ``order``: widths ``dim / 2**(order-1) .. dim``."""

    def __init__(self, dim: int, order: int, dw_cfg: Mapping, scale: float):
        super().__init__()
        self.order = order
        self.dims = [dim // 2 ** i for i in reversed(range(order))]
        self.scale = scale
        self.proj_in = nn.Conv2d(dim, 2 * dim, 1)
        self.dwconv = _spatial_mixer(sum(self.dims), dw_cfg)
        self.proj_out = nn.Conv2d(dim, dim, 1)
        self.projs = nn.ModuleList(nn.Conv2d(self.dims[i], self.dims[i + 1], 1) for i in range(order - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, x = torch.split(self.proj_in(x), (self.dims[0], sum(self.dims)), dim=1)
        gates = torch.split(self.dwconv(x) * self.scale, self.dims, dim=1)
        x = gate * gates[0]
        for proj, next_gate in zip(self.projs, gates[1:]):
            x = proj(x) * next_gate
        return self.proj_out(x)


class HorNetBlock(nn.Module):
    """gnConv branch then an inverted-bottleneck MLP branch (channels last), both layer-scaled."""

    def __init__(self, dim: int, order: int, dw_cfg: Mapping, scale: float, drop_path_rate: float,
                 use_layer_scale: bool):
        super().__init__()
        self.norm1 = ChannelsFirstLayerNorm(dim)
        self.gnconv = gnConv(dim, order, dw_cfg, scale)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma1 = LayerScale(dim, channels_first=True) if use_layer_scale else nn.Identity()
        self.gamma2 = LayerScale(dim) if use_layer_scale else nn.Identity()
        self.drop_path = DropPath(drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.gamma1(self.gnconv(self.norm1(x))))
        mlp = self.gamma2(self.pwconv2(self.act(self.pwconv1(self.norm2(x.permute(0, 2, 3, 1))))))
        return x + self.drop_path(mlp.permute(0, 3, 1, 2))


def _arch_settings(arch) -> dict:
    if isinstance(arch, str):
        if arch.lower() not in _ARCHS:
            raise BuildError(f"HorNet: arch={arch!r} is not supported; use one of {', '.join(_ARCHS)} or a dict")
        return _ARCHS[arch.lower()]
    keys = {"base_dim", "depths", "orders", "dw_cfg"}
    if not isinstance(arch, Mapping) or set(arch) != keys:
        raise BuildError(f"HorNet: a custom arch must be a dict with exactly the keys {sorted(keys)}, got {arch!r}")
    return dict(arch)


@BACKBONES.register()
class HorNet(Backbone):
    """mmcls ``HorNet(arch='tiny'|'small'|'base'|'large'[-gf|-gf384]|dict)``.

    With ``gap_before_final_norm=True`` (default) each output is the globally averaged,
    normalised ``(N, C)`` vector (the configs have no neck); else the normalised map.
    """

    def __init__(self, arch="tiny", in_channels: int = 3, drop_path_rate: float = 0.0, scale: float = 1 / 3,
                 use_layer_scale: bool = True, out_indices=(3,), frozen_stages: int = -1, with_cp: bool = False,
                 gap_before_final_norm: bool = True, init_cfg=None):
        super().__init__(frozen_stages=frozen_stages, init_cfg=init_cfg)
        settings = _arch_settings(arch)
        dims = [settings["base_dim"] * 2 ** i for i in range(4)]
        self.with_cp = with_cp
        self.gap_before_final_norm = gap_before_final_norm
        self.downsample_layers = nn.ModuleList([nn.Sequential(
            nn.Conv2d(in_channels, dims[0], 4, stride=4), ChannelsFirstLayerNorm(dims[0]))])
        for i in range(3):
            self.downsample_layers.append(nn.Sequential(
                ChannelsFirstLayerNorm(dims[i]), nn.Conv2d(dims[i], dims[i + 1], 2, stride=2)))
        rates = drop_path_rates(drop_path_rate, sum(settings["depths"]))
        self.stages = nn.ModuleList()
        for i, depth in enumerate(settings["depths"]):
            stage_rates, rates = rates[:depth], rates[depth:]
            self.stages.append(nn.Sequential(*[
                HorNetBlock(dims[i], settings["orders"][i], settings["dw_cfg"][i], scale, rate, use_layer_scale)
                for rate in stage_rates]))
        self.out_indices = resolve_out_indices("HorNet", out_indices, 4)
        for index in self.out_indices:
            self.add_module(f"norm{index}", ChannelsFirstLayerNorm(dims[index]))
        self.feature_dim = dims[self.out_indices[-1]]
        self._check_frozen_stages("HorNet")

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[self.downsample_layers[i], self.stages[i]]
                + ([getattr(self, f"norm{i}")] if i in self.out_indices else []) for i in range(4)]

    def forward(self, x: torch.Tensor):
        outs = []
        for i, stage in enumerate(self.stages):
            x = self.downsample_layers[i](x)
            if self.with_cp and self.training:
                x = checkpoint_sequential(stage, len(stage), x, use_reentrant=False)
            else:
                x = stage(x)
            if i in self.out_indices:
                norm = getattr(self, f"norm{i}")
                outs.append(norm(x.mean((2, 3), keepdim=True)).flatten(1) if self.gap_before_final_norm
                            else norm(x).contiguous())
        return outs[0] if len(outs) == 1 else tuple(outs)
