"""mmcls 0.x ``HRNet``: parallel branches at 1/4, 1/8, 1/16 and 1/32 resolution that exchange features
after every module, built from torchvision's residual blocks with mmcls's module names."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.utils.checkpoint as cp
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from minim.cls.models.backbones._checks import require_value
from minim.cls.models.backbones.base import Backbone
from minim.cls.models.layers import build_norm2d
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_BN = {"type": "BN"}
#: mmcls block name -> (torchvision block, expansion)
BLOCKS = {"BASIC": (BasicBlock, 1), "BOTTLENECK": (Bottleneck, 4)}


def _arch(width: int) -> dict:
    stages = [(1, 1, "BOTTLENECK", (4,), (64,))]
    stages += [(modules, n, "BASIC", (4,) * n, tuple(width * 2 ** i for i in range(n)))
               for modules, n in ((1, 2), (4, 3), (3, 4))]
    keys = ("num_modules", "num_branches", "block", "num_blocks", "num_channels")
    return {f"stage{i}": dict(zip(keys, stage)) for i, stage in enumerate(stages, start=1)}


ARCHS = {f"w{width}": _arch(width) for width in (18, 30, 32, 40, 44, 48, 64)}


def res_layer(block: str, in_channels: int, out_channels: int, num_blocks: int,
              norm_cfg: Mapping[str, Any] = _BN) -> nn.Sequential:
    """mmcls's stride-1 ``ResLayer`` of ``'BASIC'``/``'BOTTLENECK'`` blocks ending in ``out_channels``.

    Keys ``{i}.conv1.*``, ``{i}.bn1.*``, ... and ``0.downsample.{0,1}.*`` when the width changes.
    """
    block_class, expansion = BLOCKS[block]
    if out_channels % expansion:
        raise BuildError(f"a {block} layer needs out_channels divisible by {expansion}, got {out_channels}")

    def norm(channels: int) -> nn.Module:
        return build_norm2d(norm_cfg, channels)

    downsample = None
    if in_channels != out_channels:
        downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), norm(out_channels))
    planes = out_channels // expansion
    blocks = [block_class(in_channels, planes, downsample=downsample, norm_layer=norm)]
    blocks += [block_class(out_channels, planes, norm_layer=norm) for _ in range(1, num_blocks)]
    return nn.Sequential(*blocks)


def _conv_norm(in_channels: int, out_channels: int, kernel_size: int, stride: int, norm_cfg: Mapping[str, Any],
               *tail: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                                   padding=kernel_size // 2, bias=False),
                         build_norm2d(norm_cfg, out_channels), *tail)


class HRModule(nn.Module):
    """One multi-resolution module: a residual branch per scale, then every output scale sums all inputs
    (coarser ones 1x1-projected and upsampled, finer ones strided-3x3-downsampled) and applies ReLU."""

    def __init__(self, block: str, num_blocks: Sequence[int], in_channels: Sequence[int],
                 num_channels: Sequence[int], multiscale_output: bool = True, with_cp: bool = False,
                 norm_cfg: Mapping[str, Any] = _BN):
        super().__init__()
        expansion = BLOCKS[block][1]
        self.in_channels = list(in_channels)
        self.with_cp = with_cp
        self.branches = nn.ModuleList(
            res_layer(block, in_channels[i], num_channels[i] * expansion, num_blocks[i], norm_cfg)
            for i in range(len(in_channels)))
        num_branches = len(in_channels)
        if num_branches == 1:
            self.fuse_layers = None
        else:
            outputs = num_branches if multiscale_output else 1
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(self._fuse_layer(source, target, norm_cfg) for source in range(num_branches))
                for target in range(outputs))
        self.relu = nn.ReLU()

    def _fuse_layer(self, source: int, target: int, norm_cfg: Mapping[str, Any]) -> nn.Module:
        """Brings branch ``source``'s features to branch ``target``'s scale and width."""
        channels = self.in_channels
        if source == target:
            return nn.Identity()
        if source > target:
            return _conv_norm(channels[source], channels[target], 1, 1, norm_cfg,
                              nn.Upsample(scale_factor=2 ** (source - target), mode="nearest"))
        steps = []
        for step in range(target - source):
            if step == target - source - 1:
                steps.append(_conv_norm(channels[source], channels[target], 3, 2, norm_cfg))
            else:
                steps.append(_conv_norm(channels[source], channels[source], 3, 2, norm_cfg, nn.ReLU()))
        return nn.Sequential(*steps)

    def _run_branch(self, branch: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        if not (self.with_cp and x.requires_grad):
            return branch(x)
        for block in branch:
            x = cp.checkpoint(block, x, use_reentrant=False)
        return x

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [self._run_branch(branch, x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        fused = []
        for layers in self.fuse_layers:
            total = 0
            for layer, x in zip(layers, xs):
                total = total + layer(x)
            fused.append(self.relu(total))
        return fused


def _check_stage_cfg(name: str, cfg: Any) -> None:
    if not isinstance(cfg, Mapping):
        raise BuildError(f"HRNet: extra needs a dict '{name}', got {cfg!r}")
    if cfg.get("block") not in BLOCKS:
        raise BuildError(f"HRNet: {name}.block={cfg.get('block')!r}; use 'BASIC' or 'BOTTLENECK'")
    branches = cfg.get("num_branches")
    if len(cfg.get("num_blocks", ())) != branches or len(cfg.get("num_channels", ())) != branches:
        raise BuildError(f"HRNet: {name} needs num_blocks and num_channels with num_branches={branches} entries")


@BACKBONES.register()
class HRNet(Backbone):
    """mmcls ``HRNet(arch='w18'|'w30'|'w32'|'w40'|'w44'|'w48'|'w64', extra=None, multiscale_output=True)``.

    Outputs a tuple of the branch features, finest first (pair with ``HRFuseScales``); ``extra``
    gives a custom ``stage1``..``stage4`` layout as in mmcls.
    """

    def __init__(self, arch: str = "w32", extra: Mapping[str, Any] | None = None, in_channels: int = 3,
                 conv_cfg=None, norm_cfg: Mapping[str, Any] = _BN, norm_eval: bool = False, with_cp: bool = False,
                 zero_init_residual: bool = False, multiscale_output: bool = True, init_cfg=None):
        super().__init__(norm_eval=norm_eval, init_cfg=init_cfg)
        require_value("HRNet", "conv_cfg", conv_cfg, None)
        if extra is None:
            if arch not in ARCHS:
                raise BuildError(f"HRNet: arch={arch!r} is not supported; use one of {', '.join(ARCHS)} or extra")
            extra = ARCHS[arch]
        for i in range(1, 5):
            _check_stage_cfg(f"stage{i}", extra.get(f"stage{i}"))
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = build_norm2d(norm_cfg, 64)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = build_norm2d(norm_cfg, 64)
        self.relu = nn.ReLU(inplace=True)
        stage1 = extra["stage1"]
        channels = [stage1["num_channels"][0] * BLOCKS[stage1["block"]][1]]
        self.layer1 = res_layer(stage1["block"], 64, channels[0], stage1["num_blocks"][0])
        for i in range(2, 5):
            cfg = extra[f"stage{i}"]
            widths = [c * BLOCKS[cfg["block"]][1] for c in cfg["num_channels"]]
            self.add_module(f"transition{i - 1}", self._transition(channels, widths, norm_cfg))
            modules = []
            for m in range(cfg["num_modules"]):
                multiscale = multiscale_output or i < 4 or m < cfg["num_modules"] - 1
                modules.append(HRModule(cfg["block"], cfg["num_blocks"], widths, cfg["num_channels"], multiscale,
                                        with_cp=with_cp, norm_cfg=norm_cfg))
            self.add_module(f"stage{i}", nn.Sequential(*modules))
            channels = widths
        if zero_init_residual:
            self._zero_init_last_norms()

    @staticmethod
    def _transition(previous: Sequence[int], current: Sequence[int], norm_cfg: Mapping[str, Any]) -> nn.ModuleList:
        """Per new branch: adapt an existing branch's width, or downsample the coarsest one (stride 2 steps)."""
        layers = []
        for i, width in enumerate(current):
            if i < len(previous):
                layers.append(nn.Identity() if width == previous[i] else
                              _conv_norm(previous[i], width, 3, 1, norm_cfg, nn.ReLU(inplace=True)))
                continue
            source, steps = previous[-1], i + 1 - len(previous)
            layers.append(nn.Sequential(*(
                _conv_norm(source, width if j == steps - 1 else source, 3, 2, norm_cfg, nn.ReLU(inplace=True))
                for j in range(steps))))
        return nn.ModuleList(layers)

    def _zero_init_last_norms(self) -> None:
        for i in range(2, 5):
            for module in getattr(self, f"stage{i}").modules():
                if isinstance(module, Bottleneck):
                    nn.init.zeros_(module.bn3.weight)
                elif isinstance(module, BasicBlock):
                    nn.init.zeros_(module.bn2.weight)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        features = [self.layer1(x)]
        for i in range(2, 5):
            transition = getattr(self, f"transition{i - 1}")
            inputs = [layer(features[min(j, len(features) - 1)]) for j, layer in enumerate(transition)]
            features = getattr(self, f"stage{i}")(inputs)
        return tuple(features)
