"""Read mmcv-style JSON training logs (``<work_dir>/<timestamp>.log.json``) and time statistics.

A log holds one JSON object per line: first the run's meta (``env_info``, ``config``, ``seed``),
then train records ``{"mode": "train", "epoch", "iter", "lr", "data_time", "time", "loss", "memory"}``
and val records ``{"mode": "val", "epoch", "iter", "accuracy_top-1", ...}`` (mmcv's TextLoggerHook
format, which minim's engine writes too). Lines without ``epoch`` are skipped, as mmcls does.

In epoch-based logs ``iter`` restarts every epoch; in iteration-based logs it counts from the start
of the run. :func:`series` turns either into points on a common x axis.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from minim.errors import DataError, NotFoundError, UsageError
from minim.suggest import did_you_mean

MODES = ("train", "val")
#: the runner of the config text in a log's header line (mmcv and minim write ``config`` there)
_RUNNER_TYPE = re.compile(r"""type\s*=\s*['"](IterBasedRunner|EpochBasedRunner)['"]""")
POSITION_KEYS = ("mode", "epoch", "iter")


@dataclass
class JsonLog:
    """The train and val records of one log file, in file order."""

    path: Path
    train: list[dict[str, Any]] = field(default_factory=list)
    val: list[dict[str, Any]] = field(default_factory=list)
    #: ``IterBasedRunner`` / ``EpochBasedRunner`` when the log's header holds the config, else None
    runner_type: str | None = None

    def records(self, mode: str) -> list[dict[str, Any]]:
        return self.train if mode == "train" else self.val

    def keys(self, mode: str) -> list[str]:
        """The numeric keys that ``mode`` records carry, in first-seen order."""
        seen: dict[str, None] = {}
        for record in self.records(mode):
            for key, value in record.items():
                if key not in POSITION_KEYS and _is_number(value):
                    seen.setdefault(key, None)
        return list(seen)

    @property
    def iteration_based(self) -> bool:
        """Whether ``iter`` counts from the start of the run: the header's runner type says so; without
        one, train ``iter`` values that never go back over several epochs, or within epoch 1, do (one
        later epoch alone is the log of a resumed epoch-based run)."""
        if self.runner_type is not None:
            return self.runner_type == "IterBasedRunner"
        iters = [r["iter"] for r in self.train if _is_number(r.get("iter"))]
        epochs = {r["epoch"] for r in self.train if _is_number(r.get("epoch"))}
        return all(b >= a for a, b in zip(iters, iters[1:])) and (len(epochs) > 1 or epochs <= {1})


@dataclass
class Series:
    """The points of one key of one log."""

    key: str
    mode: str
    x: list[float]
    y: list[float]
    x_label: str  # "iter" or "epoch"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_json_log(path: str | Path) -> JsonLog:
    """Parse one ``.log.json`` file; raise one-line errors naming the file (and line) at fault."""
    path = Path(path)
    if not path.name.endswith(".json"):
        hint = None
        if path.name.endswith(".log"):
            hint = f"pass the JSON log written next to it: {path.name}.json"
        raise UsageError(f"{path}: not a JSON log (the file name must end with .json)", hint=hint)
    if not path.is_file():
        raise NotFoundError(f"log file {path} does not exist" if not path.exists() else f"{path} is not a file")
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    log = JsonLog(path)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not text.endswith("\n"):
                break  # the last line of a run killed while writing it
            raise DataError(f"{path}:{number}: not a JSON log line ({exc.msg})",
                            hint="analyze_logs reads the .log.json files that training writes") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        if "epoch" not in record:  # the header: env_info, config, seed
            found = _RUNNER_TYPE.search(record["config"]) if isinstance(record.get("config"), str) else None
            log.runner_type = found.group(1) if found else log.runner_type
            continue
        mode = record.get("mode", "train")
        if mode in MODES:
            log.records(mode).append(record)
    if not log.train and not log.val:
        raise DataError(f"{path}: no train or val records (lines with \"mode\" and \"epoch\")",
                        hint="is it a training log (<work_dir>/<timestamp>.log.json)?")
    return log


def resolve_key(log: JsonLog, key: str) -> tuple[str, str]:
    """``(mode, key)`` for a key name: train records first, then val; ``train/KEY`` or ``val/KEY`` pick one."""
    mode, _, bare = key.partition("/")
    if bare and mode in MODES:
        if bare in log.keys(mode):
            return mode, bare
        raise _missing_key(log, key)
    for mode in MODES:
        if key in log.keys(mode):
            return mode, key
    raise _missing_key(log, key)


def _missing_key(log: JsonLog, key: str) -> DataError:
    parts = [f"{mode}: {', '.join(log.keys(mode))}" for mode in MODES if log.keys(mode)]
    candidates = [k for mode in MODES for k in log.keys(mode)] + [f"{m}/{k}" for m in MODES for k in log.keys(m)]
    return DataError(f"{log.path} has no key {key!r}; keys in the log: {'; '.join(parts)}",
                     hint=did_you_mean(key, candidates))


def series(log: JsonLog, key: str, x_unit: str | None = None) -> Series:
    """The points of ``key``: train keys over iterations, val keys over epochs (iterations for
    iteration-based runs, or when ``x_unit='iter'``: the end of each epoch). NaN values are skipped."""
    mode, name = resolve_key(log, key)
    records = [r for r in log.records(mode) if _is_number(r.get(name)) and _is_number(r.get("epoch"))]
    by_iter = log.iteration_based and len(log.train) > 0
    per_epoch = _iters_per_epoch(log)
    if mode == "train":
        xs = [r.get("iter", 0) + (0 if by_iter else (r["epoch"] - 1) * per_epoch) for r in records]
        x_label = "iter"
    elif by_iter and all(_is_number(r.get("iter")) for r in records):
        xs, x_label = [r["iter"] for r in records], "iter"
    elif x_unit == "iter":
        xs, x_label = [r["epoch"] * per_epoch for r in records], "iter"
    else:
        xs, x_label = [r["epoch"] for r in records], "epoch"
    points = [(float(x), float(r[name])) for x, r in zip(xs, records) if not math.isnan(float(r[name]))]
    return Series(key=key, mode=mode, x=[p[0] for p in points], y=[p[1] for p in points], x_label=x_label)


def _iters_per_epoch(log: JsonLog) -> int:
    """Iterations of a full epoch: the largest ``iter`` any epoch logged (the last record of an epoch
    is always its final iteration)."""
    return max((int(r["iter"]) for r in log.train if _is_number(r.get("iter"))), default=0)


@dataclass
class TrainTime:
    """Per-iteration time statistics of one log (seconds per iteration)."""

    path: Path
    slowest_epoch: int
    slowest_time: float
    fastest_epoch: int
    fastest_time: float
    std_over_epochs: float
    average: float
    epochs: int
    outliers_included: bool


def train_time(log: JsonLog, include_outliers: bool = False) -> TrainTime:
    """mmcls ``cal_train_time``: the ``time`` of train records grouped by epoch.

    Unless ``include_outliers``, the first record of each epoch is skipped (it includes the data
    loader start-up); an epoch with a single record keeps it. Returns the slowest / fastest epoch
    by mean time, the standard deviation of the epoch means and the mean over all records.
    """
    by_epoch: dict[int, list[float]] = {}
    for record in log.train:
        if _is_number(record.get("time")) and _is_number(record.get("epoch")):
            by_epoch.setdefault(int(record["epoch"]), []).append(float(record["time"]))
    if not by_epoch:
        raise DataError(f"{log.path} has no train records with a 'time' value")
    kept = {epoch: (times if include_outliers or len(times) == 1 else times[1:]) for epoch, times in by_epoch.items()}
    means = {epoch: sum(times) / len(times) for epoch, times in kept.items()}
    slowest = max(means, key=lambda e: means[e])
    fastest = min(means, key=lambda e: means[e])
    values = list(means.values())
    centre = sum(values) / len(values)
    std = math.sqrt(sum((v - centre) ** 2 for v in values) / len(values))
    all_times = [t for times in kept.values() for t in times]
    return TrainTime(path=log.path, slowest_epoch=slowest, slowest_time=means[slowest], fastest_epoch=fastest,
                     fastest_time=means[fastest], std_over_epochs=std, average=sum(all_times) / len(all_times),
                     epochs=len(means), outliers_included=include_outliers)


def load_json_logs(paths: Sequence[str | Path]) -> list[JsonLog]:
    """:func:`load_json_log` for each path (at least one)."""
    if not paths:
        raise UsageError("give at least one .log.json file")
    return [load_json_log(p) for p in paths]
