"""Results of a grid search: best metric of each run from its JSON log, ranking, table, summary files."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from minim.atomic import write_text_atomic
from minim.runlogs import JsonLog, load_json_log
from minim.errors import MinimError

#: numeric keys of val records that are not metrics (``('val', N)`` workflow records log losses and times)
NOT_METRICS = ("lr", "time", "data_time", "memory", "loss")


def newest_json_log(work_dir: Path) -> Path | None:
    """The run's JSON log (``<timestamp>.log.json``; the newest when a folder holds several)."""
    logs = sorted(Path(work_dir).glob("*.log.json"), key=lambda p: (p.stat().st_mtime, p.name))
    return logs[-1] if logs else None


def read_log(json_log: Path) -> JsonLog | None:
    """A run's JSON log, or None when it holds no record (a run that failed before logging)."""
    try:
        return load_json_log(json_log)
    except MinimError:
        return None


def metric_keys(log: JsonLog | None) -> list[str]:
    """Every metric key the validation records hold, in order of appearance."""
    return [k for k in log.keys("val") if k not in NOT_METRICS] if log is not None else []


def first_metric_key(log: JsonLog | None) -> str | None:
    """``save_best='auto'``: the first metric a validation record holds (e.g. ``accuracy_top-1``)."""
    keys = metric_keys(log)
    return keys[0] if keys else None


def best_of(log: JsonLog | None, key: str, rule: str) -> tuple[float | None, int | None]:
    """(best value of ``key``, its epoch — or iteration for iteration-based runs) over the val records."""
    best = where = None
    position = "iter" if log is not None and log.iteration_based else "epoch"
    for record in log.val if log is not None else []:
        value = record.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
            continue
        if best is None or (value > best if rule == "greater" else value < best):
            best, where = float(value), record.get(position)
    return best, where


def rank_runs(runs: list, rule: str) -> list:
    """Runs with a metric first (best first by ``rule``), then finished runs without one, then failures."""
    def sort_key(run):
        if run.status == "failed":
            return (2, 0.0)
        if run.best is None:
            return (1, 0.0)
        return (0, -run.best if rule == "greater" else run.best)

    return sorted(runs, key=sort_key)  # stable: ties keep the order of the grid


def write_summary(root: Path, payload: dict[str, Any], runs: list, keys: Sequence[str], metric: str) -> tuple[Path, Path]:
    """``summary.json`` and ``summary.csv`` in ``root`` (atomically)."""
    json_path, csv_path = root / "summary.json", root / "summary.csv"
    data = dict(payload)
    data["runs"] = [dict(rank=i, **_plain(asdict(run))) for i, run in enumerate(runs, 1)]
    write_text_atomic(json_path, json.dumps(data, indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["rank", "name", *keys, metric, "best_at", "status", "seconds", "work_dir", "log"])
    for i, run in enumerate(runs, 1):
        writer.writerow([i, run.name, *[cell_text(run.values.get(k)) for k in keys],
                         "" if run.best is None else run.best, "" if run.best_at is None else run.best_at,
                         run.status, f"{run.seconds:.1f}", run.work_dir, run.log])
    write_text_atomic(csv_path, buffer.getvalue())
    return json_path, csv_path


def cell_text(value: Any) -> str:
    """A searched value as the summary shows it (strings bare, others as JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
