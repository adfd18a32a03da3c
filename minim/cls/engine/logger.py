"""Run logs: ``<timestamp>.log`` (text), ``<timestamp>.log.json`` (one JSON object per line),
the console (rich progress bar with ETA on a terminal, plain lines otherwise) and the writers of
the configured trackers (:mod:`minim.cls.engine.trackers`).

JSON lines follow mmcv's ``TextLoggerHook``: the first line is the run's meta (env info,
config text, seed, experiment name); train lines carry ``mode='train', epoch, iter, lr,
data_time, time, loss[, grad_norm], memory``; validation lines ``mode='val', epoch, iter, lr``
and the metric keys (percentages) or the validation loss.
"""

from __future__ import annotations

import datetime
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from minim.cls.engine.dist import is_main_process
from minim.errors import warning_line


def _json_value(value: Any) -> Any:
    """A JSON-ready value: floats to 6 significant digits (mmcv rounds them; 0.010000000000000002 is noise),
    NaN and infinities as JSON's ``NaN``/``Infinity``, as mmcv's json dump writes them."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.6g}")
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def _format_value(key: str, value: Any) -> str:
    if key == "lr":
        return f"{value:.3e}"
    if isinstance(value, float):
        return f"{value:.4f}" if key not in ("time", "data_time") else f"{value:.3f}"
    if hasattr(value, "tolist"):
        return str([round(v, 4) for v in value.tolist()])
    return str(value)


class RunLogger:
    """Writes the text and JSON logs of one run and mirrors messages on the console.

    Only the main process writes. ``work_dir=None`` logs to the console only.
    """

    def __init__(
        self,
        work_dir: str | Path | None = None,
        timestamp: str | None = None,
        console: bool = True,
        progress: bool | None = None,
    ):
        self.enabled = is_main_process()
        self.timestamp = timestamp or time.strftime("%Y%m%d_%H%M%S")
        self.text_path = self.json_path = None
        self._text = self._json = None
        if work_dir is not None and self.enabled:
            work_dir = Path(work_dir)
            self.text_path = work_dir / f"{self.timestamp}.log"
            self.json_path = work_dir / f"{self.timestamp}.log.json"
            self._text = open(self.text_path, "a", encoding="utf-8")
            self._json = open(self.json_path, "a", encoding="utf-8")
        self.console_enabled = console and self.enabled
        self._console = None
        self._progress = None
        self._task = None
        self._subtask = None
        self._use_progress = progress
        self.writers: list[Any] = []  # scalar writers of the trackers (minim.cls.engine.trackers)

    # --- console ----------------------------------------------------------------------
    @property
    def console(self):
        if self._console is None:
            self._console = Console(highlight=False, soft_wrap=True)
        return self._console

    def _print(self, message: str, style: str | None = None) -> None:
        if not self.console_enabled:
            return
        if self._progress is not None:
            self._progress.console.print(message, style=style, markup=False)
        else:
            self.console.print(message, style=style, markup=False)

    # --- text -------------------------------------------------------------------------
    def _write_text(self, level: str, message: str) -> None:
        if self._text is None:
            return
        now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        self._text.write(f"{now} - minim - {level} - {message}\n")
        self._text.flush()

    def info(self, message: str, console: bool = True) -> None:
        """A line in the text log and, unless ``console=False``, on the console."""
        if not self.enabled:
            return
        self._write_text("INFO", message)
        if console:
            self._print(message)

    def warning(self, message: str) -> None:
        """A warning: text log and stderr (while a progress bar is shown: printed above it, on its console)."""
        if not self.enabled:
            return
        self._write_text("WARNING", message)
        if self.console_enabled:
            if self._progress is not None:
                self._progress.console.print(warning_line(message), style="yellow", markup=False)
            else:
                print(warning_line(message), file=sys.stderr, flush=True)

    def json(self, record: Mapping[str, Any]) -> None:
        """One JSON object on its own line in the ``.log.json`` file."""
        if self._json is None:
            return
        self._json.write(json.dumps({k: _json_value(v) for k, v in record.items()}) + "\n")
        self._json.flush()

    # --- metrics ----------------------------------------------------------------------
    def log_record(self, record: Mapping[str, Any], header: str, step: int, eta: str | None = None,
                   tracked: Mapping[str, Any] | None = None) -> None:
        """A train/val record: JSON line, formatted text line, scalar writers (which also get ``tracked``: what
        mmcv's trackers log beyond its text and JSON logs, e.g. ``momentum``)."""
        if not self.enabled:
            return
        self.json(record)
        skip = {"mode", "epoch", "iter"}
        parts = []
        for key, value in record.items():
            if key in skip:
                continue
            parts.append(f"{key}: {_format_value(key, value)}")
            if key == "lr" and eta is not None:
                parts.append(f"eta: {eta}")
        self.info(f"{header}\t" + ", ".join(parts))
        for writer in self.writers:
            writer.add_scalars({**record, **(tracked or {})}, step)

    # --- progress bar -----------------------------------------------------------------
    def progress_active(self) -> bool:
        if not self.console_enabled:
            return False
        if self._use_progress is not None:
            return self._use_progress
        return self.console.is_terminal

    def start_progress(self, description: str, total: int, completed: int = 0) -> None:
        """Show (or reset) the progress bar; no-op when the console is not a terminal."""
        if not self.progress_active():
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(description, total=total, completed=completed, status="")
        else:
            self._progress.reset(self._task, total=total, completed=completed, description=description, status="")

    def start_subtask(self, description: str, total: int) -> None:
        """A second bar under the main one (e.g. evaluation), removed by :meth:`end_subtask`."""
        if self._progress is None:
            return
        self.end_subtask()
        self._subtask = self._progress.add_task(description, total=total, status="")

    def advance_subtask(self, steps: int = 1) -> None:
        if self._progress is not None and self._subtask is not None:
            self._progress.advance(self._subtask, steps)

    def end_subtask(self) -> None:
        if self._progress is not None and self._subtask is not None:
            self._progress.remove_task(self._subtask)
        self._subtask = None

    def advance(self, steps: int = 1, status: str | None = None) -> None:
        if self._progress is None:
            return
        if status is None:
            self._progress.advance(self._task, steps)
        else:
            self._progress.update(self._task, advance=steps, status=status)

    def stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
            self._subtask = None

    def close(self) -> None:
        """Stop the progress bar and close files and writers."""
        self.stop_progress()
        for writer in self.writers:
            writer.close()
        self.writers = []
        for handle in (self._text, self._json):
            if handle is not None:
                handle.close()
        self._text = self._json = None


def format_eta(seconds: float) -> str:
    """``H:MM:SS`` for an ETA."""
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))
