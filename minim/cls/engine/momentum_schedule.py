"""Momentum policies of mmcv 1.x's ``momentum_config``, with the same formulas.

``momentum_config = dict(policy='CosineAnnealing', min_momentum_ratio=0.85 / 0.95, by_epoch=True,
warmup='linear', warmup_iters=500, warmup_ratio=0.9)``.

The schedule runs on the lr machinery (:mod:`minim.cls.engine.lr_schedule`: progress, ``by_epoch``,
when rates change) applied to each param group's ``momentum`` (``betas[0]`` for Adam-style optimizers),
starting from its ``initial_momentum``:

- ``step``: ``base * gamma ** k`` (k as for the lr's step policy; ``gamma`` 0.5 by default), clipped from
  below by ``min_momentum`` if given;
- ``CosineAnnealing``: from ``base`` to ``min_momentum`` or ``base * min_momentum_ratio`` (exactly one).

Warm-up divides where the lr's multiplies: constant ``m / ratio``, linear ``m / (1 - (1 - i/W) * (1 - ratio))``,
exp ``m / ratio ** (1 - i/W)`` (``warmup_ratio`` 0.9 by default).
"""

from __future__ import annotations

from typing import Any, Mapping

from minim.cls.engine.lr_schedule import (LrUpdaterHook, annealing_cos, build_schedule_hook, checked_step,
                                          step_exponent)
from minim.errors import ConfigError


class MomentumUpdaterHook(LrUpdaterHook):
    """Base of the momentum policies: the lr hook's timing, on each group's momentum."""

    priority = "HIGH"
    section = "momentum_config"

    def __init__(self, by_epoch=True, warmup=None, warmup_iters=0, warmup_ratio=0.9, warmup_by_epoch=False):
        super().__init__(by_epoch=by_epoch, warmup=warmup, warmup_iters=warmup_iters, warmup_ratio=warmup_ratio,
                         warmup_by_epoch=warmup_by_epoch)

    def before_run(self, runner) -> None:
        for group in runner.optimizer.param_groups:
            if "momentum" in group:
                group.setdefault("initial_momentum", group["momentum"])
            elif "betas" in group:
                group.setdefault("initial_momentum", group["betas"][0])
            else:
                raise ConfigError(f"momentum_config: optimizer {type(runner.optimizer).__name__} has no momentum "
                                  "or betas to schedule", hint="remove momentum_config")
        self.base_lr = [group["initial_momentum"] for group in runner.optimizer.param_groups]

    @staticmethod
    def _set_lr(runner, rates: list[float]) -> None:
        for group, momentum in zip(runner.optimizer.param_groups, rates):
            if "momentum" in group:
                group["momentum"] = momentum
            else:
                group["betas"] = (momentum, *group["betas"][1:])

    def get_warmup_lr(self, cur_iter: int) -> list[float]:
        ratio, total = self.warmup_ratio, self.warmup_iters
        if self.warmup == "constant":
            factor = ratio
        elif self.warmup == "linear":
            factor = 1 - (1 - cur_iter / total) * (1 - ratio)
        else:
            factor = ratio ** (1 - cur_iter / total)
        return [momentum / factor for momentum in self.regular_lr]


class StepMomentumUpdaterHook(MomentumUpdaterHook):
    policy_keys = ("step", "gamma", "min_momentum")

    def __init__(self, step, gamma=0.5, min_momentum=None, **kwargs):
        self.step, self.gamma, self.min_momentum = checked_step(step, self.section), gamma, min_momentum
        super().__init__(**kwargs)

    def get_lr(self, runner, base_lr):
        momentum = base_lr * self.gamma ** step_exponent(runner.epoch if self.by_epoch else runner.iter, self.step)
        return momentum if self.min_momentum is None else max(momentum, self.min_momentum)


class CosineAnnealingMomentumUpdaterHook(MomentumUpdaterHook):
    policy_keys = ("min_momentum", "min_momentum_ratio")

    def __init__(self, min_momentum=None, min_momentum_ratio=None, **kwargs):
        if (min_momentum is None) == (min_momentum_ratio is None):
            raise ConfigError("momentum_config for CosineAnnealing needs exactly one of min_momentum and "
                              "min_momentum_ratio")
        self.min_momentum, self.min_momentum_ratio = min_momentum, min_momentum_ratio
        super().__init__(**kwargs)

    def get_lr(self, runner, base_lr):
        progress, max_progress = self.progress(runner)
        target = base_lr * self.min_momentum_ratio if self.min_momentum_ratio is not None else self.min_momentum
        return annealing_cos(base_lr, target, progress / max_progress)


POLICIES: dict[str, type[MomentumUpdaterHook]] = {
    "Step": StepMomentumUpdaterHook,
    "CosineAnnealing": CosineAnnealingMomentumUpdaterHook,
}


def build_momentum_hook(momentum_config: Mapping[str, Any] | None,
                        runner_by_epoch: bool = True) -> MomentumUpdaterHook | None:
    """The hook for ``momentum_config`` (None -> the optimizer's momentum throughout)."""
    return build_schedule_hook(momentum_config, POLICIES, "momentum_config", runner_by_epoch)
