"""Running a :class:`~minim.launch.commands.LaunchPlan`: worker failures become one line, not torchrun's traceback.

torchrun reports a failed worker with its own Python traceback (``ChildFailedError``) and a
table; :class:`TorchrunStderr` drops those and its internal log lines from the stream (worker
output passes through untouched) and keeps the root cause: which rank failed, with which status.
``MINIM_DEBUG=1`` shows everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
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
        #: set when minim stops torchrun itself: its report of the stop (a SignalException traceback) is noise
        self.quiet = False

    def feed(self, line: str) -> list[str]:
        if self.quiet:
            return []
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


#: how long torchrun / srun get to stop their workers after being asked, before the whole group is killed
STOP_GRACE_SECONDS = 15


class _Signalled(Exception):
    """SIGTERM (or SIGHUP) reached the launching process."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def run_plan(plan: LaunchPlan, stderr: TextIO | None = None) -> None:
    """Run ``plan`` (workers inherit stdout); raise :class:`LaunchError` when it fails.

    torchrun / srun run in a process group of their own, so that no worker outlives this process:
    Ctrl-C (SIGINT) or SIGTERM here asks the launcher to stop its workers (SIGTERM), and after
    :data:`STOP_GRACE_SECONDS` the whole group is killed; a launcher that dies leaves no worker behind.
    """
    stderr = stderr or sys.stderr
    env = {**os.environ, **plan.env}
    filtered = plan.kind == "pytorch" and not _debug()
    try:
        process = subprocess.Popen(plan.argv, env=env, stderr=subprocess.PIPE if filtered else None,
                                   text=True, errors="replace", bufsize=1, start_new_session=True)
    except FileNotFoundError:
        hint = "run it on a Slurm login node (srun must be on PATH)" if plan.kind == "slurm" else None
        raise LaunchError(f"cannot start {plan.argv[0]}: not found", hint=hint) from None
    watcher = TorchrunStderr() if filtered else None
    relay = None
    if watcher is not None:  # read in a thread: the main thread waits for the launcher itself
        relay = threading.Thread(target=_relay, args=(process.stderr, watcher, stderr), daemon=True)
        relay.start()
    try:
        with _signals_raise():
            returncode = process.wait()
    except KeyboardInterrupt:
        _stop(process, watcher)
        raise
    except _Signalled as signalled:
        _stop(process, watcher)
        error = LaunchError(f"stopped by {_signal_name(signalled.signum)}; the workers were stopped")
        error.exit_code = 128 + signalled.signum
        raise error from None
    finally:
        _kill_group(process)  # no worker outlives its launcher (one killed by a signal leaves them running)
        if relay is not None:
            relay.join()
    if returncode != 0:
        raise _failure_error(plan, returncode, watcher.failure if watcher else Failure())


def _relay(stream, watcher: TorchrunStderr, stderr: TextIO) -> None:
    for line in stream:
        for shown in watcher.feed(line):
            stderr.write(shown)
        stderr.flush()
    for shown in watcher.finish():
        stderr.write(shown)
    stderr.flush()


@contextlib.contextmanager
def _signals_raise():
    """SIGTERM and SIGHUP raise :class:`_Signalled` instead of ending this process on the spot."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Signalled(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _stop(process: subprocess.Popen, watcher: TorchrunStderr | None) -> None:
    """Ask the launcher to stop its workers (SIGTERM, as torchrun and srun expect); kill the group if it
    does not finish in time."""
    if watcher is not None:
        watcher.quiet = True
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    _kill_group(process)
    process.wait()


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL whatever is left of the launcher's process group (its workers)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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
    if failure.status is None and returncode < 0:
        message = f"{launcher} was killed by signal {_signal_name(-returncode)}"
    elif failure.status is None and plan.kind == "pytorch":
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
