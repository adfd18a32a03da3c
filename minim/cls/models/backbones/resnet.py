"""mmcls 0.x ResNet, ResNet_CIFAR and ResNeXt on torchvision's ResNet (same state-dict keys)."""

from __future__ import annotations

from typing import Any

from torch import nn

from minim.cls.models.backbones._checks import freeze_norm_params, norm_type, require_single_out_index, require_value
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone, build_torchvision_model
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_RESNET_LAYERS = {18: "resnet18", 34: "resnet34", 50: "resnet50", 101: "resnet101", 152: "resnet152"}
_BOTTLENECK_LAYERS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


class _ResNetLike(TorchvisionModelBackbone):
    """Argument checks and stage freezing shared by ResNet, ResNet_CIFAR and ResNeXt."""

    type_name = "ResNet"

    def _check_resnet_args(self, *, in_channels, stem_channels, base_channels, expansion, num_stages, strides,
                           dilations, out_indices, style, deep_stem, avg_down, conv_cfg, norm_cfg, with_cp,
                           drop_path_rate, default_strides=(1, 2, 2, 2)) -> dict:
        name = self.type_name
        require_value(name, "in_channels", in_channels, 3)
        require_value(name, "stem_channels", stem_channels, 64)
        require_value(name, "base_channels", base_channels, 64)
        require_value(name, "expansion", expansion, None)
        require_value(name, "num_stages", num_stages, 4)
        require_value(name, "strides", strides, default_strides)
        require_value(name, "dilations", dilations, (1, 1, 1, 1))
        require_single_out_index(name, out_indices, 3)
        require_value(name, "style", style, "pytorch")
        require_value(name, "deep_stem", deep_stem, False)
        require_value(name, "avg_down", avg_down, False)
        require_value(name, "conv_cfg", conv_cfg, None, {"type": "Conv"}, {"type": "Conv2d"})
        require_value(name, "with_cp", with_cp, False)
        require_value(name, "drop_path_rate", drop_path_rate, 0.0, 0)
        return norm_type(name, norm_cfg, "BN", "SyncBN")

    def _finish(self, model: nn.Module, arch: str, norm_cfg: dict) -> None:
        if norm_cfg.get("requires_grad", True) is False:
            freeze_norm_params(model)
        self._setup(model, arch, final_path="fc")
        self._check_frozen_stages(self.type_name)

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[self.conv1, self.bn1], [self.layer1], [self.layer2], [self.layer3], [self.layer4]]


def _resnet_arch(name: str, depth: int, base_channels: int, expansion: int | None) -> str:
    """torchvision's ResNet for mmcls's ``depth``/``base_channels``/``expansion``: ``resnet{depth}``, or
    ``wide_resnet{50,101}_2`` for mmcls's wide ResNets (``base_channels=128, expansion=2``)."""
    if depth not in _RESNET_LAYERS:
        raise BuildError(f"{name}: invalid depth {depth!r}; torchvision has depths {', '.join(map(str, _RESNET_LAYERS))}")
    default_expansion = 1 if depth in (18, 34) else 4
    if base_channels == 64 and expansion in (None, default_expansion):
        return _RESNET_LAYERS[depth]
    if base_channels == 128 and expansion == 2 and depth in (50, 101):
        return f"wide_resnet{depth}_2"
    shown = expansion if expansion is not None else default_expansion
    raise BuildError(f"{name}: base_channels={base_channels!r} with expansion={shown!r} is not supported "
                     f"(torchvision has base_channels=64 with expansion={default_expansion}, and the wide ResNets "
                     "50 and 101: base_channels=128, expansion=2)")


@BACKBONES.register()
class ResNet(_ResNetLike):
    """mmcls ``ResNet(depth=18|34|50|101|152, style='pytorch')`` = torchvision's ``resnet{depth}``;
    with ``base_channels=128, expansion=2`` (mmcls's wide ResNets) ``wide_resnet{50,101}_2``."""

    type_name = "ResNet"

    def __init__(self, depth: int, in_channels: int = 3, stem_channels: int = 64, base_channels: int = 64,
                 expansion: int | None = None, num_stages: int = 4, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                 out_indices=(3,), style: str = "pytorch", deep_stem: bool = False, avg_down: bool = False,
                 frozen_stages: int = -1, conv_cfg=None, norm_cfg=None, norm_eval: bool = False,
                 with_cp: bool = False, zero_init_residual: bool = True, init_cfg=None, drop_path_rate: float = 0.0):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        arch = _resnet_arch(self.type_name, depth, base_channels, expansion)
        norm = self._check_resnet_args(
            in_channels=in_channels, stem_channels=stem_channels, base_channels=64, expansion=None,
            num_stages=num_stages, strides=strides, dilations=dilations, out_indices=out_indices, style=style,
            deep_stem=deep_stem, avg_down=avg_down, conv_cfg=conv_cfg, norm_cfg=norm_cfg, with_cp=with_cp,
            drop_path_rate=drop_path_rate)
        self.depth = depth
        model = build_torchvision_model(arch, self.type_name, zero_init_residual=zero_init_residual)
        self._adapt(model)
        self._finish(model, arch, norm)

    def _adapt(self, model: nn.Module) -> None:
        """Hook for variants that change torchvision's stem."""


@BACKBONES.register()
class ResNet_CIFAR(ResNet):  # noqa: N801 - mmcls spelling
    """mmcls ``ResNet_CIFAR``: torchvision's ResNet with a 3x3 stride-1 stem conv and no max-pool."""

    type_name = "ResNet_CIFAR"

    def _adapt(self, model: nn.Module) -> None:
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
        model.maxpool = nn.Identity()


@BACKBONES.register()
class ResNeXt(_ResNetLike):
    """mmcls ``ResNeXt(depth=50|101|152, groups, width_per_group)`` = torchvision's ResNeXt."""

    type_name = "ResNeXt"

    def __init__(self, depth: int, groups: int = 32, width_per_group: int = 4, in_channels: int = 3,
                 stem_channels: int = 64, base_channels: int = 64, expansion: int | None = None,
                 num_stages: int = 4, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1), out_indices=(3,),
                 style: str = "pytorch", deep_stem: bool = False, avg_down: bool = False, frozen_stages: int = -1,
                 conv_cfg=None, norm_cfg=None, norm_eval: bool = False, with_cp: bool = False,
                 zero_init_residual: bool = True, init_cfg=None, drop_path_rate: float = 0.0):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        if depth not in _BOTTLENECK_LAYERS:
            raise BuildError(f"ResNeXt: invalid depth {depth!r}; use 50, 101 or 152")
        norm = self._check_resnet_args(
            in_channels=in_channels, stem_channels=stem_channels, base_channels=base_channels, expansion=expansion,
            num_stages=num_stages, strides=strides, dilations=dilations, out_indices=out_indices, style=style,
            deep_stem=deep_stem, avg_down=avg_down, conv_cfg=conv_cfg, norm_cfg=norm_cfg, with_cp=with_cp,
            drop_path_rate=drop_path_rate)
        from torchvision.models.resnet import Bottleneck
        from torchvision.models.resnet import ResNet as TorchvisionResNet

        model = TorchvisionResNet(Bottleneck, _BOTTLENECK_LAYERS[depth], groups=groups,
                                  width_per_group=width_per_group, zero_init_residual=zero_init_residual)
        self.depth = depth
        self._finish(model, f"resnext{depth}_{groups}x{width_per_group}d", norm)


def _unsupported(name: str, reason: str):
    def builder(**kwargs: Any):
        raise BuildError(f"backbone {name!r} is not supported: {reason}")

    builder.__name__ = name
    return builder


BACKBONES.register("ResNetV1c")(_unsupported(
    "ResNetV1c", "its deep stem has no torchvision counterpart; use ResNet (style='pytorch', torchvision's layout) "
    "or TIMMBackbone(model_name='resnet50c')"))
BACKBONES.register("ResNetV1d")(_unsupported(
    "ResNetV1d", "its deep stem and average-pool shortcut have no torchvision counterpart; use ResNet "
    "(style='pytorch') or TIMMBackbone(model_name='resnet50d')"))
