"""Running a :class:`~minim.launch.commands.LaunchPlan`: worker failures become one line, not torchrun's traceback.

torchrun reports a failed worker with its own Python traceback (``ChildFailedError``) and a
table; :class:`TorchrunStderr` drops those and its internal log lines from the stream (worker
output passes through untouched) and keeps the root cause: which rank failed, with which status.
``MINIM_DEBUG=1`` shows everything.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import TextIO

from minim.errors import LaunchError
from minim.launch.commands import LaunchPlan

_ELASTIC_LOG = re.compile(r"^[IWEDC]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ torch/distributed/")
_FAILED_LOG = re.compile(r"failed \(exitcode: (-?\d+)\) local_rank: (\d+)")
_CHILD_FAILED = "torch.distributed.elastic.multiprocessing.errors.ChildFailedError"
_RANK_LINE = re.compile(r"^\s*rank\s*:\s*(\d+)")
_EXIT_LINE = re.compile(r"^\s*exitcode\s*:\s*(-?\d+)")


@dataclass
class Failure:
    rank: int | None = None
    status: int | None = None


class TorchrunStderr:
    """Line filter for torchrun's stderr: ``feed(line)`` returns the lines to show."""

    def __init__(self):
        self.failure = Failure()
        self._state = "pass"
        self._buffer: list[str] = []
        self._rules = 0
        self._in_root_cause = False

    def feed(self, line: str) -> list[str]:
        if self._state == "traceback":
            return self._traceback_line(line)
        if self._state == "report":
            self._report_line(line)
            return []
        if _ELASTIC_LOG.match(line):
            found = _FAILED_LOG.search(line)
            if found and self.failure.status is None:
                self.failure.status = int(found.group(1))
            return []
        if line.startswith("Traceback (most recent call last):"):
            self._state, self._buffer = "traceback", [line]
            return []
        return [line]

    def _traceback_line(self, line: str) -> list[str]:
        self._buffer.append(line)
        if line[:1].isspace() or not line.strip():
            return []
        self._state = "pass"
        if line.startswith(_CHILD_FAILED):
            self._state, self._buffer, self._rules = "report", [], 0
            return []
        shown, self._buffer = self._buffer, []
        return shown

    def _report_line(self, line: str) -> None:
        if line.strip() and set(line.strip()) == {"="}:
            self._rules += 1
            if self._rules >= 2:
                self._state = "pass"
            return
        if line.startswith("Root Cause"):
            self._in_root_cause = True
        if not self._in_root_cause:
            return
        rank = _RANK_LINE.match(line)
        if rank:
            self.failure.rank = int(rank.group(1))
        status = _EXIT_LINE.match(line)
        if status:
            self.failure.status = int(status.group(1))

    def finish(self) -> list[str]:
        """Lines still held back (a traceback cut short)."""
        shown, self._buffer = self._buffer, []
        return shown


def _debug() -> bool:
    from minim.settings import debug

    return debug()


def run_plan(plan: LaunchPlan, stderr: TextIO | None = None) -> None:
    """Run ``plan`` (workers inherit stdout); raise :class:`LaunchError` when it fails."""
    stderr = stderr or sys.stderr
    env = {**os.environ, **plan.env}
    filtered = plan.kind == "pytorch" and not _debug()
    try:
        process = subprocess.Popen(plan.argv, env=env, stderr=subprocess.PIPE if filtered else None,
                                   text=True, errors="replace", bufsize=1)
    except FileNotFoundError:
        hint = "run it on a Slurm login node (srun must be on PATH)" if plan.kind == "slurm" else None
        raise LaunchError(f"cannot start {plan.argv[0]}: not found", hint=hint) from None
    watcher = TorchrunStderr() if filtered else None
    try:
        if watcher is not None:
            for line in process.stderr:
                for shown in watcher.feed(line):
                    stderr.write(shown)
                stderr.flush()
            for shown in watcher.finish():
                stderr.write(shown)
        returncode = process.wait()
    except KeyboardInterrupt:
        _stop(process)
        raise
    if returncode != 0:
        raise _failure_error(plan, returncode, watcher.failure if watcher else Failure())


def _stop(process: subprocess.Popen) -> None:
    try:
        process.wait(timeout=10)  # the launcher got the same Ctrl-C and stops its workers
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _failure_error(plan: LaunchPlan, returncode: int, failure: Failure) -> LaunchError:
    launcher = "torchrun" if plan.kind == "pytorch" else "srun"
    status = failure.status if failure.status is not None else returncode
    who = f"worker rank {failure.rank}" if failure.rank is not None else (
        "a worker" if plan.kind == "pytorch" else "a task")
    if status < 0:
        what = f"was killed by signal {_signal_name(-status)}"
        code = 128 + (-status)
    else:
        what = f"exited with status {status}"
        code = status if 0 < status < 126 else 1
    if failure.status is None and plan.kind == "pytorch":
        message = f"{launcher} exited with status {returncode}"
    elif plan.kind == "slurm":
        message = f"{launcher} exited with status {returncode} ({who} failed)"
    else:
        message = f"{launcher}: {who} {what}"
    error = LaunchError(message + "; the workers' messages are above")
    error.exit_code = code
    return error


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
