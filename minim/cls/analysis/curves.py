"""Plot training curves from JSON logs: one panel per key, one line per log."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from minim.runlogs import JsonLog, series
from minim.plotting import check_plot_path, new_figure, save_figure
from minim.errors import DataError, UsageError

PANEL_HEIGHT = 3.2
FIGURE_WIDTH = 9.0


def log_labels(logs: Sequence[JsonLog]) -> list[str]:
    """Short distinct names for the logs: their work-dir names, else file names, else full paths."""
    candidates = (
        [log.path.parent.name or str(log.path.parent) for log in logs],
        [log.path.name.removesuffix(".json").removesuffix(".log") for log in logs],
        [str(log.path) for log in logs],
    )
    for labels in candidates:
        if len(set(labels)) == len(labels) and all(labels):
            return labels
    return candidates[-1]


def line_labels(logs: Sequence[JsonLog], keys: Sequence[str], legend: Sequence[str] | None) -> list[list[str]]:
    """``labels[i][j]`` names the line of log ``i``, key ``j``.

    ``legend`` gives one name per log, or one per line in mmcls's order (log by log, keys within).
    """
    if not legend:
        names = log_labels(logs)
        return [[name] * len(keys) for name in names]
    if len(legend) == len(logs):
        return [[name] * len(keys) for name in legend]
    if len(legend) == len(logs) * len(keys):
        return [list(legend[i * len(keys):(i + 1) * len(keys)]) for i in range(len(logs))]
    raise UsageError(f"--legend has {len(legend)} names; give one per log ({len(logs)}) or one per "
                     f"log and key ({len(logs) * len(keys)})")


def parse_window_size(text: str | None) -> tuple[float, float] | None:
    """``'12*7'`` or ``'12x7'`` (inches) -> ``(12.0, 7.0)``; None stays None."""
    if text is None:
        return None
    for sep in ("*", "x", "X"):
        if sep in text:
            width, _, height = text.partition(sep)
            try:
                size = (float(width), float(height))
            except ValueError:
                break
            if size[0] > 0 and size[1] > 0:
                return size
            break
    raise UsageError(f"--window-size {text!r}: expected WIDTH*HEIGHT in inches, e.g. 12*7")


def plot_curves(logs: Sequence[JsonLog], keys: Sequence[str], out: str | Path, *, legend: Sequence[str] | None = None,
                title: str | None = None, window_size: tuple[float, float] | None = None) -> Path:
    """Draw ``keys`` of ``logs`` into ``out`` (PNG, PDF or SVG) and return its path.

    Each key gets a panel (train keys over iterations, val keys over epochs), each log a line in
    every panel; every key must be in every log.
    """
    if not keys:
        raise UsageError("give at least one key to plot (--keys loss accuracy_top-1)")
    out = check_plot_path(out)
    labels = line_labels(logs, keys, legend)
    panels = [_panel(logs, key) for key in keys]
    for key, lines in zip(keys, panels):
        if not any(line.x for line in lines):
            raise DataError(f"key {key!r} has no numeric values in {', '.join(str(log.path) for log in logs)}")
    width, height = window_size or (FIGURE_WIDTH, max(PANEL_HEIGHT * len(keys), 3.6))
    figure = new_figure(width, height)
    axes = figure.subplots(len(keys), 1, squeeze=False)[:, 0]
    for j, (key, lines, ax) in enumerate(zip(keys, panels, axes)):
        for i, line in enumerate(lines):
            few_points = len(line.x) <= 30
            ax.plot(line.x, line.y, label=labels[i][j], marker="o" if few_points else None,
                    markersize=4 if few_points else None, linewidth=1.5)
        x_labels = sorted({line.x_label for line in lines})  # one unit per panel (see _panel)
        modes = sorted({line.mode for line in lines})
        ax.set_xlabel(" / ".join(x_labels))
        ax.set_ylabel(key.split("/", 1)[-1])
        ax.set_title(f"{key.split('/', 1)[-1]} ({', '.join(modes)})", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        if x_labels == ["epoch"]:
            ax.xaxis.get_major_locator().set_params(integer=True)
    figure.suptitle(title or _default_title(logs))
    return save_figure(figure, out)


def _panel(logs: Sequence[JsonLog], key: str) -> list:
    """The lines of one key; val epochs become iterations when another log of the panel counts iterations."""
    lines = [series(log, key) for log in logs]
    if len({line.x_label for line in lines}) > 1:
        lines = [series(log, key, x_unit="iter") for log in logs]
    return lines


def _default_title(logs: Sequence[JsonLog]) -> str:
    names = log_labels(logs)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"training curves: {shown}"
