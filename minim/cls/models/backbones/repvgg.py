"""mmcls 0.x ``RepVGG``: VGG-like stages of multi-branch blocks that fuse into one 3x3 conv each.

Training form: each block sums a 3x3 conv + BN, a 1x1 conv + BN and (when shapes allow) a BN
identity branch.  Deploy form (``deploy=True``, or :meth:`RepVGG.switch_to_deploy` on a trained
model): one biased 3x3 conv per block.  Module names follow mmcls, so its checkpoints of either
form load unchanged.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn

from minim.cls.models.backbones._checks import require_value, resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.layers import SELayer, build_activation, build_norm2d, conv_module
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_BN = {"type": "BN"}
_RELU = {"type": "ReLU"}


def _arch(num_blocks, width_factor, groups: int = 1, se_cfg=None, stem_channels: int | None = None) -> dict:
    """An mmcls arch setting; ``groups`` > 1 makes blocks 2, 4, ..., 26 (counted from the stem) grouped."""
    arch = {"num_blocks": list(num_blocks), "width_factor": list(width_factor),
            "group_layer_map": {layer: groups for layer in range(2, 27, 2)} if groups > 1 else None,
            "se_cfg": se_cfg}
    if stem_channels is not None:
        arch["stem_channels"] = stem_channels
    return arch


_A, _B, _D = (2, 4, 14, 1), (4, 6, 16, 1), (8, 14, 24, 1)
ARCHS = {
    "A0": _arch(_A, (0.75, 0.75, 0.75, 2.5)),
    "A1": _arch(_A, (1, 1, 1, 2.5)),
    "A2": _arch(_A, (1.5, 1.5, 1.5, 2.75)),
    "B0": _arch(_B, (1, 1, 1, 2.5), stem_channels=64),
    "B1": _arch(_B, (2, 2, 2, 4)),
    "B1g2": _arch(_B, (2, 2, 2, 4), groups=2),
    "B1g4": _arch(_B, (2, 2, 2, 4), groups=4),
    "B2": _arch(_B, (2.5, 2.5, 2.5, 5)),
    "B2g2": _arch(_B, (2.5, 2.5, 2.5, 5), groups=2),
    "B2g4": _arch(_B, (2.5, 2.5, 2.5, 5), groups=4),
    "B3": _arch(_B, (3, 3, 3, 5)),
    "B3g2": _arch(_B, (3, 3, 3, 5), groups=2),
    "B3g4": _arch(_B, (3, 3, 3, 5), groups=4),
    "D2se": _arch(_D, (2.5, 2.5, 2.5, 5), se_cfg={"ratio": 16, "divisor": 1}),
    "yolox-pai-small": _arch((3, 5, 7, 3), (1, 1, 1, 1), stem_channels=32),
}


def _conv_norm(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int, dilation: int,
               groups: int, norm_cfg: Mapping[str, Any]) -> nn.Sequential:
    """A bias-free conv followed by a norm layer, keys ``conv.*`` / ``norm.*`` (mmcls's branch layout)."""
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                       groups=groups, bias=False),
        norm=build_norm2d(norm_cfg, out_channels)))


def fold_norm(weight: torch.Tensor, norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of one conv equal to a bias-free conv (``weight``) then ``norm`` in eval mode.

    A conv with ``k`` times as many output channels as ``norm`` has (RepMLP's ``fc3``) gives each
    norm channel ``k`` consecutive conv channels.
    """
    scale = norm.weight / (norm.running_var + norm.eps).sqrt()
    shift = norm.bias - norm.running_mean * scale
    repeats = weight.size(0) // scale.numel()
    scale, shift = scale.repeat_interleave(repeats), shift.repeat_interleave(repeats)
    return weight * scale.reshape(-1, 1, 1, 1), shift


class RepVGGBlock(nn.Module):
    """One RepVGG block: ``act(se(3x3 branch + 1x1 branch + identity BN))``, or its fused 3x3 conv.

    As in mmcls, the deploy form skips the SE layer (mmcls returns the fused conv's output before it).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, padding: int = 1, dilation: int = 1,
                 groups: int = 1, se_cfg: Mapping[str, Any] | None = None, with_cp: bool = False,
                 norm_cfg: Mapping[str, Any] = _BN, act_cfg: Mapping[str, Any] = _RELU, deploy: bool = False):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.with_cp = with_cp
        self.deploy = deploy
        if deploy:
            self.branch_reparam = self._fused_conv()
        else:
            has_identity = in_channels == out_channels and stride == 1 and padding == dilation
            self.branch_norm = build_norm2d(norm_cfg, in_channels) if has_identity else None
            self.branch_3x3 = _conv_norm(in_channels, out_channels, 3, stride, padding, dilation, groups, norm_cfg)
            self.branch_1x1 = _conv_norm(in_channels, out_channels, 1, stride, 0, 1, groups, norm_cfg)
        self.se_layer = SELayer(out_channels, **se_cfg) if se_cfg is not None else None
        self.act = build_activation(act_cfg)

    def _fused_conv(self) -> nn.Conv2d:
        return nn.Conv2d(self.in_channels, self.out_channels, 3, stride=self.stride, padding=self.padding,
                         dilation=self.dilation, groups=self.groups, bias=True)

    def _branches(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            return self.branch_reparam(x)
        out = self.branch_3x3(x) + self.branch_1x1(x)
        if self.branch_norm is not None:
            out = out + self.branch_norm(x)
        if self.se_layer is not None:
            out = self.se_layer(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return self.act(cp.checkpoint(self._branches, x, use_reentrant=False))
        return self.act(self._branches(x))

    def fused_weight_and_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 3x3 conv's weight and bias equal (in eval mode) to the sum of the branches."""
        weight, bias = fold_norm(self.branch_3x3.conv.weight, self.branch_3x3.norm)
        weight_1x1, bias_1x1 = fold_norm(self.branch_1x1.conv.weight, self.branch_1x1.norm)
        weight, bias = weight + F.pad(weight_1x1, [1, 1, 1, 1]), bias + bias_1x1
        if self.branch_norm is not None:
            weight_id, bias_id = fold_norm(self._identity_kernel(), self.branch_norm)
            weight, bias = weight + weight_id, bias + bias_id
        return weight, bias

    def _identity_kernel(self) -> torch.Tensor:
        """A 3x3 (grouped) conv kernel that copies its input."""
        per_group = self.in_channels // self.groups
        reference = self.branch_3x3.conv.weight
        kernel = torch.zeros(self.in_channels, per_group, 3, 3, dtype=reference.dtype, device=reference.device)
        channels = torch.arange(self.in_channels)
        kernel[channels, channels % per_group, 1, 1] = 1
        return kernel

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Replace the branches by their fused 3x3 conv (mmcls's ``switch_to_deploy``)."""
        if self.deploy:
            return
        weight, bias = self.fused_weight_and_bias()
        fused = self._fused_conv().to(device=weight.device, dtype=weight.dtype)
        fused.weight.copy_(weight)
        fused.bias.copy_(bias)
        del self.branch_3x3, self.branch_1x1, self.branch_norm
        self.branch_reparam = fused
        self.deploy = True


class MTSPPF(nn.Module):
    """YOLOX-PAI's spatial pyramid pooling (mmcls ``add_ppf``): 1x1 conv, three chained 5x5 max pools,
    concatenation, 1x1 conv."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: Mapping[str, Any], act_cfg: Mapping[str, Any],
                 kernel_size: int = 5):
        super().__init__()
        hidden = in_channels // 2
        self.conv1 = conv_module(in_channels, hidden, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = conv_module(hidden * 4, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size, stride=1, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = [self.conv1(x)]
        for _ in range(3):
            pooled.append(self.maxpool(pooled[-1]))
        return self.conv2(torch.cat(pooled, dim=1))


def _resolve_arch(arch: Any) -> dict:
    if isinstance(arch, str):
        if arch not in ARCHS:
            raise BuildError(f"RepVGG: arch={arch!r} is not supported; use one of {', '.join(ARCHS)} or a dict")
        return ARCHS[arch]
    if not isinstance(arch, Mapping):
        raise BuildError(f"RepVGG: arch must be a name or a dict, got {arch!r}")
    missing = {"num_blocks", "width_factor", "group_layer_map", "se_cfg"} - set(arch)
    if missing:
        raise BuildError(f"RepVGG: a custom arch needs the keys {', '.join(sorted(missing))}")
    arch = dict(arch)
    arch["group_layer_map"] = {int(k): v for k, v in (arch["group_layer_map"] or {}).items()} or None
    return arch


@BACKBONES.register()
class RepVGG(Backbone):
    """mmcls ``RepVGG(arch='A0'..'B3g4'|'D2se'|dict, deploy=False, add_ppf=False, ...)``.

    Stem block then stages ``stage_1``..``stage_4``; stage ``i`` has ``base_channels * 2**i *
    width_factor[i]`` channels.  ``frozen_stages=k`` freezes the stem and stages 1..k; outputs the
    stages in ``out_indices`` (a tensor for one, a tuple for several).
    """

    def __init__(self, arch: Any, in_channels: int = 3, base_channels: int = 64, out_indices: Any = (3,),
                 strides: Sequence[int] = (2, 2, 2, 2), dilations: Sequence[int] = (1, 1, 1, 1),
                 frozen_stages: int = -1, conv_cfg=None, norm_cfg: Mapping[str, Any] = _BN,
                 act_cfg: Mapping[str, Any] = _RELU, with_cp: bool = False, deploy: bool = False,
                 norm_eval: bool = False, add_ppf: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        require_value("RepVGG", "conv_cfg", conv_cfg, None)
        arch = _resolve_arch(arch)
        num_stages = len(arch["num_blocks"])
        if not len(arch["width_factor"]) == len(strides) == len(dilations) == num_stages:
            raise BuildError(f"RepVGG: num_blocks, width_factor, strides and dilations need one entry per stage "
                             f"({num_stages})")
        self.out_indices = resolve_out_indices("RepVGG", out_indices, num_stages)
        self.deploy = bool(deploy)
        block_args = {"se_cfg": arch["se_cfg"], "with_cp": with_cp, "norm_cfg": norm_cfg, "act_cfg": act_cfg,
                      "deploy": self.deploy}
        channels = min(arch.get("stem_channels", 64), int(base_channels * arch["width_factor"][0]))
        self.stem = RepVGGBlock(in_channels, channels, stride=2, **block_args)
        group_map = arch["group_layer_map"] or {}
        block_index = 1  # blocks are counted from the stem (0) for group_layer_map
        stage_channels = []
        for i in range(num_stages):
            out_channels = int(base_channels * 2 ** i * arch["width_factor"][i])
            blocks = []
            for j in range(arch["num_blocks"][i]):
                blocks.append(RepVGGBlock(channels if j == 0 else out_channels, out_channels,
                                          stride=strides[i] if j == 0 else 1, padding=dilations[i],
                                          dilation=dilations[i], groups=group_map.get(block_index, 1), **block_args))
                block_index += 1
            self.add_module(f"stage_{i + 1}", nn.Sequential(*blocks))
            stage_channels.append(out_channels)
            channels = out_channels
        self.num_stages = num_stages
        self.ppf = MTSPPF(channels, channels, norm_cfg, act_cfg) if add_ppf else None
        self.feature_dim = stage_channels[max(self.out_indices)]
        self._check_frozen_stages("RepVGG")

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[self.stem]] + [[getattr(self, f"stage_{i + 1}")] for i in range(self.num_stages)]

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        outs = []
        for i in range(self.num_stages):
            x = getattr(self, f"stage_{i + 1}")(x)
            if i == self.num_stages - 1 and self.ppf is not None:
                x = self.ppf(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def switch_to_deploy(self) -> None:
        """Fuse every block into its single 3x3 conv; the model then matches ``deploy=True`` checkpoints.

        Exact for archs without SE layers; with them (D2se) the deploy form skips the SE layers, as mmcls's does.
        """
        for module in self.modules():
            if isinstance(module, RepVGGBlock):
                module.switch_to_deploy()
        self.deploy = True
