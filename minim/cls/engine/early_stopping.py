"""``EarlyStoppingHook``: mmengine's early stopping, for ``custom_hooks`` of an mmcls 0.x config.

``custom_hooks = [dict(type='EarlyStoppingHook', monitor='accuracy_top-1', patience=5, min_delta=0.1)]``

After each evaluation (the ``evaluation`` hook's) the monitored result is compared with the best so
far, as mmengine 0.10 does: it improves when it beats the best by at least ``min_delta`` (or equals
best + ``min_delta``); ``patience`` evaluations in a row without improvement stop training, as does a
non-finite value (``check_finite``) or one beyond ``stopping_threshold``. ``rule`` ('greater'/'less')
is inferred from the key when not given. A ``monitor`` missing from the results is a warning, or an
error with ``strict=True``. Keys are minim's (mmcls's) result keys: ``accuracy_top-1``, ``mAP``, ...

Resumable: the best score and the count are kept in the checkpoints' meta (``early_stopping``), so
``--resume`` goes on counting; resuming a run that early stopping ended ends at once, unless
``patience`` was raised.
"""

from __future__ import annotations

import math

from minim.cls.engine.evaluation import EvalHook
from minim.cls.engine.hooks import HOOKS, Hook
from minim.cls.metrics import infer_rule
from minim.errors import ConfigError

STATE_KEY = "early_stopping"
_BETTER = {"greater": lambda a, b: a > b, "less": lambda a, b: a < b}


@HOOKS.register()
class EarlyStoppingHook(Hook):
    """mmengine ``EarlyStoppingHook(monitor, rule=None, min_delta=0.1, strict=False, check_finite=True,
    patience=5, stopping_threshold=None)``; see the module doc."""

    priority = "LOWEST"

    def __init__(self, monitor: str, rule: str | None = None, min_delta: float = 0.1, strict: bool = False,
                 check_finite: bool = True, patience: int = 5, stopping_threshold: float | None = None):
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError("EarlyStoppingHook: monitor must be a result key such as 'accuracy_top-1', "
                              f"got {monitor!r}")
        if rule is not None and rule not in _BETTER:
            raise ConfigError(f"EarlyStoppingHook: rule must be 'greater' or 'less', got {rule!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ConfigError(f"EarlyStoppingHook: patience must be a positive int, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ConfigError(f"EarlyStoppingHook: min_delta must be a number >= 0, got {min_delta!r}")
        try:
            self.rule = rule or infer_rule(monitor)
        except ConfigError as exc:
            raise ConfigError(f"EarlyStoppingHook: {exc.message}", hint="set rule='greater' or rule='less'") from None
        self.monitor = monitor
        self.min_delta = float(min_delta)
        self.strict = strict
        self.check_finite = check_finite
        self.patience = patience
        self.stopping_threshold = stopping_threshold
        self.best_score = -math.inf if self.rule == "greater" else math.inf
        self.wait_count = 0
        self._warned = False

    def state(self) -> dict:
        """What a checkpoint keeps of this hook."""
        return {"monitor": self.monitor, "rule": self.rule, "best_score": self.best_score,
                "wait_count": self.wait_count}

    def before_save_checkpoint(self, runner, meta: dict) -> None:
        meta[STATE_KEY] = self.state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Go on from a resumed run's state (when it monitored the same key the same way)."""
        state = (checkpoint.get("meta") or {}).get(STATE_KEY)
        if state and state.get("monitor") == self.monitor and state.get("rule") == self.rule:
            self.best_score, self.wait_count = float(state["best_score"]), int(state["wait_count"])

    def before_run(self, runner) -> None:
        """Without evaluation there is nothing to monitor; a resumed run that had stopped early ends at once."""
        if runner.get_hook(EvalHook) is None:
            message = f"EarlyStoppingHook: no evaluation runs, so {self.monitor!r} is never measured"
            if self.strict:
                raise ConfigError(message, hint="train with validation (an evaluation dict and data.val)")
            runner.logger.warning(message)
        if self.wait_count >= self.patience:
            runner.stop_training = True
            runner.logger.info(f"EarlyStoppingHook: this run had stopped early ({self.monitor} did not improve in "
                               f"{self.wait_count} evaluations); raise patience to train on")

    def after_evaluation(self, runner, results: dict) -> None:
        if self.monitor not in results:
            message = (f"EarlyStoppingHook: monitor {self.monitor!r} is not among the evaluation results "
                       f"({', '.join(results)})")
            if self.strict:
                raise ConfigError(message, hint="set monitor to one of them, or strict=False to go on without it")
            if not self._warned:
                self._warned = True
                runner.logger.warning(message + "; early stopping is skipped")
            return
        stop, reason = self.update(float(results[self.monitor]))
        if stop:
            runner.stop_training = True
            runner.logger.info(f"EarlyStoppingHook: {reason}; training stops")

    def update(self, score: float) -> tuple[bool, str]:
        """Count ``score`` in: ``(stop?, why)``."""
        better = _BETTER[self.rule]
        if self.check_finite and not math.isfinite(score):
            return True, f"{self.monitor} = {score} is not finite (best {self.best_score:.4f})"
        if self.stopping_threshold is not None and better(score, self.stopping_threshold):
            self.best_score = score
            return True, (f"{self.monitor} = {score:.4f} is {self.rule} than stopping_threshold "
                          f"{self.stopping_threshold}")
        delta = self.min_delta if self.rule == "greater" else -self.min_delta
        if better(self.best_score + delta, score):
            self.wait_count += 1
            if self.wait_count >= self.patience:
                return True, (f"{self.monitor} did not improve by {self.min_delta:g} in the last {self.wait_count} "
                              f"evaluations (best {self.best_score:.4f})")
            return False, ""
        self.best_score, self.wait_count = score, 0
        return False, ""
