"""mmcls 0.x ResNet family: ``ResNet``, ``ResNet_CIFAR``, ``ResNeXt``, ``ResNetV1c``, ``ResNetV1d``.

minim's own implementation with mmcls's module names (``conv1``/``bn1``, ``stem.{i}.conv``,
``layer{s}.{b}.conv{k}``/``bn{k}``, ``downsample.{i}``), so mmcls checkpoints load unchanged.  For
``style='pytorch'`` those are torchvision's ResNet / ResNeXt / wide-ResNet names too: torchvision
checkpoints load as they are (their ``fc`` becomes the head's).  The blocks and stages here are
shared by the SE-, Res2-, ResNeSt, RegNet and CSP backbones.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.utils.checkpoint as checkpoint
from timm.layers import DropPath
from torch import nn

from minim.cls.models.backbones._checks import norm_type, require_value, resolve_out_indices
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.layers import build_activation, build_norm2d, conv_module
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_RELU = {"type": "ReLU"}
_DEFAULT_NORM = {"type": "BN"}


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=dilation, dilation=dilation,
                     groups=groups, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class _ResidualBlock(nn.Module):
    """``relu(drop_path(residual(x)) + shortcut(x))``, optionally recomputed in backward (``with_cp``)."""

    expansion = 1

    def __init__(self, downsample: nn.Module | None, drop_path_rate: float, with_cp: bool,
                 act_cfg: Mapping[str, Any] | None):
        super().__init__()
        self.downsample = downsample
        self.with_cp = with_cp
        self.relu = build_activation(act_cfg or _RELU)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 1e-5 else nn.Identity()

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def last_norm(self) -> nn.Module:
        """The norm layer that ``zero_init_residual`` zeroes."""
        raise NotImplementedError

    def _sum(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.drop_path(self.residual(x)) + shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return self.relu(checkpoint.checkpoint(self._sum, x, use_reentrant=False))
        return self.relu(self._sum(x))


class BasicBlock(_ResidualBlock):
    """Two 3x3 convs (mmcls/torchvision ``BasicBlock``)."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int = 1, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = "pytorch", with_cp: bool = False,
                 norm_cfg: Mapping[str, Any] = _DEFAULT_NORM, act_cfg: Mapping[str, Any] | None = None,
                 drop_path_rate: float = 0.0):
        super().__init__(downsample, drop_path_rate, with_cp, act_cfg)
        if expansion != 1:
            raise BuildError(f"BasicBlock has expansion 1, got expansion={expansion}")
        self.out_channels = out_channels
        self.conv1 = conv3x3(in_channels, out_channels, stride, dilation)
        self.bn1 = build_norm2d(norm_cfg, out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = build_norm2d(norm_cfg, out_channels)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def last_norm(self) -> nn.Module:
        return self.bn2


class Bottleneck(_ResidualBlock):
    """1x1 -> 3x3 -> 1x1 (mmcls ``Bottleneck``; with ``groups > 1`` ResNeXt's, whose 3x3 conv is
    ``groups * width_per_group * (out_channels / expansion) / base_channels`` wide).

    ``style='pytorch'`` strides the 3x3 conv, ``'caffe'`` the first 1x1 conv.
    """

    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, expansion: int = 4, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = "pytorch", with_cp: bool = False,
                 norm_cfg: Mapping[str, Any] = _DEFAULT_NORM, act_cfg: Mapping[str, Any] | None = None,
                 drop_path_rate: float = 0.0, groups: int = 1, width_per_group: int = 4, base_channels: int = 64):
        super().__init__(downsample, drop_path_rate, with_cp, act_cfg)
        if out_channels % expansion:
            raise BuildError(f"Bottleneck: out_channels={out_channels} is not divisible by expansion={expansion}")
        mid_channels = self.middle_channels(out_channels // expansion, groups, width_per_group, base_channels)
        self.in_channels, self.mid_channels, self.out_channels = in_channels, mid_channels, out_channels
        self.conv1_stride, self.conv2_stride = (1, stride) if style == "pytorch" else (stride, 1)
        self.dilation = dilation
        self.conv1 = conv1x1(in_channels, mid_channels, self.conv1_stride)
        self.bn1 = build_norm2d(norm_cfg, mid_channels)
        self.build_middle(norm_cfg, groups)
        self.conv3 = conv1x1(mid_channels, out_channels)
        self.bn3 = build_norm2d(norm_cfg, out_channels)

    def middle_channels(self, plain: int, groups: int, width_per_group: int, base_channels: int) -> int:
        """Width of ``conv1``'s output: ``plain`` (``out_channels / expansion``), or ResNeXt's with groups."""
        if groups == 1:
            return plain
        if plain % base_channels:
            raise BuildError(f"Bottleneck: {plain} middle channels are not divisible by base_channels={base_channels}")
        return groups * width_per_group * plain // base_channels

    def build_middle(self, norm_cfg: Mapping[str, Any], groups: int) -> None:
        """The layers between ``bn1`` and ``conv3`` (the 3x3 conv; variants replace it)."""
        self.conv2 = conv3x3(self.mid_channels, self.mid_channels, self.conv2_stride, self.dilation, groups)
        self.bn2 = build_norm2d(norm_cfg, self.mid_channels)

    def middle(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn2(self.conv2(x)))

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        return self.bn3(self.conv3(self.middle(x)))

    def last_norm(self) -> nn.Module:
        return self.bn3


def block_expansion(block: type, expansion: int | None) -> int:
    """mmcls's ``get_expansion``: the given ``expansion``, else the block's own."""
    if expansion is None:
        return block.expansion
    if isinstance(expansion, bool) or not isinstance(expansion, int) or expansion <= 0:
        raise BuildError(f"expansion must be a positive int or None, got {expansion!r}")
    return expansion


@BACKBONES.register()
class ResNet(Backbone):
    """mmcls ``ResNet(depth=18|34|50|101|152, ...)`` with every mmcls option.

    Outputs the feature map of the ``out_indices`` stage (a tuple of them for several).  ``deep_stem``
    replaces the 7x7 stem conv by three 3x3 conv-BN-ReLU (``stem.{0,1,2}``), ``avg_down`` puts a 2x2
    average pool before the strided shortcut conv, ``drop_path_rate`` is every block's drop-path rate.
    """

    arch_settings: dict[int, tuple[type, tuple[int, ...]]] = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }
    head_layers = ("fc",)
    #: kernel size and stride of the single stem conv, and whether a 3x3 max-pool follows the stem
    stem_kernel, stem_stride, stem_pool = 7, 2, True

    def __init__(self, depth: int, in_channels: int = 3, stem_channels: int = 64, base_channels: int = 64,
                 expansion: int | None = None, num_stages: int = 4, strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1), out_indices: Any = (3,), style: str = "pytorch",
                 deep_stem: bool = False, avg_down: bool = False, frozen_stages: int = -1, conv_cfg=None,
                 norm_cfg: Mapping[str, Any] | None = None, norm_eval: bool = False, with_cp: bool = False,
                 zero_init_residual: bool = True, init_cfg: Any = None, drop_path_rate: float = 0.0):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise BuildError(f"{self._name}: invalid depth {depth!r}; use one of "
                             f"{', '.join(map(str, self.arch_settings))}")
        block, blocks_per_stage = self.arch_settings[depth]
        if not 1 <= num_stages <= 4:
            raise BuildError(f"{self._name}: num_stages must be 1..4, got {num_stages!r}")
        self.depth = depth
        self.base_channels = base_channels
        self.expansion = block_expansion(block, expansion)
        self._configure(in_channels, stem_channels, strides, dilations, style, deep_stem, avg_down, conv_cfg,
                        norm_cfg, with_cp, drop_path_rate, num_stages)
        widths = [base_channels * self.expansion * 2 ** i for i in range(num_stages)]
        self._make_stages(block, blocks_per_stage[:num_stages], widths)
        self._finish(out_indices, zero_init_residual)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # -- plain checkpoints: the keys are torchvision's and timm's already (``plain_key_to_own`` is the identity)
    @property
    def plain_formats(self) -> tuple[str, ...]:
        """torchvision's and timm's ResNet / ResNeXt, for the layout they have: a 7x7 stem with max-pool, plain
        blocks, pytorch style, four stages of strides 1, 2, 2, 2 without dilation."""
        standard = ((self.stem_kernel, self.stem_stride, self.stem_pool) == (7, 2, True) and not self.deep_stem
                    and not self.avg_down and self.style == "pytorch" and self.strides == [1, 2, 2, 2]
                    and self.dilations == [1, 1, 1, 1]
                    and all(type(m) in (BasicBlock, Bottleneck)
                            for m in self.modules() if isinstance(m, _ResidualBlock)))
        return ("torchvision", "timm") if standard else ()

    def own_key_to_plain(self, key: str) -> str:
        return key

    # -- construction --------------------------------------------------------------------------
    def _configure(self, in_channels, stem_channels, strides, dilations, style, deep_stem, avg_down, conv_cfg,
                   norm_cfg, with_cp, drop_path_rate, num_stages) -> None:
        """Check and keep the options every stage uses, and build the stem."""
        name = self._name
        if len(strides) != num_stages or len(dilations) != num_stages:
            raise BuildError(f"{name}: strides={strides!r} and dilations={dilations!r} need {num_stages} entries "
                             "(one per stage)")
        require_value(name, "style", style, "pytorch", "caffe")
        require_value(name, "conv_cfg", conv_cfg, None, {"type": "Conv"}, {"type": "Conv2d"})
        self.norm_cfg = norm_type(name, norm_cfg, "BN", "SyncBN") or dict(_DEFAULT_NORM)
        self.strides, self.dilations = list(strides), list(dilations)
        self.style, self.deep_stem, self.avg_down = style, bool(deep_stem), bool(avg_down)
        self.with_cp, self.drop_path_rate = bool(with_cp), float(drop_path_rate)
        self.stem_channels = stem_channels
        self._make_stem(in_channels, stem_channels)

    def _make_stem(self, in_channels: int, stem_channels: int) -> None:
        if self.deep_stem:
            half = stem_channels // 2
            self.stem = nn.Sequential(
                conv_module(in_channels, half, 3, stride=2, padding=1, norm_cfg=self.norm_cfg),
                conv_module(half, half, 3, padding=1, norm_cfg=self.norm_cfg),
                conv_module(half, stem_channels, 3, padding=1, norm_cfg=self.norm_cfg))
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_channels, self.stem_kernel, stride=self.stem_stride,
                                   padding=self.stem_kernel // 2, bias=False)
            self.bn1 = build_norm2d(self.norm_cfg, stem_channels)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if self.stem_pool else nn.Identity()

    def _make_stages(self, block: type, blocks_per_stage: Sequence[int], widths: Sequence[int],
                     stage_kwargs: Sequence[Mapping[str, Any]] | None = None) -> None:
        self.res_layers: list[str] = []
        in_channels = self.stem_channels
        for index, (count, width) in enumerate(zip(blocks_per_stage, widths)):
            extra = dict(stage_kwargs[index]) if stage_kwargs else {}
            layer = self._make_layer(block, count, in_channels, width, self.strides[index], self.dilations[index],
                                     extra)
            name = f"layer{index + 1}"
            self.add_module(name, layer)
            self.res_layers.append(name)
            in_channels = width
        self.stage_channels = list(widths)

    def _make_layer(self, block: type, count: int, in_channels: int, out_channels: int, stride: int,
                    dilation: int, extra: dict) -> nn.Sequential:
        common = dict(expansion=extra.pop("expansion", self.expansion), dilation=dilation, style=self.style,
                      with_cp=self.with_cp, norm_cfg=self.norm_cfg, drop_path_rate=self.drop_path_rate,
                      **self.block_kwargs(), **extra)
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = self._make_downsample(in_channels, out_channels, stride)
        blocks = [self._make_block(block, 0, in_channels=in_channels, out_channels=out_channels, stride=stride,
                                   downsample=downsample, **common)]
        blocks += [self._make_block(block, i, in_channels=out_channels, out_channels=out_channels, stride=1,
                                    **common) for i in range(1, count)]
        return nn.Sequential(*blocks)

    def block_kwargs(self) -> dict:
        """Arguments every block of this backbone gets besides the common ones (variants add theirs)."""
        return {}

    def _make_block(self, block: type, index: int, **kwargs: Any) -> nn.Module:
        return block(**kwargs)

    def _make_downsample(self, in_channels: int, out_channels: int, stride: int,
                         pool_always: bool = False) -> nn.Sequential:
        """1x1 conv + norm on the shortcut; with ``avg_down`` an average pool takes the stride."""
        layers: list[nn.Module] = []
        conv_stride = stride
        if self.avg_down and (stride != 1 or pool_always):
            layers.append(nn.AvgPool2d(stride, stride=stride, ceil_mode=True, count_include_pad=False))
            conv_stride = 1
        layers += [conv1x1(in_channels, out_channels, conv_stride), build_norm2d(self.norm_cfg, out_channels)]
        return nn.Sequential(*layers)

    def _finish(self, out_indices: Any, zero_init_residual: bool) -> None:
        self.out_indices = resolve_out_indices(self._name, out_indices, len(self.res_layers))
        self.feature_dim = self.stage_channels[self.out_indices[-1]]
        self.zero_init_residual = bool(zero_init_residual)
        self._init_weights()
        self._check_frozen_stages(self._name)

    def _init_weights(self) -> None:
        """mmcls's default init: Kaiming convs, unit norms, the last norm of each block zeroed
        (``zero_init_residual``)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if self.zero_init_residual:
            for module in self.modules():
                if isinstance(module, _ResidualBlock):
                    nn.init.zeros_(module.last_norm().weight)

    # -- running -------------------------------------------------------------------------------
    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.bn1(self.conv1(x)))
        return self.maxpool(x)

    def forward(self, x: torch.Tensor):
        x = self.forward_stem(x)
        outs = []
        for index, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if index in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def stem_modules(self) -> list[nn.Module]:
        return [self.stem] if self.deep_stem else [self.conv1, self.bn1]

    def stage_modules(self) -> list[list[nn.Module]]:
        return [self.stem_modules()] + [[getattr(self, name)] for name in self.res_layers]


@BACKBONES.register()
class ResNet_CIFAR(ResNet):  # noqa: N801 - mmcls spelling
    """mmcls ``ResNet_CIFAR``: a 3x3 stride-1 stem conv and no max-pool (32x32 inputs)."""

    stem_kernel, stem_stride, stem_pool = 3, 1, False

    def __init__(self, depth: int, deep_stem: bool = False, **kwargs: Any):
        if deep_stem:
            raise BuildError("ResNet_CIFAR: deep_stem=True is not supported (mmcls's has a 3x3 stem conv)")
        super().__init__(depth, **kwargs)


@BACKBONES.register()
class ResNeXt(ResNet):
    """mmcls ``ResNeXt(depth=50|101|152, groups=32, width_per_group=4, ...)``: grouped 3x3 convs."""

    arch_settings = {depth: setting for depth, setting in ResNet.arch_settings.items() if depth >= 50}

    def __init__(self, depth: int, groups: int = 32, width_per_group: int = 4, **kwargs: Any):
        self.groups, self.width_per_group = groups, width_per_group
        super().__init__(depth, **kwargs)

    def block_kwargs(self) -> dict:
        return dict(groups=self.groups, width_per_group=self.width_per_group, base_channels=self.base_channels)


class _FixedStemResNet(ResNet):
    """A ResNet whose ``deep_stem``/``avg_down`` the variant fixes."""

    fixed: dict[str, bool] = {}

    def __init__(self, depth: int, **kwargs: Any):
        given = sorted(set(kwargs) & set(self.fixed))
        if given:
            raise BuildError(f"{type(self).__name__} sets {', '.join(given)} itself; do not pass "
                             f"{' or '.join(given)}")
        super().__init__(depth, **self.fixed, **kwargs)


@BACKBONES.register()
class ResNetV1c(_FixedStemResNet):
    """mmcls ``ResNetV1c``: ResNet with the deep (three 3x3 convs) stem."""

    fixed = {"deep_stem": True, "avg_down": False}


@BACKBONES.register()
class ResNetV1d(_FixedStemResNet):
    """mmcls ``ResNetV1d``: ResNet with the deep stem and average-pool shortcuts (``avg_down``)."""

    fixed = {"deep_stem": True, "avg_down": True}
