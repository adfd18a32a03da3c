"""Metric names: the one check shared by the single- and multi-label metrics."""

from __future__ import annotations

from typing import Sequence

from minim.errors import ConfigError, ConfigValueError
from minim.suggest import did_you_mean


def check_metric_names(metric: str | Sequence[str], supported: Sequence[str]) -> list[str]:
    """The metric names of ``metric`` (one or several); names not in ``supported`` are a :class:`ConfigError`."""
    names = [metric] if isinstance(metric, str) else list(metric)
    if not names:
        raise ConfigError("no metric given; choose from " + ", ".join(supported))
    for name in names:
        if name not in supported:
            raise ConfigValueError(
                f"unknown metric {name!r}; supported: {', '.join(supported)}", hint=did_you_mean(str(name), supported)
            )
    return names
