"""Hook base class, priorities and the registry for ``custom_hooks``.

A hook reacts to the runner's stages (``before_run``, ``before_train_epoch``,
``before_train_iter``, ``after_train_iter``, ``after_train_epoch``, ``before_val_epoch``,
``after_val_epoch``, ``after_run``). Hooks run in priority order (lower value first), as in
mmcv; on ties, in registration order. ``after_evaluation(runner, results)`` runs after each
evaluation of the ``evaluation`` hook, with its metric results (mmengine's ``after_val_epoch(runner, metrics)``).
A hook that owns state keeps it through ``before_save_checkpoint`` / ``after_load_checkpoint`` and
decides, through ``evaluation_weights``, which weights evaluation and checkpoints see.
"""

from __future__ import annotations

import contextlib
from typing import Any, ContextManager

from minim.errors import ConfigError
from minim.registry import Registry

PRIORITIES = {
    "HIGHEST": 0,
    "VERY_HIGH": 10,
    "HIGH": 30,
    "ABOVE_NORMAL": 40,
    "NORMAL": 50,
    "BELOW_NORMAL": 60,
    "LOW": 70,
    "VERY_LOW": 90,
    "LOWEST": 100,
}

#: hooks a config may add through ``custom_hooks = [dict(type=..., priority=...)]``
HOOKS = Registry("hook")
HOOKS.register_lazy(("PreciseBNHook", "ClassNumCheckHook"), "minim.cls.engine.custom_hooks")
HOOKS.register_lazy(("EMAHook",), "minim.cls.engine.ema")
HOOKS.register_lazy(("EarlyStoppingHook",), "minim.cls.engine.early_stopping")


def priority_value(priority: Any) -> int:
    """A priority name ('NORMAL') or number as a number."""
    if isinstance(priority, int):
        return priority
    if isinstance(priority, str) and priority.upper() in PRIORITIES:
        return PRIORITIES[priority.upper()]
    raise ConfigError(f"unknown hook priority {priority!r}; use a number or one of {', '.join(PRIORITIES)}")


class Hook:
    """Base class: every stage is a no-op."""

    priority = "NORMAL"

    def before_run(self, runner) -> None: ...

    def after_run(self, runner) -> None: ...

    def before_train_epoch(self, runner) -> None: ...

    def after_train_epoch(self, runner) -> None: ...

    def before_train_iter(self, runner) -> None: ...

    def after_train_iter(self, runner) -> None: ...

    def before_val_epoch(self, runner) -> None: ...

    def after_val_epoch(self, runner) -> None: ...

    def after_evaluation(self, runner, results: dict) -> None: ...

    # state a hook owns (mmengine's names); the runner knows no specific hook
    def before_save_checkpoint(self, runner, meta: dict) -> None:
        """Add this hook's state to the ``meta`` of a checkpoint about to be written."""

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Take this hook's state from a checkpoint being resumed (before ``before_run``); a hook that keeps
        tensors in the model's state dict removes them from ``checkpoint['state_dict']`` here."""

    def evaluation_weights(self, runner) -> ContextManager[None]:
        """A context in which the model holds the weights to evaluate and to save (an EMAHook's averages)."""
        return contextlib.nullcontext()

    # helpers shared by the built-in hooks
    @staticmethod
    def every_n_epochs(runner, n: int) -> bool:
        return n > 0 and (runner.epoch + 1) % n == 0

    @staticmethod
    def every_n_iters(runner, n: int) -> bool:
        return n > 0 and (runner.iter + 1) % n == 0

    @staticmethod
    def is_last_epoch(runner) -> bool:
        return runner.epoch + 1 == runner.max_epochs

    @staticmethod
    def is_last_iter(runner) -> bool:
        return runner.iter + 1 == runner.max_iters

    @staticmethod
    def is_last_inner_iter(runner) -> bool:
        return runner.inner_iter + 1 == runner.iters_per_epoch
