"""``log_config``: when train/val records are written (text, JSON, console, trackers).

``log_config = dict(interval=10, hooks=[dict(type='TextLoggerHook'), dict(type='TensorboardLoggerHook')])``;
the trackers ``TensorboardLoggerHook``, ``WandbLoggerHook``, ``MMClsWandbHook`` and ``MlflowLoggerHook`` take
mmcv's / mmcls's arguments (:mod:`minim.cls.engine.trackers`); a tracker whose pip package is not installed
is a :class:`ConfigError` naming the package, raised by :func:`check_log_config` before training starts.
Train records average the iterations since the previous record. Unlike mmcv, the last
iteration of every epoch is always logged, so an ``interval`` larger than an epoch still
shows training progress (mmcls trap #11). The text and JSON logs are always written.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Mapping

from minim.cls.engine.hooks import Hook
from minim.cls.engine.logger import format_eta
from minim.cls.engine.trackers import KEYS as TRACKER_KEYS, PACKAGES as TRACKER_PACKAGES, make_tracker
from minim.errors import ConfigError
from minim.suggest import did_you_mean

LOGGER_TYPES = ("TextLoggerHook", *TRACKER_KEYS)
TEXT_KEYS = ("by_epoch", "ignore_last", "interval_exp_name", "out_dir", "reset_flag", "interval")


class LoggerHook(Hook):
    priority = "VERY_LOW"

    def __init__(self, interval: int = 10, trackers: list[tuple[str, dict]] = ()):
        if not isinstance(interval, int) or interval <= 0:
            raise ConfigError(f"log_config.interval must be a positive int, got {interval!r}")
        self.interval = interval
        #: ``(type, options)`` of each tracker of ``log_config.hooks``
        self.trackers = list(trackers)

    def before_run(self, runner) -> None:
        logger = runner.logger
        logger.json({k: runner.meta[k] for k in ("env_info", "config", "seed", "exp_name") if k in runner.meta})
        if logger.enabled:  # the main process only
            for kind, options in self.trackers:
                logger.writers.append(make_tracker(kind, options, runner.work_dir))
        self._start_time = time.perf_counter()
        self._start_iter = runner.iter
        if not runner.by_epoch:
            logger.start_progress("train", total=runner.max_iters, completed=runner.iter)

    def before_train_epoch(self, runner) -> None:
        done = runner.iter - runner.epoch * runner.iters_per_epoch
        runner.logger.start_progress(
            f"epoch {runner.epoch + 1}/{runner.max_epochs}", total=runner.iters_per_epoch, completed=done
        )

    def _eta(self, runner) -> str:
        done = runner.iter + 1 - self._start_iter
        elapsed = time.perf_counter() - self._start_time
        return format_eta(elapsed / max(done, 1) * (runner.max_iters - runner.iter - 1))

    def due(self, runner) -> bool:
        """Whether this iteration ends a logging interval (or the epoch / the run)."""
        if runner.by_epoch:
            return (runner.inner_iter + 1) % self.interval == 0 or self.is_last_inner_iter(runner)
        return self.every_n_iters(runner, self.interval) or self.is_last_iter(runner)

    def after_train_iter(self, runner) -> None:
        record = self.log_train(runner) if self.due(runner) else None
        runner.logger.advance(status=f"loss {record['loss']:.4f}" if record and "loss" in record else None)

    def log_train(self, runner) -> dict | None:
        """Write the train record of the iterations since the last one; None when there are none (an
        evaluation at this iteration wrote it first, as mmcv's EvalHook has the logger do)."""
        values = runner.pop_log_averages()
        if not values:
            return None
        record = {"mode": "train", "epoch": runner.epoch + 1}
        if runner.by_epoch:
            record["iter"] = runner.inner_iter + 1
            header = f"Epoch [{runner.epoch + 1}][{runner.inner_iter + 1}/{runner.iters_per_epoch}]"
        else:
            record["iter"] = runner.iter + 1
            header = f"Iter [{runner.iter + 1}/{runner.max_iters}]"
        record["lr"] = runner.current_lr
        # mmcv's key order: mode, epoch, iter, lr, memory, data_time, <losses>, time
        record["memory"] = values.pop("memory")
        record["data_time"] = values.pop("data_time")
        step_time = values.pop("time")
        record.update(values)
        record["time"] = step_time
        runner.logger.log_record(record, header, step=runner.iter + 1, eta=self._eta(runner),
                                 tracked=_momentum(runner))
        return record

    def after_val_epoch(self, runner) -> None:
        values = runner.pop_log_averages()
        values.pop("data_time", None)
        values.pop("time", None)
        values.pop("memory", None)
        record = {"mode": "val", "epoch": runner.epoch + (0 if runner.by_epoch else 1), "iter": runner.inner_iter + 1}
        record["lr"] = runner.current_lr
        record.update(values)
        header = (f"Epoch(val) [{record['epoch']}][{runner.inner_iter + 1}]" if runner.by_epoch
                  else f"Iter(val) [{runner.inner_iter + 1}]")
        runner.logger.log_record(record, header, step=runner.iter, tracked=_momentum(runner))

    def after_evaluation(self, runner, results) -> None:
        """Trackers that log more than scalars after an evaluation (MMClsWandbHook's tables) do it now."""
        for writer in runner.logger.writers:
            if hasattr(writer, "after_evaluation"):
                writer.after_evaluation(runner, results)

    def after_run(self, runner) -> None:
        runner.logger.stop_progress()


def check_log_config(log_config) -> tuple[int, list[tuple[str, dict]]]:
    """Check ``log_config`` (keys, hook types and their keys, the trackers' pip packages, found with
    ``importlib.util.find_spec`` without importing them); return its interval and ``(type, options)`` of
    each tracker. Raises :class:`ConfigError` naming the key, or the package to install."""
    cfg = dict(log_config or {})
    interval = cfg.pop("interval", 10)
    hooks = cfg.pop("hooks", [dict(type="TextLoggerHook")])
    if cfg:
        key = next(iter(cfg))
        raise ConfigError(f"log_config has unknown key {key!r}; known: interval, hooks", hint=did_you_mean(key, ["interval", "hooks"]))
    trackers = []
    for hook in hooks or []:
        if not isinstance(hook, Mapping):
            raise ConfigError(f"log_config.hooks entries must be dicts such as dict(type='TextLoggerHook'), got {hook!r}")
        hook = dict(hook)
        kind = hook.pop("type", None)
        if kind not in LOGGER_TYPES:
            raise ConfigError(
                f"log_config.hooks: unknown logger type {kind!r}; available: {', '.join(LOGGER_TYPES)}",
                hint=did_you_mean(str(kind), LOGGER_TYPES),
            )
        allowed = TEXT_KEYS if kind == "TextLoggerHook" else TRACKER_KEYS[kind]
        for key in hook:
            if key not in allowed:
                raise ConfigError(f"log_config.hooks: {kind} has unknown key {key!r}; known: {', '.join(allowed)}",
                                  hint=did_you_mean(key, allowed))
        if kind == "TextLoggerHook":
            interval = hook.get("interval", interval)
            continue
        package, module = TRACKER_PACKAGES[kind]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"log_config.hooks: {kind} needs the {package} package, which is not installed",
                              hint=f"pip install {package}, or remove {kind} from log_config.hooks")
        trackers.append((kind, hook))
    return interval, trackers


def build_logger_hook(log_config) -> LoggerHook:
    """The hook for ``log_config`` (missing -> interval 10, text + JSON only); see :func:`check_log_config`."""
    interval, trackers = check_log_config(log_config)
    return LoggerHook(interval=interval, trackers=trackers)


def _momentum(runner) -> dict[str, float]:
    """``{'momentum': ...}`` for the trackers, as mmcv's give them (nothing for an optimizer without one)."""
    momentum = getattr(runner, "current_momentum", None)
    return {} if momentum is None else {"momentum": momentum}
