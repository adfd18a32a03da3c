"""mmcls 0.x ``RegNet`` (pycls's RegNetX stage rule) on minim's ResNet, with mmcls's module names."""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.resnet import Bottleneck, ResNet
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError
from minim.suggest import did_you_mean

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


def _arch_params(arch: Any) -> tuple[str, dict]:
    if isinstance(arch, str):
        if arch not in _PYCLS_REGNETX:
            raise BuildError(f"RegNet: unknown arch {arch!r}; known: {', '.join(_PYCLS_REGNETX)} or "
                             "dict(w0=..., wa=..., wm=..., group_w=..., depth=...)",
                             hint=did_you_mean(arch, list(_PYCLS_REGNETX)))
        return arch, dict(_PYCLS_REGNETX[arch])
    if isinstance(arch, Mapping):
        unknown = set(arch) - {"w0", "wa", "wm", "group_w", "depth", "bot_mul"}
        missing = {"w0", "wa", "wm", "group_w", "depth"} - set(arch)
        if unknown or missing:
            problem = f"unknown {', '.join(sorted(unknown))}" if unknown else f"missing {', '.join(sorted(missing))}"
            raise BuildError(f"RegNet arch dict needs w0, wa, wm, group_w, depth (and optionally bot_mul); "
                             f"{problem}")
        return "regnet", dict(arch)
    raise BuildError(f"RegNet arch must be a name or a dict, got {arch!r}")


#: torchvision RegNet module paths -> mmcls's (the same network: torchvision's regnet_x_* checkpoints)
_TORCHVISION_KEYS = (
    (re.compile(r"^stem\.0\."), "conv1."),
    (re.compile(r"^stem\.1\."), "bn1."),
    (re.compile(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.proj\.([01])\."), r"layer\1.\2.downsample.\3."),
    (re.compile(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.f\.a\.0\."), r"layer\1.\2.conv1."),
    (re.compile(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.f\.a\.1\."), r"layer\1.\2.bn1."),
    (re.compile(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.f\.b\.0\."), r"layer\1.\2.conv2."),
    (re.compile(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.f\.b\.1\."), r"layer\1.\2.bn2."),
    (re.compile(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.f\.c\.0\."), r"layer\1.\2.conv3."),
    (re.compile(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.f\.c\.1\."), r"layer\1.\2.bn3."),
)


#: the reverse of ``_TORCHVISION_KEYS`` (mmcls keys -> torchvision's)
_MMCLS_KEYS = (
    (re.compile(r"^conv1\."), "stem.0."),
    (re.compile(r"^bn1\."), "stem.1."),
    (re.compile(r"^layer(\d+)\.(\d+)\.downsample\.([01])\."), r"trunk_output.block\1.block\1-\2.proj.\3."),
    *((re.compile(rf"^layer(\d+)\.(\d+)\.{own}\."), rf"trunk_output.block\1.block\1-\2.f.{plain}.")
      for own, plain in (("conv1", "a.0"), ("bn1", "a.1"), ("conv2", "b.0"), ("bn2", "b.1"), ("conv3", "c.0"),
                         ("bn3", "c.1"))),
)


def torchvision_regnet_key_to_mmcls(key: str) -> str:
    """A torchvision RegNetX key (``trunk_output.block1.block1-0.f.b.0.weight``) as mmcls's
    (``layer1.0.conv2.weight``); other keys unchanged."""
    for pattern, replacement in _TORCHVISION_KEYS:
        renamed, count = pattern.subn(replacement, key)
        if count:
            return renamed
    return key


@BACKBONES.register()
class RegNet(ResNet):
    """mmcls ``RegNet(arch='regnetx_400mf'|...|'regnetx_12gf' or dict(w0, wa, wm, group_w, depth, bot_mul))``.

    minim's ResNet with a 3x3 stride-2 stem and ResNeXt bottlenecks of expansion 1 in pycls's stage
    widths, under mmcls's module names; torchvision's ``regnet_x_*`` checkpoints (the same network for
    the pycls widths) load too, renamed by :func:`torchvision_regnet_key_to_mmcls`.
    """

    stem_kernel, stem_stride, stem_pool = 3, 2, False

    def __init__(self, arch: Any, in_channels: int = 3, stem_channels: int = 32, base_channels: int = 32,
                 strides=(2, 2, 2, 2), dilations=(1, 1, 1, 1), out_indices=(3,), style: str = "pytorch",
                 deep_stem: bool = False, avg_down: bool = False, frozen_stages: int = -1, conv_cfg=None,
                 norm_cfg=None, norm_eval: bool = False, with_cp: bool = False, zero_init_residual: bool = True,
                 init_cfg=None):
        Backbone.__init__(self, norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        if deep_stem:
            raise BuildError("RegNet: deep_stem=True is not supported (mmcls's RegNet has none either)")
        self.arch, params = _arch_params(arch)
        bot_mul = float(params.pop("bot_mul", 1.0))
        depths, widths, group_widths = regnet_stages(bot_mul=bot_mul, **params)
        if len(depths) > 4:
            raise BuildError(f"RegNet arch {arch!r} gives {len(depths)} stages; mmcls's RegNet has at most 4")
        self.depth, self.base_channels, self.expansion = sum(depths), base_channels, 1
        self._configure(in_channels, stem_channels, strides, dilations, style, deep_stem, avg_down, conv_cfg,
                        norm_cfg, with_cp, 0.0, len(depths))
        stage_kwargs = [dict(groups=int(round(width * bot_mul)) // group_width, width_per_group=group_width,
                             base_channels=width) for width, group_width in zip(widths, group_widths)]
        self._make_stages(Bottleneck, depths, widths, stage_kwargs)
        self._finish(out_indices, zero_init_residual)

    def plain_key_to_own(self, key: str) -> str:
        return torchvision_regnet_key_to_mmcls(key)

    def classifier_key_to_own(self, key: str) -> str:
        """mmcls keys unchanged; minim's earlier torchvision-layout RegNet checkpoints renamed."""
        return torchvision_regnet_key_to_mmcls(key)

    #: torchvision's ``regnet_x_*`` (the same network for the pycls widths)
    plain_formats = ("torchvision",)

    def own_key_to_plain(self, key: str) -> str:
        for pattern, replacement in _MMCLS_KEYS:
            renamed, count = pattern.subn(replacement, key)
            if count:
                return renamed
        return key
