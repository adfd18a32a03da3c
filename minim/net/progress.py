"""Download progress on stderr: a rich bar on terminals, a line every 10% otherwise, or nothing.

Modes: ``'auto'`` (bar when stderr is a terminal, else lines), ``'bar'``, ``'lines'`` (alias ``'plain'``),
``'none'``;
``True``/``False`` mean ``'auto'``/``'none'``. Reporters are told absolute byte counts and redraw at
most ``REFRESH_SECONDS`` apart, so that a fast download is not slowed by its own progress display.
"""

from __future__ import annotations

import sys
import time

MODES = ("auto", "bar", "lines", "plain", "none")
REFRESH_SECONDS = 0.1
LINE_STEP_PERCENT = 10
LINE_STEP_UNKNOWN = 32 << 20  # bytes between lines when the size is unknown
_MB = 1e6  #: decimal megabytes, as rich's bar shows sizes and speeds


def resolve_mode(mode) -> str:
    """Normalise a progress argument to one of 'bar', 'lines', 'none'."""
    if mode is True:
        mode = "auto"
    elif mode is False or mode is None:
        mode = "none"
    if mode not in MODES:
        raise ValueError(f"progress must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "plain":
        return "lines"
    if mode == "auto":
        stream = sys.stderr
        return "bar" if stream is not None and stream.isatty() else "lines"
    return mode


def make_reporter(mode, label: str):
    """A reporter for one download called ``label`` (see :class:`Reporter`)."""
    resolved = resolve_mode(mode)
    if resolved == "bar":
        return BarReporter(label)
    if resolved == "lines":
        return LineReporter(label)
    return Reporter(label)


def _mb(n: int) -> str:
    return f"{n / _MB:.1f} MB"


class Reporter:
    """Silent base reporter: ``start(total, done)`` (again after a restart), ``update(done)``, ``finish(ok)``."""

    def __init__(self, label: str):
        self.label = label
        self.total: int | None = None
        self.started = time.monotonic()
        self.first_done = 0

    def start(self, total: int | None, done: int = 0) -> None:
        self.total = total
        self.first_done = done

    def update(self, done: int) -> None:
        pass

    def finish(self, ok: bool) -> None:
        pass


class LineReporter(Reporter):
    """Plain lines on stderr, for logs and pipes."""

    def __init__(self, label: str, stream=None):
        super().__init__(label)
        self.stream = stream or sys.stderr
        self.next_mark = 0
        self.done = 0

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, total, done=0):
        super().start(total, done)
        self.done = done
        size = _mb(total) if total is not None else "size unknown"
        resumed = f", resuming at {_mb(done)}" if done else ""
        self._say(f"downloading {self.label} ({size}{resumed})")
        self.next_mark = self._mark_after(done)

    def _mark_after(self, done: int) -> int:
        if self.total:
            step = max(1, self.total * LINE_STEP_PERCENT // 100)
            return (done // step + 1) * step
        return (done // LINE_STEP_UNKNOWN + 1) * LINE_STEP_UNKNOWN

    def update(self, done):
        self.done = done
        if done < self.next_mark or (self.total and done >= self.total):
            return
        if self.total:
            self._say(f"  {self.label}: {100 * done // self.total}% ({_mb(done)} of {_mb(self.total)})")
        else:
            self._say(f"  {self.label}: {_mb(done)}")
        self.next_mark = self._mark_after(done)

    def finish(self, ok):
        if not ok:
            return
        seconds = max(time.monotonic() - self.started, 1e-6)
        rate = (self.done - self.first_done) / _MB / seconds
        self._say(f"  {self.label}: done, {_mb(self.done)} in {seconds:.1f} s ({rate:.1f} MB/s)")


class BarReporter(Reporter):
    """A rich progress bar on stderr (imported only when used)."""

    def __init__(self, label: str):
        super().__init__(label)
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=Console(stderr=True), refresh_per_second=5,
        )
        self.task = None
        self.last_draw = 0.0

    def start(self, total, done=0):
        super().start(total, done)
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total, completed=done)
        else:
            self.progress.update(self.task, total=total, completed=done)

    def update(self, done):
        now = time.monotonic()
        if now - self.last_draw >= REFRESH_SECONDS or (self.total is not None and done >= self.total):
            self.last_draw = now
            self.progress.update(self.task, completed=done)

    def finish(self, ok):
        if self.task is not None:
            self.progress.stop()
