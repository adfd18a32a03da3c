"""``compile = True`` or ``compile = dict(mode=..., dynamic=..., backend=...)``: torch.compile the model.

As in mmengine's config key of the same name. The classifier's backbone and neck are compiled in
place (``nn.Module.compile``), so the model's ``state_dict`` keys, checkpoints and the DDP wrapper
are unchanged; a model without a backbone is compiled whole. The first iterations of training and
of evaluation pay for the compilation (tens of seconds on a CPU; it pays off on long GPU runs).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from minim.errors import ConfigError
from minim.suggest import did_you_mean


def compile_options(setting: Any) -> dict[str, Any] | None:
    """The ``torch.compile`` keyword arguments of a ``compile`` config value (None: do not compile)."""
    if setting is None or setting is False:
        return None
    if setting is True:
        return {}
    if not isinstance(setting, dict):
        raise ConfigError(f"compile must be True, False or a dict of torch.compile arguments, got {setting!r}")
    known = [name for name in inspect.signature(torch.compile).parameters if name != "model"]
    for key in setting:
        if key not in known:
            raise ConfigError(f"compile has unknown key {key!r}; torch.compile takes {', '.join(known)}",
                              hint=did_you_mean(key, known))
    return dict(setting)


def compile_model(model: nn.Module, options: dict[str, Any]) -> str:
    """Compile ``model``'s backbone and neck (or the whole model) in place; returns a line for the log."""
    parts = [name for name in ("backbone", "neck") if isinstance(getattr(model, name, None), nn.Module)]
    for name in parts:
        getattr(model, name).compile(**options)
    if not parts:
        model.compile(**options)
    where = " and ".join(parts) if parts else "the model"
    arguments = ", ".join(f"{k}={v!r}" for k, v in options.items())
    return f"torch.compile({arguments}) on {where}: the first training and evaluation iterations compile"


def is_compiled(model: nn.Module) -> bool:
    """Whether ``model`` or one of its modules was compiled in place (``nn.Module.compile``)."""
    return any(getattr(module, "_compiled_call_impl", None) is not None for module in model.modules())
