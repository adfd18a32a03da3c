"""The ``evaluation`` dict of a config, checked without torch: hook options, metric options, ``save_best``."""

from __future__ import annotations

from typing import Any

from minim.cls.metrics import infer_rule, metric_keys
from minim.errors import ConfigError
from minim.suggest import did_you_mean

HOOK_KEYS = ("interval", "start", "by_epoch", "save_best", "rule", "greater_keys", "less_keys", "out_dir", "gpu_collect", "tmpdir")
METRIC_KEYS = ("metric", "metric_options")
RULES = {"greater": lambda a, b: a > b, "less": lambda a, b: a < b}


def split_eval_cfg(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(hook options, metric options) of an ``evaluation`` dict; unknown keys are errors."""
    hook, metric = {}, {}
    for key, value in dict(cfg).items():
        if key == "type":
            continue
        if key in HOOK_KEYS:
            hook[key] = value
        elif key in METRIC_KEYS:
            metric[key] = value
        else:
            known = HOOK_KEYS + METRIC_KEYS
            raise ConfigError(f"evaluation has unknown key {key!r}; known: {', '.join(known)}", hint=did_you_mean(key, known))
    return hook, metric


def resolve_save_best(
    save_best: str | None, rule: str | None, metric: Any, metric_options: Any, num_classes: int
) -> tuple[str | None, str | None]:
    """(key, rule) for ``save_best``, checked against the keys the metrics will produce."""
    if save_best is None:
        return None, None
    keys = [k for k in metric_keys(metric, metric_options, num_classes)]
    if not keys:
        raise ConfigError(f"evaluation.save_best={save_best!r} but evaluation.metric={metric!r} produces no key")
    key = keys[0] if save_best == "auto" else save_best
    if key not in keys:
        raise ConfigError(
            f"evaluation.save_best={save_best!r} is not a key that evaluation.metric={metric!r} "
            f"(metric_options={metric_options!r}) produces; it produces: {', '.join(keys)}",
            hint=did_you_mean(save_best, keys),
        )
    if rule is not None:
        if rule not in RULES:
            raise ConfigError(f"evaluation.rule must be 'greater' or 'less', got {rule!r}")
        return key, rule
    try:
        inferred = infer_rule(key)
    except (ConfigError, ValueError, KeyError) as exc:
        message = exc.message if isinstance(exc, ConfigError) else str(exc)
        raise ConfigError(f"evaluation.save_best={key!r}: {message}", hint="set evaluation.rule='greater' or 'less'") from exc
    if inferred not in RULES:
        raise ConfigError(
            f"cannot infer whether a greater or smaller {key!r} is better",
            hint="set evaluation.rule='greater' or 'less'",
        )
    return key, inferred
