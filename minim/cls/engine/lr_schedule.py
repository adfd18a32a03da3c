"""Learning-rate policies of mmcv 1.x's ``lr_config``, with the same formulas.

``lr_config = dict(policy='step', step=[30, 60], gamma=0.1, by_epoch=True,
warmup='linear', warmup_iters=500, warmup_ratio=0.1, warmup_by_epoch=False)``.

Progress is ``runner.epoch`` (0-based, epochs done) when ``by_epoch`` else ``runner.iter``
(0-based, iterations done). Regular rates (``base_lr`` = each group's ``initial_lr``):

- ``step``: ``base_lr * gamma ** k`` where k = progress // step (int) or the number of
  milestones <= progress (list); clipped from below by ``min_lr`` if given.
- ``CosineAnnealing``: ``target + 0.5 * (base_lr - target) * (1 + cos(pi * progress / max_progress))``,
  target = ``min_lr`` or ``base_lr * min_lr_ratio`` (exactly one of them).
- ``poly``: ``(base_lr - min_lr) * (1 - progress / max_progress) ** power + min_lr``.
- ``exp``: ``base_lr * gamma ** progress``; ``inv``: ``base_lr * (1 + gamma * progress) ** -power``;
  ``fixed``: ``base_lr``.

Warmup (always counted in iterations i < W; ``warmup_by_epoch`` turns ``warmup_iters`` epochs
into iterations): linear ``lr * (1 - (1 - i/W) * (1 - ratio))``, constant ``lr * ratio``,
exp ``lr * ratio ** (1 - i/W)``, applied to the regular rate. With ``by_epoch=True`` the regular
rate changes at epoch starts, the warmup factor every iteration.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from minim.cls.engine.hooks import Hook
from minim.errors import ConfigError
from minim.suggest import did_you_mean

COMMON_KEYS = ("policy", "by_epoch", "warmup", "warmup_iters", "warmup_ratio", "warmup_by_epoch")
WARMUPS = ("constant", "linear", "exp")


class LrUpdaterHook(Hook):
    """Base of every policy: sets each param group's lr before epochs/iterations."""

    priority = "VERY_HIGH"
    policy_keys: tuple[str, ...] = ()
    #: the config section, for messages (the momentum hooks reuse this machinery)
    section = "lr_config"

    def __init__(self, by_epoch=True, warmup=None, warmup_iters=0, warmup_ratio=0.1, warmup_by_epoch=False):
        if warmup is not None:
            if warmup not in WARMUPS:
                raise ConfigError(f"{self.section}.warmup must be None or one of {', '.join(WARMUPS)}, got {warmup!r}")
            if not warmup_iters or warmup_iters <= 0:
                raise ConfigError(f"{self.section}.warmup_iters must be > 0 when warmup is set")
            if not 0 < warmup_ratio <= 1.0:
                raise ConfigError(f"{self.section}.warmup_ratio must be in (0, 1], got {warmup_ratio!r}")
        self.by_epoch = by_epoch
        self.warmup = warmup
        self.warmup_ratio = warmup_ratio
        self.warmup_by_epoch = warmup_by_epoch
        self.warmup_epochs = warmup_iters if warmup_by_epoch else None
        self.warmup_iters = None if warmup_by_epoch else warmup_iters
        self.base_lr: list[float] = []
        self.regular_lr: list[float] = []

    # --- formulas -----------------------------------------------------------------
    def get_lr(self, runner, base_lr: float) -> float:
        raise NotImplementedError

    def progress(self, runner) -> tuple[int, int]:
        """(progress, max_progress) in epochs or iterations."""
        if self.by_epoch:
            return runner.epoch, runner.max_epochs
        return runner.iter, runner.max_iters

    def get_regular_lr(self, runner) -> list[float]:
        return [self.get_lr(runner, base) for base in self.base_lr]

    def get_warmup_lr(self, cur_iter: int) -> list[float]:
        ratio, total = self.warmup_ratio, self.warmup_iters
        if self.warmup == "constant":
            return [lr * ratio for lr in self.regular_lr]
        if self.warmup == "linear":
            k = (1 - cur_iter / total) * (1 - ratio)
            return [lr * (1 - k) for lr in self.regular_lr]
        k = ratio ** (1 - cur_iter / total)
        return [lr * k for lr in self.regular_lr]

    # --- runner stages ---------------------------------------------------------------
    @staticmethod
    def _set_lr(runner, rates: list[float]) -> None:
        for group, lr in zip(runner.optimizer.param_groups, rates):
            group["lr"] = lr

    def before_run(self, runner) -> None:
        for group in runner.optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lr = [group["initial_lr"] for group in runner.optimizer.param_groups]

    def before_train_epoch(self, runner) -> None:
        if self.warmup_iters is None:
            self.warmup_iters = self.warmup_epochs * runner.iters_per_epoch
        if not self.by_epoch:
            return
        self.regular_lr = self.get_regular_lr(runner)
        self._set_lr(runner, self.regular_lr)

    def before_train_iter(self, runner) -> None:
        cur_iter = runner.iter
        if self.warmup_iters is None:  # iteration-based runner: no epoch start
            self.warmup_iters = self.warmup_epochs * runner.iters_per_epoch
        if not self.by_epoch:
            self.regular_lr = self.get_regular_lr(runner)
            if self.warmup is None or cur_iter >= self.warmup_iters:
                self._set_lr(runner, self.regular_lr)
            else:
                self._set_lr(runner, self.get_warmup_lr(cur_iter))
        else:
            if self.warmup is None or cur_iter > self.warmup_iters:
                return
            if cur_iter == self.warmup_iters:
                self._set_lr(runner, self.regular_lr)
            else:
                self._set_lr(runner, self.get_warmup_lr(cur_iter))


class FixedLrUpdaterHook(LrUpdaterHook):
    def get_lr(self, runner, base_lr):
        return base_lr


class StepLrUpdaterHook(LrUpdaterHook):
    policy_keys = ("step", "gamma", "min_lr")

    def __init__(self, step, gamma=0.1, min_lr=None, **kwargs):
        self.step, self.gamma, self.min_lr = checked_step(step, self.section), gamma, min_lr
        super().__init__(**kwargs)

    def get_lr(self, runner, base_lr):
        lr = base_lr * self.gamma ** step_exponent(runner.epoch if self.by_epoch else runner.iter, self.step)
        if self.min_lr is not None:
            lr = max(lr, self.min_lr)
        return lr


def checked_step(step: Any, section: str) -> int | list[int]:
    """``step`` of a step policy: a positive int, or a list of positive ints (milestones)."""
    if isinstance(step, (list, tuple)) and step and all(isinstance(s, int) and s > 0 for s in step):
        return list(step)
    if isinstance(step, int) and not isinstance(step, bool) and step > 0:
        return step
    raise ConfigError(f"{section}.step must be a positive int or a list of positive ints, got {step!r}")


def step_exponent(progress: int, step: int | list[int]) -> int:
    """How many steps ``progress`` has passed: ``progress // step``, or the milestones <= progress."""
    if isinstance(step, int):
        return progress // step
    return next((i for i, milestone in enumerate(step) if progress < milestone), len(step))


def annealing_cos(start: float, end: float, factor: float, weight: float = 1.0) -> float:
    """Cosine from ``start`` (factor 0) to ``end`` (factor 1)."""
    return end + 0.5 * weight * (start - end) * (math.cos(math.pi * factor) + 1)


class CosineAnnealingLrUpdaterHook(LrUpdaterHook):
    policy_keys = ("min_lr", "min_lr_ratio")

    def __init__(self, min_lr=None, min_lr_ratio=None, **kwargs):
        if (min_lr is None) == (min_lr_ratio is None):
            raise ConfigError("lr_config for CosineAnnealing needs exactly one of min_lr and min_lr_ratio")
        self.min_lr, self.min_lr_ratio = min_lr, min_lr_ratio
        super().__init__(**kwargs)

    def get_lr(self, runner, base_lr):
        progress, max_progress = self.progress(runner)
        target = base_lr * self.min_lr_ratio if self.min_lr_ratio is not None else self.min_lr
        return annealing_cos(base_lr, target, progress / max_progress)


class PolyLrUpdaterHook(LrUpdaterHook):
    policy_keys = ("power", "min_lr")

    def __init__(self, power=1.0, min_lr=0.0, **kwargs):
        self.power, self.min_lr = power, min_lr
        super().__init__(**kwargs)

    def get_lr(self, runner, base_lr):
        progress, max_progress = self.progress(runner)
        coeff = (1 - progress / max_progress) ** self.power
        return (base_lr - self.min_lr) * coeff + self.min_lr


class ExpLrUpdaterHook(LrUpdaterHook):
    policy_keys = ("gamma",)

    def __init__(self, gamma, **kwargs):
        self.gamma = gamma
        super().__init__(**kwargs)

    def get_lr(self, runner, base_lr):
        progress = runner.epoch if self.by_epoch else runner.iter
        return base_lr * self.gamma**progress


class InvLrUpdaterHook(LrUpdaterHook):
    policy_keys = ("gamma", "power")

    def __init__(self, gamma, power=1.0, **kwargs):
        self.gamma, self.power = gamma, power
        super().__init__(**kwargs)

    def get_lr(self, runner, base_lr):
        progress = runner.epoch if self.by_epoch else runner.iter
        return base_lr * (1 + self.gamma * progress) ** (-self.power)


POLICIES: dict[str, type[LrUpdaterHook]] = {
    "Fixed": FixedLrUpdaterHook,
    "Step": StepLrUpdaterHook,
    "CosineAnnealing": CosineAnnealingLrUpdaterHook,
    "Poly": PolyLrUpdaterHook,
    "Exp": ExpLrUpdaterHook,
    "Inv": InvLrUpdaterHook,
}


def policy_name(policy: str) -> str:
    """mmcv's rule: an all-lowercase policy is title-cased ('step' -> 'Step'), others kept."""
    return policy.title() if policy.islower() else policy


def build_lr_hook(lr_config: Mapping[str, Any] | None, runner_by_epoch: bool = True) -> LrUpdaterHook | None:
    """The hook for ``lr_config`` (None -> constant lr); unknown or leftover keys are errors."""
    return build_schedule_hook(lr_config, POLICIES, "lr_config", runner_by_epoch)


def build_schedule_hook(config: Mapping[str, Any] | None, policies: Mapping[str, type[LrUpdaterHook]], section: str,
                        runner_by_epoch: bool) -> LrUpdaterHook | None:
    """The hook of ``section`` (``lr_config``/``momentum_config``) from ``policies``; ``by_epoch``
    defaults to the runner's kind, as mmcv's IterBasedRunner sets it."""
    if config is None:
        return None
    cfg = dict(config)
    cfg.pop("type", None)
    policy = cfg.get("policy")
    known = [name if name != name.title() else name.lower() for name in policies]
    if not isinstance(policy, str):
        raise ConfigError(f"{section} needs a 'policy' ({', '.join(known)})")
    name = policy_name(policy)
    if name not in policies:
        raise ConfigError(f"unknown {section}.policy {policy!r}; minim knows: {', '.join(known)}",
                          hint=did_you_mean(policy, known))
    cls = policies[name]
    allowed = COMMON_KEYS + cls.policy_keys
    for key in cfg:
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            raise ConfigError(
                f"{section} key {key!r} is not used by policy {policy!r} (it takes {', '.join(allowed)}); "
                f"if it comes from a base config, write {section} = dict(_delete_=True, ...) to replace the base's "
                f"{section} instead of merging into it",
                hint=hint,
            )
    cfg.pop("policy")
    cfg.setdefault("by_epoch", runner_by_epoch)
    if cfg["by_epoch"] and not runner_by_epoch:
        raise ConfigError(f"{section}.by_epoch=True needs an EpochBasedRunner; set {section}.by_epoch=False "
                          "for IterBasedRunner")
    try:
        return cls(**cfg)
    except TypeError as exc:
        raise ConfigError(f"{section} for policy {policy!r}: {exc}") from exc
