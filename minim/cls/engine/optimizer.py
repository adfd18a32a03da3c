"""Build a ``torch.optim`` optimizer from an mmcv-style ``optimizer`` config.

``optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4, paramwise_cfg=dict(...))``:
``type`` is any ``torch.optim`` class name. ``paramwise_cfg`` follows mmcv 1.x's
``DefaultOptimizerConstructor``: ``custom_keys`` (longest matching key wins, ties broken
alphabetically) set ``lr_mult``/``decay_mult``; otherwise ``bias_lr_mult`` (biases outside norm
layers), ``norm_decay_mult`` (all parameters of norm layers), ``dwconv_decay_mult``
(depth-wise convolutions) and ``bias_decay_mult`` (other biases). Parameters that end up with
identical settings share one param group (same arithmetic as mmcv's one-group-per-parameter,
faster steps).
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Mapping

import torch
from torch import nn

from minim.errors import BuildError, ConfigError
from minim.suggest import did_you_mean

PARAMWISE_KEYS = (
    "custom_keys",
    "bias_lr_mult",
    "bias_decay_mult",
    "norm_decay_mult",
    "dwconv_decay_mult",
    "bypass_duplicate",
)
NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm, nn.LayerNorm)


def optimizer_classes() -> dict[str, type]:
    """Every optimizer class ``torch.optim`` offers, by name."""
    return {
        name: obj
        for name, obj in vars(torch.optim).items()
        if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer
    }


#: optimizer arguments that are plain numbers in every torch.optim class that takes them
_NUMERIC_KEYS = ("lr", "momentum", "weight_decay", "dampening", "eps", "alpha", "lr_decay", "rho")


def _check_numbers(cfg: Mapping[str, Any]) -> None:
    for key in _NUMERIC_KEYS:
        value = cfg.get(key)
        if key in cfg and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"optimizer.{key}={value!r} must be a number", hint=f"e.g. optimizer.{key}=0.01")


def build_optimizer(model: nn.Module, cfg: Mapping[str, Any]) -> torch.optim.Optimizer:
    """The optimizer described by ``cfg`` for ``model``'s parameters."""
    cfg = dict(cfg)
    type_name = cfg.pop("type", None)
    if type_name is None:
        raise ConfigError("optimizer has no 'type' (e.g. optimizer = dict(type='SGD', lr=0.1, momentum=0.9))")
    classes = optimizer_classes()
    if type_name not in classes:
        raise BuildError(
            f"unknown optimizer type {type_name!r}; torch.optim offers: {', '.join(sorted(classes))}",
            hint=did_you_mean(type_name, classes),
        )
    cls = classes[type_name]
    paramwise_cfg = cfg.pop("paramwise_cfg", None)
    _check_kwargs(type_name, cls, cfg)
    if "lr" not in cfg:
        raise ConfigError(f"optimizer {type_name!r} needs an 'lr'")
    _check_numbers(cfg)
    if paramwise_cfg:
        params = paramwise_groups(model, paramwise_cfg, base_lr=cfg["lr"], base_wd=cfg.get("weight_decay"))
    else:
        params = list(model.parameters())
    try:
        return cls(params, **cfg)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"cannot build optimizer {type_name!r}: {exc}") from exc


def _check_kwargs(type_name: str, cls: type, kwargs: Mapping[str, Any]) -> None:
    accepted = [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "params")]
    for key in kwargs:
        if key not in accepted:
            raise BuildError(
                f"optimizer {type_name!r} got an unexpected argument {key!r}; it takes: {', '.join(accepted)}",
                hint=did_you_mean(key, [*accepted, "type", "paramwise_cfg"]),
            )


def paramwise_groups(
    model: nn.Module, paramwise_cfg: Mapping[str, Any], base_lr: float, base_wd: float | None
) -> list[dict[str, Any]]:
    """Param groups with per-parameter lr / weight decay multipliers (mmcv semantics), merged when equal."""
    unknown = [k for k in paramwise_cfg if k not in PARAMWISE_KEYS]
    if unknown:
        raise ConfigError(
            f"optimizer.paramwise_cfg has unknown key {unknown[0]!r}; known: {', '.join(PARAMWISE_KEYS)}",
            hint=did_you_mean(unknown[0], PARAMWISE_KEYS),
        )
    custom_keys = dict(paramwise_cfg.get("custom_keys") or {})
    for key, value in custom_keys.items():
        if not isinstance(value, Mapping) or set(value) - {"lr_mult", "decay_mult"}:
            raise ConfigError(
                f"optimizer.paramwise_cfg.custom_keys[{key!r}] must be a dict with lr_mult and/or decay_mult, "
                f"got {value!r}"
            )
    decay_mults = ("bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult")
    if base_wd is None and any(k in paramwise_cfg for k in decay_mults):
        raise ConfigError("optimizer.paramwise_cfg sets a *_decay_mult but the optimizer has no weight_decay")
    # longest key first; equal lengths in alphabetical order (mmcv's sort)
    sorted_keys = sorted(sorted(custom_keys), key=len, reverse=True)
    bypass_duplicate = bool(paramwise_cfg.get("bypass_duplicate", False))

    groups: list[dict[str, Any]] = []
    index: dict[tuple, dict[str, Any]] = {}
    seen: set[int] = set()

    def add(param: nn.Parameter, options: dict[str, Any]) -> None:
        signature = tuple(sorted(options.items())) + (("requires_grad", param.requires_grad),)
        group = index.get(signature)
        if group is None:
            group = {"params": [], **options}
            index[signature] = group
            groups.append(group)
        group["params"].append(param)

    matched: set[str] = set()
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                if bypass_duplicate:
                    continue
                raise ConfigError(
                    f"parameter {module_name}.{name} is shared by several modules; "
                    "set optimizer.paramwise_cfg.bypass_duplicate=True"
                )
            seen.add(id(param))
            if not param.requires_grad:
                add(param, {})
                continue
            full_name = f"{module_name}.{name}" if module_name else name
            add(param, _options_for(full_name, name, module, paramwise_cfg, sorted_keys, custom_keys, base_lr, base_wd,
                                    matched))
    for key in custom_keys:
        if key not in matched:
            warnings.warn(f"optimizer.paramwise_cfg.custom_keys[{key!r}] matches no parameter of the model; "
                          "its lr_mult/decay_mult apply to nothing", stacklevel=3)
    return groups


#: mmcls parameter names that torchvision's architectures spell differently (custom_keys match either)
_TORCHVISION_SPELLINGS = {"cls_token": "class_token", "pos_embed": "pos_embedding"}


def _key_in(key: str, full_name: str) -> bool:
    if key in full_name:
        return True
    spelled = key
    for mmcls_name, torchvision_name in _TORCHVISION_SPELLINGS.items():
        spelled = spelled.replace(mmcls_name, torchvision_name)
    return spelled != key and spelled in full_name


def _options_for(full_name, name, module, paramwise_cfg, sorted_keys, custom_keys, base_lr, base_wd,
                 matched: set[str]) -> dict:
    options: dict[str, Any] = {}
    for key in sorted_keys:
        if _key_in(key, full_name):
            matched.add(key)
            options["lr"] = base_lr * custom_keys[key].get("lr_mult", 1.0)
            if base_wd is not None:
                options["weight_decay"] = base_wd * custom_keys[key].get("decay_mult", 1.0)
            return options
    is_norm = isinstance(module, NORM_TYPES)
    is_dwconv = isinstance(module, nn.Conv2d) and module.in_channels == module.groups and module.groups > 1
    if name == "bias" and not is_norm and "bias_lr_mult" in paramwise_cfg:
        options["lr"] = base_lr * paramwise_cfg["bias_lr_mult"]
    if base_wd is not None:
        if is_norm:
            if "norm_decay_mult" in paramwise_cfg:
                options["weight_decay"] = base_wd * paramwise_cfg["norm_decay_mult"]
        elif is_dwconv:
            if "dwconv_decay_mult" in paramwise_cfg:
                options["weight_decay"] = base_wd * paramwise_cfg["dwconv_decay_mult"]
        elif name == "bias" and "bias_decay_mult" in paramwise_cfg:
            options["weight_decay"] = base_wd * paramwise_cfg["bias_decay_mult"]
    return options
