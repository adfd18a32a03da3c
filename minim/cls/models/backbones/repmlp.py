"""mmcls 0.x ``RepMLPNet``: stages of RepMLP units (a partition perceptron, a fully connected layer over
each channel's whole map, gated by a global perceptron, plus a conv FFN), with mmcls's module names.

Training form: the partition perceptron ``fc3`` + ``fc3_bn`` is helped by local perceptrons
(``repconv{k}``, k x k grouped convs + BN); deploy form (``deploy=True``, or
:meth:`RepMLPNet.switch_to_deploy` on a trained model) folds them all into a biased ``fc3``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from minim.cls.models.backbones._checks import require_value, resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.repvgg import fold_norm
from minim.cls.models.layers import SELayer, build_norm2d, conv_module
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_BASE = {"channels": [96, 192, 384, 768], "depths": [2, 2, 12, 2], "sharesets_nums": [1, 4, 32, 128]}
ARCHS = {"base": _BASE, "b": _BASE}
_BN = {"type": "BN", "requires_grad": True}


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


class RepMLPBlock(nn.Module):
    """RepMLP's mixing block on a ``(N, C, path_h, path_w)`` map (mmcls sets each stage's partition to
    the stage's whole map): channels are split into ``num_sharesets`` groups; each group shares one
    fully connected layer over the map's positions (``fc3``, a grouped 1x1 conv) and, before deploy,
    local k x k convs; the result is scaled by the global perceptron ``gp``."""

    def __init__(self, channels: int, path_h: int, path_w: int, reparam_conv_kernels: Sequence[int] | None = None,
                 globalperceptron_ratio: int = 4, num_sharesets: int = 1, deploy: bool = False):
        super().__init__()
        self.channels, self.path_h, self.path_w = channels, path_h, path_w
        self.num_sharesets = num_sharesets
        self.deploy = deploy
        self.gp = SELayer(channels, ratio=globalperceptron_ratio, return_weight=True)
        fc_channels = path_h * path_w * num_sharesets
        self.fc3 = nn.Conv2d(fc_channels, fc_channels, 1, groups=num_sharesets, bias=deploy)
        self.fc3_bn = nn.Identity() if deploy else build_norm2d(_BN, num_sharesets)
        self.reparam_conv_kernels = list(reparam_conv_kernels) if reparam_conv_kernels is not None else []
        if not deploy:
            for k in self.reparam_conv_kernels:
                self.add_module(f"repconv{k}", conv_module(num_sharesets, num_sharesets, k, padding=k // 2,
                                                           groups=num_sharesets, norm_cfg=_BN, act_cfg=None))

    def _local_convs(self) -> list[nn.Sequential]:
        return [] if self.deploy else [getattr(self, f"repconv{k}") for k in self.reparam_conv_kernels]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.gp(x)
        maps = x.reshape(-1, self.num_sharesets, self.path_h, self.path_w)
        out = self.fc3(maps.reshape(-1, self.num_sharesets * self.path_h * self.path_w, 1, 1))
        out = self.fc3_bn(out.reshape_as(maps))
        convs = self._local_convs()
        if convs:
            out = out + sum(conv(maps) for conv in convs)
        return out.reshape_as(x) * gate

    def fused_fc3(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight and bias of the single ``fc3`` equal (in eval mode) to fc3 + BN + the local convs."""
        weight, bias = fold_norm(self.fc3.weight, self.fc3_bn)
        convs = self._local_convs()
        if not convs:
            return weight, bias
        largest = max(conv.conv.kernel_size[0] for conv in convs)
        kernel, kernel_bias = 0, 0
        for conv in convs:
            conv_weight, conv_bias = fold_norm(conv.conv.weight, conv.bn)
            kernel = kernel + F.pad(conv_weight, [(largest - conv.conv.kernel_size[0]) // 2] * 4)
            kernel_bias = kernel_bias + conv_bias
        local_weight, local_bias = self._conv_as_fc(kernel, kernel_bias)
        return weight + local_weight.reshape_as(weight), bias + local_bias

    def _conv_as_fc(self, kernel: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The grouped conv ``kernel`` over a path_h x path_w map as ``fc3``'s (groups * P, P) matrix."""
        positions = self.path_h * self.path_w
        impulses = torch.eye(positions, dtype=kernel.dtype, device=kernel.device)
        impulses = impulses.reshape(positions, 1, self.path_h, self.path_w).repeat(1, self.num_sharesets, 1, 1)
        responses = F.conv2d(impulses, kernel, padding=(kernel.size(2) // 2, kernel.size(3) // 2),
                             groups=self.num_sharesets)
        return responses.reshape(positions, -1).t(), bias.repeat_interleave(positions)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fold BN and the local convs into a biased ``fc3`` (mmcls's ``local_inject``)."""
        if self.deploy:
            return
        weight, bias = self.fused_fc3()
        for k in self.reparam_conv_kernels:
            delattr(self, f"repconv{k}")
        fc3 = nn.Conv2d(self.fc3.in_channels, self.fc3.out_channels, 1, groups=self.num_sharesets, bias=True)
        self.fc3 = fc3.to(device=weight.device, dtype=weight.dtype)
        self.fc3.weight.copy_(weight)
        self.fc3.bias.copy_(bias)
        self.fc3_bn = nn.Identity()
        self.deploy = True


class ConvFFN(nn.Module):
    """Pointwise conv + BN, GELU, pointwise conv + BN (keys ``ffn_fc1.{conv,bn}``, ``ffn_fc2.{conv,bn}``)."""

    def __init__(self, channels: int, hidden_channels: int):
        super().__init__()
        self.ffn_fc1 = conv_module(channels, hidden_channels, 1, norm_cfg=_BN, act_cfg=None)
        self.ffn_fc2 = conv_module(hidden_channels, channels, 1, norm_cfg=_BN, act_cfg=None)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn_fc2(self.act(self.ffn_fc1(x)))


class RepMLPNetUnit(nn.Module):
    """``y = x + repmlp_block(norm1(x))``; ``y + ffn_block(norm2(y))``."""

    def __init__(self, channels: int, path_h: int, path_w: int, reparam_conv_kernels, globalperceptron_ratio: int,
                 norm_cfg: Mapping[str, Any], num_sharesets: int, deploy: bool, ffn_expand: int = 4):
        super().__init__()
        self.repmlp_block = RepMLPBlock(channels, path_h, path_w, reparam_conv_kernels, globalperceptron_ratio,
                                        num_sharesets, deploy)
        self.ffn_block = ConvFFN(channels, channels * ffn_expand)
        self.norm1 = build_norm2d(norm_cfg, channels)
        self.norm2 = build_norm2d(norm_cfg, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.repmlp_block(self.norm1(x))
        return x + self.ffn_block(self.norm2(x))


class PatchEmbed(nn.Module):
    """Non-overlapping conv patches + BN + ReLU, as a map; pads the bottom/right edges first when the
    image is not a whole number of patches (mmcv's ``'corner'`` padding)."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: tuple[int, int], img_size: tuple[int, int],
                 norm_cfg: Mapping[str, Any]):
        super().__init__()
        self.pad = [0, -img_size[1] % patch_size[1], 0, -img_size[0] % patch_size[0]]
        self.projection = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size, bias=False)
        self.norm = build_norm2d(norm_cfg, embed_dims)
        self.relu = nn.ReLU()
        self.out_size = tuple(-(-size // patch) for size, patch in zip(img_size, patch_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        return self.relu(self.norm(self.projection(x)))


def _resolve_arch(arch: Any) -> Mapping[str, list]:
    if isinstance(arch, str):
        if arch.lower() not in ARCHS:
            raise BuildError(f"RepMLPNet: arch={arch!r} is not supported; use 'base' or a dict")
        return ARCHS[arch.lower()]
    keys = {"channels", "depths", "sharesets_nums"}
    if not isinstance(arch, Mapping) or set(arch) != keys:
        raise BuildError(f"RepMLPNet: a custom arch needs a dict with exactly the keys {', '.join(sorted(keys))}")
    if len({len(arch[key]) for key in keys}) != 1:
        raise BuildError("RepMLPNet: channels, depths and sharesets_nums need one entry per stage")
    return arch


@BACKBONES.register()
class RepMLPNet(Backbone):
    """mmcls ``RepMLPNet(arch='base'|dict, img_size=224, deploy=False, out_indices=(3,), ...)``.

    Only takes ``img_size`` inputs (its fully connected layers span whole maps).  Stage ``i``'s output
    in ``out_indices`` is taken after the following downsampling (after ``final_norm`` for the last).
    """

    def __init__(self, arch: Any, img_size: Any = 224, in_channels: int = 3, patch_size: Any = 4,
                 out_indices: Any = (3,), reparam_conv_kernels: Sequence[int] | None = (3,),
                 globalperceptron_ratio: int = 4, conv_cfg=None, norm_cfg: Mapping[str, Any] = _BN,
                 patch_cfg: Mapping[str, Any] | None = None, final_norm: bool = True, deploy: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        require_value("RepMLPNet", "conv_cfg", conv_cfg, None)
        require_value("RepMLPNet", "patch_cfg", patch_cfg, None, {})
        arch = _resolve_arch(arch)
        channels = list(arch["channels"])
        num_stages = len(channels)
        self.img_size = _pair(img_size)
        self.deploy = bool(deploy)
        self.out_indices = resolve_out_indices("RepMLPNet", out_indices, num_stages)
        self.patch_embed = PatchEmbed(in_channels, channels[0], _pair(patch_size), self.img_size, norm_cfg)
        height, width = self.patch_embed.out_size
        self.stages = nn.ModuleList()
        self.downsample_layers = nn.ModuleList()
        for i in range(num_stages):
            self.stages.append(nn.Sequential(*(
                RepMLPNetUnit(channels[i], height // 2 ** i, width // 2 ** i, reparam_conv_kernels,
                              globalperceptron_ratio, norm_cfg, arch["sharesets_nums"][i], deploy)
                for _ in range(arch["depths"][i]))))
            if i < num_stages - 1:
                self.downsample_layers.append(conv_module(channels[i], channels[i + 1], 2, stride=2,
                                                          norm_cfg=norm_cfg))
        self.final_norm = build_norm2d(norm_cfg, channels[-1]) if final_norm else nn.Identity()
        last = max(self.out_indices)
        self.feature_dim = channels[min(last + 1, num_stages - 1)]

    def forward(self, x: torch.Tensor):
        if tuple(x.shape[2:]) != self.img_size:
            raise ValueError(f"RepMLPNet takes only {self.img_size} inputs (its img_size), got {tuple(x.shape[2:])}")
        x = self.patch_embed(x)
        outs = []
        last = len(self.stages) - 1
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < last:
                x = self.downsample_layers[i](x)
            if i in self.out_indices:
                outs.append(self.final_norm(x) if i == last else x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def switch_to_deploy(self) -> None:
        """Fold every block's BN and local convs into ``fc3``; the model then matches ``deploy=True``."""
        for module in self.modules():
            if isinstance(module, RepMLPBlock):
                module.switch_to_deploy()
        self.deploy = True
