"""mmcls 0.x ``RegNet`` (pycls's RegNetX stage rule) on torchvision's RegNet."""

from __future__ import annotations

import math
from typing import Any, Mapping

from torch import nn

from minim.cls.models.backbones._checks import norm_type, require_single_out_index, require_value
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone
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
            require_value(name, arg, value, default)
        require_single_out_index(name, out_indices, 3)
        norm_type(name, norm_cfg, "BN", "SyncBN")
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
