"""mmcls 0.x ``ConvMixer``: a patch-embedding conv, then blocks of a residual depthwise conv and a
pointwise conv, each followed by the activation and BN (mmcls's module names)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch
from torch import nn

from minim.cls.models.backbones._checks import resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.layers import build_activation, build_norm2d
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

ARCHS = {
    "768/32": {"embed_dims": 768, "depth": 32, "patch_size": 7, "kernel_size": 7},
    "1024/20": {"embed_dims": 1024, "depth": 20, "patch_size": 14, "kernel_size": 9},
    "1536/20": {"embed_dims": 1536, "depth": 20, "patch_size": 7, "kernel_size": 9},
}
_BN = {"type": "BN"}
_GELU = {"type": "GELU"}


class Residual(nn.Module):
    """``fn(x) + x``; keeps mmcls's key ``fn``."""

    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) + x


def _mixer_block(dims: int, kernel_size: int, norm_cfg: Mapping[str, Any], act: nn.Module) -> nn.Sequential:
    """Keys ``0.fn.0`` (depthwise conv), ``0.fn.2`` (BN), ``1`` (pointwise conv), ``3`` (BN)."""
    depthwise = nn.Sequential(nn.Conv2d(dims, dims, kernel_size, groups=dims, padding="same"), act,
                              build_norm2d(norm_cfg, dims))
    return nn.Sequential(Residual(depthwise), nn.Conv2d(dims, dims, 1), act, build_norm2d(norm_cfg, dims))


def _resolve_arch(arch: Any) -> Mapping[str, int]:
    if isinstance(arch, str):
        if arch not in ARCHS:
            raise BuildError(f"ConvMixer: arch={arch!r} is not supported; use one of {', '.join(ARCHS)} or a dict")
        return ARCHS[arch]
    needed = {"embed_dims", "depth", "patch_size", "kernel_size"}
    if not isinstance(arch, Mapping) or not needed <= set(arch):
        raise BuildError(f"ConvMixer: a custom arch needs a dict with keys {', '.join(sorted(needed))}")
    return arch


@BACKBONES.register()
class ConvMixer(Backbone):
    """mmcls ``ConvMixer(arch='768/32'|'1024/20'|'1536/20'|dict, act_cfg=GELU, out_indices=-1, frozen_stages=0)``.

    ``out_indices`` count mixer blocks (``stages.{i}``); ``frozen_stages=k`` freezes the first ``k``
    blocks (not the stem), as in mmcls.
    """

    def __init__(self, arch: Any = "768/32", in_channels: int = 3, norm_cfg: Mapping[str, Any] = _BN,
                 act_cfg: Mapping[str, Any] = _GELU, out_indices: Any = -1, frozen_stages: int = 0,
                 init_cfg=None):
        super().__init__(frozen_stages=frozen_stages, init_cfg=init_cfg)
        arch = _resolve_arch(arch)
        dims, depth = arch["embed_dims"], arch["depth"]
        self.out_indices = resolve_out_indices("ConvMixer", out_indices, depth)
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= depth:
            raise BuildError(f"ConvMixer: frozen_stages must be an int in -1..{depth}, got {frozen_stages!r}")
        act = build_activation(act_cfg)  # one module shared by every layer, as in mmcls
        self.stem = nn.Sequential(nn.Conv2d(in_channels, dims, arch["patch_size"], stride=arch["patch_size"]), act,
                                  build_norm2d(norm_cfg, dims))
        self.stages = nn.Sequential(*(_mixer_block(dims, arch["kernel_size"], norm_cfg, act) for _ in range(depth)))
        self.feature_dim = dims
        self._freeze_stages()

    def _frozen_modules(self) -> Iterable[nn.Module]:
        return list(self.stages)[: max(self.frozen_stages, 0)]

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)
