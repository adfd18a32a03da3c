"""Argument checks shared by the mmcls-spelled backbones.

An mmcls argument whose value minim's implementation cannot honour raises a ``BuildError``
naming it and the values that are supported.
"""

from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from minim.errors import BuildError


def normalise_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [normalise_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: normalise_value(v) for k, v in value.items()}
    return value


def require_value(type_name: str, name: str, value: Any, *allowed: Any) -> None:
    """Raise a BuildError unless ``value`` equals one of ``allowed`` (lists and tuples compare equal)."""
    if any(normalise_value(value) == normalise_value(option) for option in allowed):
        return
    shown = " or ".join(repr(option) for option in allowed)
    raise BuildError(f"{type_name}: {name}={value!r} is not supported (minim's {type_name} only "
                     f"has {name}={shown})")


def norm_type(type_name: str, norm_cfg: Mapping[str, Any] | None, *allowed: str) -> dict:
    if norm_cfg is None:
        return {}
    if not isinstance(norm_cfg, Mapping) or norm_cfg.get("type") not in allowed:
        raise BuildError(f"{type_name}: norm_cfg={norm_cfg!r} is not supported; use type "
                         + " or ".join(repr(a) for a in allowed))
    return dict(norm_cfg)


def freeze_norm_params(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            for param in module.parameters():
                param.requires_grad = False


def resolve_out_indices(type_name: str, out_indices: Any, count: int, name: str = "out_indices") -> list[int]:
    """``out_indices`` (an int or a sequence of ints; negatives count from the end) as sorted positions in
    ``0..count-1``; anything else is a BuildError naming ``name``."""
    indices = [out_indices] if isinstance(out_indices, int) else out_indices
    if not isinstance(indices, (list, tuple)) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                          for i in indices):
        raise BuildError(f"{type_name}: {name} must be an int or a sequence of ints, got {out_indices!r}")
    resolved = sorted({index + count if index < 0 else index for index in indices})
    if not resolved or any(not 0 <= index < count for index in resolved):
        raise BuildError(f"{type_name}: {name}={out_indices!r} must be indices in -{count}..{count - 1}")
    return resolved


def require_single_out_index(type_name: str, out_indices: Any, last: int) -> None:
    require_value(type_name, "out_indices", out_indices, (last,), last, (-1,), -1)
