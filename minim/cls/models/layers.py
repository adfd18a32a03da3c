"""Small builders for the ``act_cfg`` / ``norm_cfg`` dicts of mmcls configs."""

from __future__ import annotations

from typing import Any, Mapping

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

_NORMS_1D = {"BN": nn.BatchNorm1d, "BN1d": nn.BatchNorm1d, "SyncBN": nn.BatchNorm1d, "LN": nn.LayerNorm}


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
    try:
        return _ACTIVATIONS[name](**args)
    except TypeError as exc:
        raise BuildError(f"bad act_cfg {dict(cfg)!r}: {exc}") from exc


def build_norm1d(cfg: Mapping[str, Any] | None, num_features: int) -> nn.Module:
    """A 1-d normalisation layer for (N, C) vectors from ``dict(type='BN1d')``; ``None`` -> identity."""
    if cfg is None:
        return nn.Identity()
    name, args = _split(cfg, "norm_cfg")
    if name not in _NORMS_1D:
        raise BuildError(f"unknown norm type {name!r} for a linear layer; known: {', '.join(sorted(_NORMS_1D))}",
                         hint=did_you_mean(name, _NORMS_1D))
    requires_grad = args.pop("requires_grad", True)
    try:
        layer = _NORMS_1D[name](num_features, **args)
    except TypeError as exc:
        raise BuildError(f"bad norm_cfg {dict(cfg)!r}: {exc}") from exc
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return layer
