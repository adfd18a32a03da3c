"""Small builders for the ``act_cfg`` / ``norm_cfg`` dicts of mmcls configs, and mmcv/mmcls bricks
(``ConvModule``, ``SELayer``) with their state-dict keys."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from minim.errors import BuildError
from minim.suggest import did_you_mean

_ACTIVATIONS = {
    "ReLU": nn.ReLU,
    "ReLU6": nn.ReLU6,
    "LeakyReLU": nn.LeakyReLU,
    "PReLU": nn.PReLU,
    "ELU": nn.ELU,
    "GELU": nn.GELU,
    "SiLU": nn.SiLU,
    "Swish": nn.SiLU,
    "HSwish": nn.Hardswish,
    "Hardswish": nn.Hardswish,
    "HSigmoid": nn.Hardsigmoid,
    "Hardsigmoid": nn.Hardsigmoid,
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
}

#: mmcv's ``HSigmoid`` arguments whose defaults make it torch's hard sigmoid
_HSIGMOID_DEFAULTS = {"bias": 3, "divisor": 6, "min_value": 0, "max_value": 1}

_NORMS_1D = {"BN": nn.BatchNorm1d, "BN1d": nn.BatchNorm1d, "SyncBN": nn.BatchNorm1d, "LN": nn.LayerNorm}
def _group_norm(num_features: int, num_groups: int, **kwargs: Any) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups, num_features, **kwargs)


def _layer_norm_2d(num_features: int, **kwargs: Any) -> nn.Module:
    from timm.layers import LayerNorm2d  # lazy: timm takes ~0.45 s to import; few configs need it

    return LayerNorm2d(num_features, **kwargs)  # LayerNorm over the channels of (N, C, H, W), as mmcls's LN2d


_NORMS_2D = {"BN": nn.BatchNorm2d, "BN2d": nn.BatchNorm2d, "SyncBN": nn.BatchNorm2d, "GN": _group_norm,
             "LN2d": _layer_norm_2d}


def _split(cfg: Mapping[str, Any], kind: str) -> tuple[str, dict]:
    if not isinstance(cfg, Mapping) or "type" not in cfg:
        raise BuildError(f"{kind} must be a dict with a 'type' key, got {cfg!r}")
    args = dict(cfg)
    return args.pop("type"), args


def build_activation(cfg: Mapping[str, Any] | None) -> nn.Module:
    """An activation module from ``dict(type='ReLU', ...)``; ``None`` -> identity."""
    if cfg is None:
        return nn.Identity()
    name, args = _split(cfg, "act_cfg")
    if name not in _ACTIVATIONS:
        raise BuildError(f"unknown activation type {name!r}; known: {', '.join(sorted(_ACTIVATIONS))}",
                         hint=did_you_mean(name, _ACTIVATIONS))
    args.pop("inplace", None)
    if name == "HSigmoid":
        args = {key: value for key, value in args.items() if _HSIGMOID_DEFAULTS.get(key) != value}
    try:
        return _ACTIVATIONS[name](**args)
    except TypeError as exc:
        raise BuildError(f"bad act_cfg {dict(cfg)!r}: {exc}") from exc


def build_norm1d(cfg: Mapping[str, Any] | None, num_features: int) -> nn.Module:
    """A 1-d normalisation layer for (N, C) vectors from ``dict(type='BN1d')``; ``None`` -> identity."""
    return _build_norm(cfg, num_features, _NORMS_1D, "a linear layer")


def build_norm2d(cfg: Mapping[str, Any] | None, num_features: int) -> nn.Module:
    """A normalisation layer for (N, C, H, W) maps from ``dict(type='BN')``; ``None`` -> identity."""
    return _build_norm(cfg, num_features, _NORMS_2D, "a feature map")


def _build_norm(cfg: Mapping[str, Any] | None, num_features: int, table: Mapping[str, type], target: str
                ) -> nn.Module:
    if cfg is None:
        return nn.Identity()
    name, args = _split(cfg, "norm_cfg")
    if name not in table:
        raise BuildError(f"unknown norm_cfg type {name!r} for {target}; known: {', '.join(sorted(table))}",
                         hint=did_you_mean(name, table))
    requires_grad = args.pop("requires_grad", True)
    try:
        layer = table[name](num_features, **args)
    except TypeError as exc:
        raise BuildError(f"bad norm_cfg {dict(cfg)!r}: {exc}") from exc
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return layer


_RELU = {"type": "ReLU"}
_SE_ACTS = ({"type": "ReLU"}, {"type": "Sigmoid"})


def conv_module(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                groups: int = 1, bias: bool | str = "auto", norm_cfg: Mapping[str, Any] | None = None,
                act_cfg: Mapping[str, Any] | None = _RELU, dilation: int = 1,
                conv_cfg: Mapping[str, Any] | None = None) -> nn.Sequential:
    """mmcv's ``ConvModule`` (conv -> BN -> activation), keys ``conv.*`` and ``bn.*``.

    ``bias='auto'`` gives the convolution a bias only without a norm layer, as mmcv does.
    """
    if bias == "auto":
        bias = norm_cfg is None
    parts: OrderedDict[str, nn.Module] = OrderedDict(
        conv=_conv_layer(conv_cfg)(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                   dilation=dilation, groups=groups, bias=bias))
    if norm_cfg is not None:
        parts["bn"] = build_norm2d(norm_cfg, out_channels)
    if act_cfg is not None:
        parts["activate"] = build_activation(act_cfg)
    return nn.Sequential(parts)


def _conv_layer(conv_cfg: Mapping[str, Any] | None) -> type[nn.Conv2d]:
    """``nn.Conv2d``, or for mmcv's ``Conv2dAdaptivePadding`` (TensorFlow's 'SAME' padding) timm's equal
    ``Conv2dSame``."""
    kind, args = _split(conv_cfg, "conv_cfg") if conv_cfg is not None else (None, {})
    if kind in (None, "Conv", "Conv2d") and not args:
        return nn.Conv2d
    if kind == "Conv2dAdaptivePadding" and not args:
        from timm.layers import Conv2dSame  # lazy: timm takes ~0.45 s to import; few configs need it

        return Conv2dSame
    raise BuildError(f"conv_cfg={dict(conv_cfg)!r} is not supported; use None, dict(type='Conv2d') or "
                     "dict(type='Conv2dAdaptivePadding')")


def make_divisible(value: float, divisor: int, min_ratio: float = 0.9) -> int:
    """mmcls's ``make_divisible``: ``value`` rounded to a multiple of ``divisor``, losing at most 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < min_ratio * value else rounded


class SELayer(nn.Module):
    """mmcls ``SELayer``: squeeze (global average), two 1x1 ``ConvModule`` s, excite.

    Keys ``conv1.conv.*`` and ``conv2.conv.*``; the squeeze width is ``squeeze_channels`` or
    ``make_divisible(channels // ratio, divisor)``.  With ``return_weight`` the forward returns the
    gate (``(N, C, 1, 1)``) instead of the gated input.
    """

    def __init__(self, channels: int, squeeze_channels: int | None = None, ratio: int = 16, divisor: int = 8,
                 bias: bool | str = "auto", conv_cfg: Mapping[str, Any] | None = None,
                 act_cfg: Any = _SE_ACTS, return_weight: bool = False, init_cfg: Any = None):
        super().__init__()
        if conv_cfg is not None:
            raise BuildError(f"SELayer: conv_cfg={conv_cfg!r} is not supported; use None (nn.Conv2d)")
        acts = (act_cfg, act_cfg) if isinstance(act_cfg, Mapping) else tuple(act_cfg)
        if len(acts) != 2:
            raise BuildError(f"SELayer: act_cfg must be a dict or two dicts, got {act_cfg!r}")
        if squeeze_channels is None:
            squeeze_channels = make_divisible(channels // ratio, divisor)
        if not isinstance(squeeze_channels, int) or squeeze_channels <= 0:
            raise BuildError(f"SELayer: squeeze_channels must be a positive int, got {squeeze_channels!r}")
        self.return_weight = return_weight
        self.conv1 = conv_module(channels, squeeze_channels, 1, bias=bias, act_cfg=acts[0])
        self.conv2 = conv_module(squeeze_channels, channels, 1, bias=bias, act_cfg=acts[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.conv2(self.conv1(F.adaptive_avg_pool2d(x, 1)))
        return weight if self.return_weight else x * weight
