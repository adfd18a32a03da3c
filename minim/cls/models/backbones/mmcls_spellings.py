"""mmcls 0.x backbone spellings built on torchvision's architectures.

``ResNet(depth=50)``, ``MobileNetV2()``, ``VGG(depth=16, num_classes=1000)``, ... build the
torchvision model of the same architecture.  Each class takes the arguments mmcls 0.x
takes; an argument whose value torchvision's architecture cannot honour raises a
``BuildError`` naming it.  Architectures that torchvision does not have (ResNetV1c/V1d,
mmcls's TF-padded EfficientNet, ...) raise a ``BuildError`` saying what is supported.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from torch import nn

from minim.cls.models.backbones.base import set_stochastic_depth
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone, build_torchvision_model
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError
from minim.suggest import did_you_mean


def _normalise(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _require(type_name: str, name: str, value: Any, *allowed: Any) -> None:
    """Raise a BuildError unless ``value`` equals one of ``allowed`` (lists and tuples compare equal)."""
    if any(_normalise(value) == _normalise(option) for option in allowed):
        return
    shown = " or ".join(repr(option) for option in allowed)
    raise BuildError(f"{type_name}: {name}={value!r} is not supported (minim builds {type_name} on torchvision's "
                     f"architecture, which only has {name}={shown})")


def _norm_type(type_name: str, norm_cfg: Mapping[str, Any] | None, *allowed: str) -> dict:
    if norm_cfg is None:
        return {}
    if not isinstance(norm_cfg, Mapping) or norm_cfg.get("type") not in allowed:
        raise BuildError(f"{type_name}: norm_cfg={norm_cfg!r} is not supported; use type "
                         + " or ".join(repr(a) for a in allowed))
    return dict(norm_cfg)


def _freeze_norm_params(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            for param in module.parameters():
                param.requires_grad = False


def _single_out_index(type_name: str, out_indices: Any, last: int) -> None:
    _require(type_name, "out_indices", out_indices, (last,), last, (-1,), -1)


# ----------------------------------------------------------------------------- ResNet family
_RESNET_LAYERS = {18: "resnet18", 34: "resnet34", 50: "resnet50", 101: "resnet101", 152: "resnet152"}
_BOTTLENECK_LAYERS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


class _ResNetLike(TorchvisionModelBackbone):
    """Argument checks and stage freezing shared by ResNet, ResNet_CIFAR and ResNeXt."""

    type_name = "ResNet"

    def _check_resnet_args(self, *, in_channels, stem_channels, base_channels, expansion, num_stages, strides,
                           dilations, out_indices, style, deep_stem, avg_down, conv_cfg, norm_cfg, with_cp,
                           drop_path_rate, default_strides=(1, 2, 2, 2)) -> dict:
        name = self.type_name
        _require(name, "in_channels", in_channels, 3)
        _require(name, "stem_channels", stem_channels, 64)
        _require(name, "base_channels", base_channels, 64)
        _require(name, "expansion", expansion, None)
        _require(name, "num_stages", num_stages, 4)
        _require(name, "strides", strides, default_strides)
        _require(name, "dilations", dilations, (1, 1, 1, 1))
        _single_out_index(name, out_indices, 3)
        _require(name, "style", style, "pytorch")
        _require(name, "deep_stem", deep_stem, False)
        _require(name, "avg_down", avg_down, False)
        _require(name, "conv_cfg", conv_cfg, None, {"type": "Conv"}, {"type": "Conv2d"})
        _require(name, "with_cp", with_cp, False)
        _require(name, "drop_path_rate", drop_path_rate, 0.0, 0)
        return _norm_type(name, norm_cfg, "BN", "SyncBN")

    def _finish(self, model: nn.Module, arch: str, norm_cfg: dict) -> None:
        if norm_cfg.get("requires_grad", True) is False:
            _freeze_norm_params(model)
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
BACKBONES.register("EfficientNet")(_unsupported(
    "EfficientNet", "mmcls's EfficientNet uses TF-style adaptive padding and BN eps=1e-3, which torchvision's "
    "EfficientNet does not; use TorchvisionBackbone(arch='efficientnet_b0') ... 'efficientnet_b7'"))


# ----------------------------------------------------------------------------- MobileNetV2
# First torchvision ``features`` index of mmcls's layer1..layer7 (block counts 1,2,3,4,3,3,1).
_MOBILENET_V2_STAGE_STARTS = (1, 2, 4, 7, 11, 14, 17, 18)


def mmcls_mobilenet_v2_key_to_torchvision(key: str) -> str:
    """Map an mmcls MobileNetV2 backbone key (``conv1.conv.weight``, ``layer2.1.conv.0.bn.weight``)
    onto torchvision's ``features.*`` layout; keys already in that layout are returned unchanged."""
    parts = key.split(".")
    if parts[0] in ("conv1", "conv2") and len(parts) >= 3 and parts[1] in ("conv", "bn"):
        index = 0 if parts[0] == "conv1" else 18
        sub = "0" if parts[1] == "conv" else "1"
        return ".".join(["features", str(index), sub] + parts[2:])
    if parts[0].startswith("layer") and parts[0][5:].isdigit() and len(parts) >= 5 and parts[2] == "conv":
        stage = int(parts[0][5:])
        if not 1 <= stage <= 7:
            return key
        block = _MOBILENET_V2_STAGE_STARTS[stage - 1] + int(parts[1])
        conv_index, kind, rest = int(parts[3]), parts[4], parts[5:]
        expand_one = stage == 1
        last = 1 if expand_one else 2
        if conv_index < last:
            inner = [str(conv_index), "0" if kind == "conv" else "1"]
        else:
            inner = [str(last if kind == "conv" else last + 1)]
        return ".".join(["features", str(block), "conv"] + inner + rest)
    return key


@BACKBONES.register()
class MobileNetV2(TorchvisionModelBackbone):
    """mmcls ``MobileNetV2(widen_factor)`` = torchvision's ``mobilenet_v2(width_mult=widen_factor)``.

    Accepts mmcls checkpoints (``backbone.conv1.conv``, ``backbone.layer{s}.{j}.conv.*``,
    ``backbone.conv2``), mapped losslessly onto torchvision's ``features.*`` keys.
    """

    def __init__(self, widen_factor: float = 1.0, out_indices=(7,), frozen_stages: int = -1, conv_cfg=None,
                 norm_cfg=None, act_cfg=None, norm_eval: bool = False, with_cp: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = "MobileNetV2"
        _single_out_index(name, out_indices, 7)
        _require(name, "conv_cfg", conv_cfg, None)
        _require(name, "act_cfg", act_cfg, None, {"type": "ReLU6"})
        _require(name, "with_cp", with_cp, False)
        norm = _norm_type(name, norm_cfg, "BN", "SyncBN")
        model = build_torchvision_model("mobilenet_v2", name, width_mult=float(widen_factor))
        model.classifier[0] = nn.Identity()  # torchvision's Dropout(0.2) before its classifier; mmcls's has none
        if norm.get("requires_grad", True) is False:
            _freeze_norm_params(model)
        self.widen_factor = widen_factor
        self._setup(model, "mobilenet_v2", final_path="classifier.1")
        self._check_frozen_stages(name)

    def classifier_key_to_own(self, key: str) -> str:
        return mmcls_mobilenet_v2_key_to_torchvision(key)

    def plain_key_to_own(self, key: str) -> str | None:
        return mmcls_mobilenet_v2_key_to_torchvision(key)

    def stage_modules(self) -> list[list[nn.Module]]:
        starts = (0,) + _MOBILENET_V2_STAGE_STARTS
        return [[self.features[i] for i in range(a, b)] for a, b in zip(starts[:-1], starts[1:])]


# ----------------------------------------------------------------------------- MobileNetV3
@BACKBONES.register()
class MobileNetV3(TorchvisionModelBackbone):
    """mmcls ``MobileNetV3(arch='small'|'large')`` = torchvision's ``mobilenet_v3_{arch}`` trunk.

    The backbone ends with the pooled 576/960-channel features; torchvision's two-layer
    classifier maps onto a ``StackedLinearClsHead(mid_channels=[1024|1280])`` (mmcls's head).
    """

    def __init__(self, arch: str = "small", conv_cfg=None, norm_cfg=None, out_indices=None, frozen_stages: int = -1,
                 norm_eval: bool = False, with_cp: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = "MobileNetV3"
        if arch not in ("small", "large"):
            raise BuildError(f"MobileNetV3: arch={arch!r} is not supported; torchvision has 'small' and 'large'")
        last = 12 if arch == "small" else 16
        if out_indices is not None:
            _single_out_index(name, out_indices, last)
        _require(name, "conv_cfg", conv_cfg, None)
        _require(name, "norm_cfg", norm_cfg, None, {"type": "BN", "eps": 0.001, "momentum": 0.01})
        _require(name, "with_cp", with_cp, False)
        _require(name, "frozen_stages", frozen_stages, -1)
        arch_name = f"mobilenet_v3_{arch}"
        model = build_torchvision_model(arch_name, name)
        self.arch = arch_name
        self.final_layer = "classifier"
        self.feature_dim = model.classifier[0].in_features
        self.head_layers = ("classifier.0", "classifier.3")
        self._dropped_prefixes = ()
        model.classifier = nn.Identity()
        self._adopt(model)


# ----------------------------------------------------------------------------- VGG
@BACKBONES.register()
class VGG(TorchvisionModelBackbone):
    """mmcls ``VGG(depth=11|13|16|19, norm_cfg=None|BN, num_classes)`` = torchvision's ``vgg{depth}[_bn]``.

    With ``num_classes > 0`` the backbone keeps torchvision's classifier and outputs logits
    (pair with ``ClsHead``, as mmcls does); otherwise it outputs the last feature map.
    """

    def __init__(self, depth: int, num_classes: int = -1, num_stages: int = 5, dilations=(1, 1, 1, 1, 1),
                 out_indices=None, frozen_stages: int = -1, conv_cfg=None, norm_cfg=None, act_cfg=None,
                 norm_eval: bool = False, ceil_mode: bool = False, with_last_pool: bool = True, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = "VGG"
        if depth not in (11, 13, 16, 19):
            raise BuildError(f"VGG: invalid depth {depth!r}; use 11, 13, 16 or 19")
        _require(name, "num_stages", num_stages, 5)
        _require(name, "dilations", dilations, (1, 1, 1, 1, 1))
        _require(name, "conv_cfg", conv_cfg, None)
        _require(name, "act_cfg", act_cfg, None, {"type": "ReLU"})
        _require(name, "ceil_mode", ceil_mode, False)
        _require(name, "with_last_pool", with_last_pool, True)
        _require(name, "frozen_stages", frozen_stages, -1)
        include_top = num_classes is not None and num_classes > 0
        if out_indices is not None:
            _single_out_index(name, out_indices, 6 if include_top else 4)
        norm = _norm_type(name, norm_cfg, "BN", "SyncBN")
        arch = f"vgg{depth}_bn" if norm else f"vgg{depth}"
        kwargs = {"num_classes": num_classes} if include_top else {}
        model = build_torchvision_model(arch, name, **kwargs)
        self.include_top = include_top
        if include_top:
            self._setup(model, arch, include_top=True, final_path="classifier.6")
        else:
            model.classifier = nn.Identity()
            self._setup_features_only(model, arch)

    def _setup_features_only(self, model: nn.Module, arch: str) -> None:
        self.arch = arch
        self.final_layer = "classifier"
        self.feature_dim = 512
        self.head_layers = ()
        self._dropped_prefixes = ()
        self._adopt(model)

    def forward(self, x):
        if self.include_top:
            return super().forward(x)
        return self.features(x)


# ----------------------------------------------------------------------------- ShuffleNetV2
_SHUFFLENET_WIDTHS = {0.5: "shufflenet_v2_x0_5", 1.0: "shufflenet_v2_x1_0", 1.5: "shufflenet_v2_x1_5",
                      2.0: "shufflenet_v2_x2_0"}


@BACKBONES.register()
class ShuffleNetV2(TorchvisionModelBackbone):
    """mmcls ``ShuffleNetV2(widen_factor=0.5|1.0|1.5|2.0)`` = torchvision's ``shufflenet_v2_x*``."""

    def __init__(self, widen_factor: float = 1.0, out_indices=(3,), frozen_stages: int = -1, conv_cfg=None,
                 norm_cfg=None, act_cfg=None, norm_eval: bool = False, with_cp: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = "ShuffleNetV2"
        if widen_factor not in _SHUFFLENET_WIDTHS:
            raise BuildError(f"ShuffleNetV2: widen_factor={widen_factor!r} is not supported; use 0.5, 1.0, 1.5 or 2.0")
        _single_out_index(name, out_indices, 3)
        _require(name, "conv_cfg", conv_cfg, None)
        _require(name, "act_cfg", act_cfg, None, {"type": "ReLU"})
        _require(name, "with_cp", with_cp, False)
        _norm_type(name, norm_cfg, "BN", "SyncBN")
        arch = _SHUFFLENET_WIDTHS[widen_factor]
        self._setup(build_torchvision_model(arch, name), arch, final_path="fc")
        self._check_frozen_stages(name)

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[self.conv1], [self.stage2], [self.stage3], [self.stage4]]


# ----------------------------------------------------------------------------- RegNet
#: pycls's RegNetX design parameters, under mmcls 0.x's arch names (Radosavovic et al., 2020)
_PYCLS_REGNETX = {
    "regnetx_400mf": dict(w0=24, wa=24.48, wm=2.54, group_w=16, depth=22),
    "regnetx_800mf": dict(w0=56, wa=35.73, wm=2.28, group_w=16, depth=16),
    "regnetx_1.6gf": dict(w0=80, wa=34.01, wm=2.25, group_w=24, depth=18),
    "regnetx_3.2gf": dict(w0=88, wa=26.31, wm=2.25, group_w=48, depth=25),
    "regnetx_4.0gf": dict(w0=96, wa=38.65, wm=2.43, group_w=40, depth=23),
    "regnetx_6.4gf": dict(w0=184, wa=60.83, wm=2.07, group_w=56, depth=17),
    "regnetx_8.0gf": dict(w0=80, wa=49.56, wm=2.88, group_w=120, depth=23),
    "regnetx_12gf": dict(w0=168, wa=73.36, wm=2.37, group_w=112, depth=19),
}


def _nearest_multiple(value: float, step: int) -> int:
    return int(round(value / step) * step)


def regnet_stages(w0: int, wa: float, wm: float, group_w: int, depth: int, bot_mul: float = 1.0
                  ) -> tuple[list[int], list[int], list[int]]:
    """``(depths, widths, group_widths)`` per stage of a RegNet, by pycls's (and mmcls's) rule.

    Block ``j`` gets the width ``w0 + wa * j`` snapped to ``w0 * wm ** k`` (``k`` rounded) and to a
    multiple of 8; runs of equal widths are stages; each stage's bottleneck width is then rounded
    to a multiple of its group width. (torchvision's generator rounds differently, which is why its
    ``regnet_x_400mf`` ends at 400 channels where pycls's and mmcls's end at 384.)
    """
    if not (w0 > 0 and w0 % 8 == 0 and wa >= 0 and wm > 1 and depth > 0 and group_w > 0 and bot_mul > 0):
        raise BuildError(f"RegNet arch needs w0 > 0 divisible by 8, wa >= 0, wm > 1, depth > 0, group_w > 0; got "
                         f"w0={w0}, wa={wa}, wm={wm}, depth={depth}, group_w={group_w}")
    depths: list[int] = []
    widths: list[int] = []
    for block in range(depth):
        exponent = round(math.log((w0 + wa * block) / w0) / math.log(wm))
        width = _nearest_multiple(w0 * wm ** exponent, 8)
        if widths and widths[-1] == width:
            depths[-1] += 1
        else:
            widths.append(width)
            depths.append(1)
    groups = [min(group_w, int(w * bot_mul)) for w in widths]
    widths = [int(_nearest_multiple(int(w * bot_mul), g) / bot_mul) for w, g in zip(widths, groups)]
    return depths, widths, groups


@BACKBONES.register()
class RegNet(TorchvisionModelBackbone):
    """mmcls ``RegNet(arch='regnetx_400mf'|...|'regnetx_12gf' or dict(w0, wa, wm, group_w, depth, bot_mul))``.

    torchvision's RegNet implementation with pycls's stage widths, so every mmcls RegNetX config
    builds with its own ``head.in_channels`` (torchvision's ``regnet_x_*`` weights load through
    ``TorchvisionBackbone``; the index uses that).
    """

    def __init__(self, arch: Any, in_channels: int = 3, stem_channels: int = 32, base_channels: int = 32,
                 strides=(2, 2, 2, 2), dilations=(1, 1, 1, 1), out_indices=(3,), style: str = "pytorch",
                 deep_stem: bool = False, avg_down: bool = False, frozen_stages: int = -1, conv_cfg=None,
                 norm_cfg=None, norm_eval: bool = False, with_cp: bool = False, zero_init_residual: bool = True,
                 init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        from torchvision.models.regnet import BlockParams
        from torchvision.models.regnet import RegNet as TorchvisionRegNet

        name = "RegNet"
        if isinstance(arch, str):
            if arch not in _PYCLS_REGNETX:
                raise BuildError(f"RegNet: unknown arch {arch!r}; known: {', '.join(_PYCLS_REGNETX)} or "
                                 "dict(w0=..., wa=..., wm=..., group_w=..., depth=...)",
                                 hint=did_you_mean(arch, list(_PYCLS_REGNETX)))
            label, params = arch, dict(_PYCLS_REGNETX[arch])
        elif isinstance(arch, Mapping):
            unknown = set(arch) - {"w0", "wa", "wm", "group_w", "depth", "bot_mul"}
            missing = {"w0", "wa", "wm", "group_w", "depth"} - set(arch)
            if unknown or missing:
                problem = f"unknown {', '.join(sorted(unknown))}" if unknown else f"missing {', '.join(sorted(missing))}"
                raise BuildError(f"RegNet arch dict needs w0, wa, wm, group_w, depth (and optionally bot_mul); "
                                 f"{problem}")
            label, params = "regnet", dict(arch)
        else:
            raise BuildError(f"RegNet arch must be a name or a dict, got {arch!r}")
        for arg, value, default in (("in_channels", in_channels, 3), ("stem_channels", stem_channels, 32),
                                    ("base_channels", base_channels, 32), ("strides", strides, (2, 2, 2, 2)),
                                    ("dilations", dilations, (1, 1, 1, 1)), ("style", style, "pytorch"),
                                    ("deep_stem", deep_stem, False), ("avg_down", avg_down, False),
                                    ("conv_cfg", conv_cfg, None), ("with_cp", with_cp, False)):
            _require(name, arg, value, default)
        _single_out_index(name, out_indices, 3)
        _norm_type(name, norm_cfg, "BN", "SyncBN")
        bot_mul = float(params.pop("bot_mul", 1.0))
        depths, widths, groups = regnet_stages(bot_mul=bot_mul, **params)
        if len(depths) != 4:
            raise BuildError(f"RegNet arch {arch!r} gives {len(depths)} stages; mmcls's RegNet has 4")
        block_params = BlockParams(depths=depths, widths=widths, group_widths=groups,
                                   bottleneck_multipliers=[bot_mul] * 4, strides=[2] * 4)
        self._setup(TorchvisionRegNet(block_params), label, final_path="fc")
        self._check_frozen_stages(name)

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[self.stem]] + [[block] for block in self.trunk_output]


# ----------------------------------------------------------------------------- DenseNet
@BACKBONES.register()
class DenseNet(TorchvisionModelBackbone):
    """mmcls ``DenseNet(arch='121'|'161'|'169'|'201')`` = torchvision's ``densenet{arch}``."""

    def __init__(self, arch: str = "121", in_channels: int = 3, bn_size: int = 4, drop_rate: float = 0.0,
                 compression_factor: float = 0.5, memory_efficient: bool = False, norm_cfg=None, act_cfg=None,
                 out_indices=-1, frozen_stages: int = 0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = "DenseNet"
        arch = str(arch)
        if arch not in ("121", "161", "169", "201"):
            raise BuildError(f"DenseNet: arch={arch!r} is not supported; torchvision has '121', '161', '169', '201'")
        _require(name, "in_channels", in_channels, 3)
        _require(name, "bn_size", bn_size, 4)
        _require(name, "compression_factor", compression_factor, 0.5)
        _require(name, "act_cfg", act_cfg, None, {"type": "ReLU"})
        _require(name, "out_indices", out_indices, -1, (-1,), 3, (3,))
        _require(name, "frozen_stages", frozen_stages, 0, -1)
        _norm_type(name, norm_cfg, "BN", "SyncBN")
        tv_arch = f"densenet{arch}"
        model = build_torchvision_model(tv_arch, name, drop_rate=float(drop_rate),
                                        memory_efficient=bool(memory_efficient))
        self._setup(model, tv_arch, final_path="classifier")


# ----------------------------------------------------------------------------- ConvNeXt
_CONVNEXT = {"tiny": "convnext_tiny", "t": "convnext_tiny", "small": "convnext_small", "s": "convnext_small",
             "base": "convnext_base", "b": "convnext_base", "large": "convnext_large", "l": "convnext_large"}


@BACKBONES.register()
class ConvNeXt(TorchvisionModelBackbone):
    """mmcls ``ConvNeXt(arch='tiny'|'small'|'base'|'large')`` = torchvision's ``convnext_*``."""

    def __init__(self, arch: str = "tiny", in_channels: int = 3, stem_patch_size: int = 4, norm_cfg=None,
                 act_cfg=None, linear_pw_conv: bool = True, drop_path_rate: float = 0.0,
                 layer_scale_init_value: float = 1e-6, out_indices=-1, frozen_stages: int = 0,
                 gap_before_final_norm: bool = True, with_cp: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = "ConvNeXt"
        if arch not in _CONVNEXT:
            raise BuildError(f"ConvNeXt: arch={arch!r} is not supported; torchvision has 'tiny', 'small', 'base', "
                             "'large'")
        _require(name, "in_channels", in_channels, 3)
        _require(name, "stem_patch_size", stem_patch_size, 4)
        _require(name, "norm_cfg", norm_cfg, None, {"type": "LN2d", "eps": 1e-6})
        _require(name, "act_cfg", act_cfg, None, {"type": "GELU"})
        _require(name, "linear_pw_conv", linear_pw_conv, True)  # torchvision's blocks use nn.Linear
        _require(name, "layer_scale_init_value", layer_scale_init_value, 1e-6)
        _require(name, "out_indices", out_indices, -1, (-1,), 3, (3,))
        _require(name, "frozen_stages", frozen_stages, 0, -1)
        _require(name, "gap_before_final_norm", gap_before_final_norm, True)
        _require(name, "with_cp", with_cp, False)
        tv_arch = _CONVNEXT[arch]
        model = build_torchvision_model(tv_arch, name, stochastic_depth_prob=float(drop_path_rate))
        self._setup(model, tv_arch, final_path="classifier.2")


# ----------------------------------------------------------------------------- Swin
_SWIN = {"tiny": "swin_t", "t": "swin_t", "small": "swin_s", "s": "swin_s", "base": "swin_b", "b": "swin_b"}


@BACKBONES.register()
class SwinTransformer(TorchvisionModelBackbone):
    """mmcls ``SwinTransformer(arch='tiny'|'small'|'base')`` = torchvision's ``swin_t|s|b`` (window 7)."""

    def __init__(self, arch: str = "tiny", img_size: int = 224, patch_size: int = 4, in_channels: int = 3,
                 window_size: int = 7, drop_rate: float = 0.0, drop_path_rate: float = 0.1, out_indices=(3,),
                 out_after_downsample: bool = False, use_abs_pos_embed: bool = False,
                 interpolate_mode: str = "bicubic", with_cp: bool = False, frozen_stages: int = -1,
                 norm_eval: bool = False, pad_small_map: bool = False, norm_cfg=None, stage_cfgs=None,
                 patch_cfg=None, init_cfg=None):
        super().__init__(norm_eval=norm_eval, init_cfg=init_cfg)
        name = "SwinTransformer"
        if arch not in _SWIN:
            raise BuildError(f"SwinTransformer: arch={arch!r} is not supported; torchvision has 'tiny', 'small', "
                             "'base'")
        _require(name, "patch_size", patch_size, 4)
        _require(name, "in_channels", in_channels, 3)
        _require(name, "window_size", window_size, 7)
        _single_out_index(name, out_indices, 3)
        _require(name, "out_after_downsample", out_after_downsample, False)
        _require(name, "use_abs_pos_embed", use_abs_pos_embed, False)
        _require(name, "with_cp", with_cp, False)
        _require(name, "frozen_stages", frozen_stages, -1)
        _require(name, "norm_cfg", norm_cfg, None, {"type": "LN"})
        _require(name, "stage_cfgs", stage_cfgs, None, {})
        _require(name, "patch_cfg", patch_cfg, None, {})
        self.img_size = img_size
        tv_arch = _SWIN[arch]
        model = build_torchvision_model(tv_arch, name, dropout=float(drop_rate))
        set_stochastic_depth(model, float(drop_path_rate))
        self._setup(model, tv_arch, final_path="head")


# ----------------------------------------------------------------------------- ViT
_VIT = {  # num_layers, num_heads, hidden_dim, mlp_dim
    "b": (12, 12, 768, 3072), "base": (12, 12, 768, 3072),
    "l": (24, 16, 1024, 4096), "large": (24, 16, 1024, 4096),
    "h": (32, 16, 1280, 5120), "huge": (32, 16, 1280, 5120),
    "deit-t": (12, 3, 192, 768), "deit-tiny": (12, 3, 192, 768),
    "deit-s": (12, 6, 384, 1536), "deit-small": (12, 6, 384, 1536),
    "deit-b": (12, 12, 768, 3072), "deit-base": (12, 12, 768, 3072),
}
_VIT_LETTER = {"b": "b", "base": "b", "l": "l", "large": "l", "h": "h", "huge": "h"}


@BACKBONES.register()
class VisionTransformer(TorchvisionModelBackbone):
    """mmcls ``VisionTransformer(arch, img_size, patch_size)`` = torchvision's ``VisionTransformer``.

    ``arch='b', patch_size=16`` is torchvision's ``vit_b_16``; the backbone outputs the
    final-normed class token (pair with ``VisionTransformerClsHead`` or ``LinearClsHead``).
    """

    def __init__(self, arch: str = "base", img_size: int = 224, patch_size: int = 16, in_channels: int = 3,
                 out_indices=-1, drop_rate: float = 0.0, drop_path_rate: float = 0.0, qkv_bias: bool = True,
                 norm_cfg=None, final_norm: bool = True, with_cls_token: bool = True, output_cls_token: bool = True,
                 frozen_stages: int = -1, interpolate_mode: str = "bicubic", patch_cfg=None, layer_cfgs=None,
                 pre_norm: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = "VisionTransformer"
        if not isinstance(arch, str) or arch.lower() not in _VIT:
            raise BuildError(f"VisionTransformer: arch={arch!r} is not supported; use one of "
                             f"{', '.join(repr(a) for a in _VIT)}")
        _require(name, "in_channels", in_channels, 3)
        _require(name, "out_indices", out_indices, -1, (-1,))
        _require(name, "drop_path_rate", drop_path_rate, 0.0, 0)
        _require(name, "qkv_bias", qkv_bias, True)
        _require(name, "norm_cfg", norm_cfg, None, {"type": "LN", "eps": 1e-6})
        _require(name, "final_norm", final_norm, True)
        _require(name, "with_cls_token", with_cls_token, True)
        _require(name, "output_cls_token", output_cls_token, True)
        _require(name, "frozen_stages", frozen_stages, -1)
        _require(name, "patch_cfg", patch_cfg, None, {})
        _require(name, "layer_cfgs", layer_cfgs, None, {})
        _require(name, "pre_norm", pre_norm, False)
        if img_size % patch_size:
            raise BuildError(f"VisionTransformer: img_size={img_size} is not a multiple of patch_size={patch_size}")
        from torchvision.models.vision_transformer import VisionTransformer as TorchvisionViT

        layers, heads, hidden, mlp = _VIT[arch.lower()]
        model = TorchvisionViT(image_size=img_size, patch_size=patch_size, num_layers=layers, num_heads=heads,
                               hidden_dim=hidden, mlp_dim=mlp, dropout=float(drop_rate))
        self.img_size = img_size
        letter = _VIT_LETTER.get(arch.lower(), arch.lower())
        self._setup(model, f"vit_{letter}_{patch_size}", final_path="heads.head")
