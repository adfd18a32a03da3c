"""Run pip through its command line in a subprocess of the target interpreter.

minim never imports pip (its internals change with every release, which is what broke mim)
and never imports pkg_resources. Every call gets bounded retries and timeouts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Callable

from packaging.version import InvalidVersion, Version

from minim.errors import PackageError

#: pip's --retries / --timeout for every call (pip's defaults are 5 retries and 15 s each)
PIP_RETRIES = 1
PIP_TIMEOUT = 15
#: pip gained ``install --dry-run --report -`` in 22.2
REPORT_MIN_PIP = Version("22.2")

_FROM_VERSIONS = re.compile(r"Could not find a version that satisfies the requirement (\S+) \(from versions: ([^)]*)\)")


@dataclass
class PipResult:
    """What one pip call did."""

    command: list[str]
    returncode: int
    lines: list[str] = field(default_factory=list)
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_lines(self) -> list[str]:
        """pip's own ERROR lines and its "The conflict is caused by:" explanation (or its last lines)."""
        errors = [line for line in self.lines if line.startswith("ERROR:")]
        if "ERROR: Exception:" in errors:  # pip crashed: the traceback's last line says what happened
            last = next((line.strip() for line in reversed(self.lines) if line.strip()), "")
            errors = [f"ERROR: pip crashed: {last}" if line == "ERROR: Exception:" else line for line in errors]
        cause = self.conflict_cause()
        if cause:
            errors = errors[:1] + ["conflict: " + "; ".join(cause)] + errors[1:]
        return errors or [line for line in self.lines if line.strip()][-5:]

    def conflict_cause(self) -> list[str]:
        """The indented lines pip prints under "The conflict is caused by:"."""
        for number, line in enumerate(self.lines):
            if line.strip() == "The conflict is caused by:":
                cause = []
                for following in self.lines[number + 1:]:
                    if not following.startswith((" ", "\t")) or not following.strip():
                        break
                    cause.append(following.strip())
                return cause
        return []

    def versions_offered(self) -> dict[str, list[str]]:
        """``{requirement: [versions]}`` from pip's "Could not find a version ... (from versions: ...)"."""
        found = {}
        for line in self.lines:
            match = _FROM_VERSIONS.search(line)
            if match:
                versions = [v.strip() for v in match.group(2).split(",") if v.strip() and v.strip() != "none"]
                found[match.group(1)] = versions
        return found


class PipRunner:
    """``<python> -m pip ...`` for one target interpreter."""

    def __init__(self, python: str, version: str | None = None, env: dict | None = None):
        self.python = python
        self.version = version
        self.env = env

    def command(self, *args: str) -> list[str]:
        return [self.python, "-m", "pip", *args]

    def bounded(self) -> list[str]:
        """Options every network-using pip command gets."""
        return ["--disable-pip-version-check", "--no-input", "--retries", str(PIP_RETRIES),
                "--timeout", str(PIP_TIMEOUT)]

    def supports_report(self) -> bool:
        try:
            return self.version is not None and Version(self.version) >= REPORT_MIN_PIP
        except InvalidVersion:
            return False

    def run(self, args: list[str], on_line: Callable[[str], None] | None = None,
            timeout: float | None = None) -> PipResult:
        """Run pip with ``args``; stream each output line to ``on_line``; never raise on pip's failure."""
        command = self.command(*args)
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       env=env, bufsize=1)
        except OSError as exc:
            raise PackageError(f"cannot run {self.python} -m pip: {exc.strerror or exc}") from exc
        lines = []
        assert process.stdout is not None
        # the output loop blocks while pip is silent: a timer kills a pip that runs past the timeout
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            process.kill()

        deadline = threading.Timer(timeout, stop) if timeout is not None else None
        if deadline is not None:
            deadline.daemon = True
            deadline.start()
        try:
            for line in process.stdout:
                line = line.rstrip("\n")
                lines.append(line)
                if on_line is not None:
                    on_line(line)
            returncode = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            if deadline is not None:
                deadline.cancel()
        if timed_out.is_set():
            raise PackageError(f"pip did not finish within {timeout:.0f} s (stopped): {' '.join(command)}")
        return PipResult(command, returncode, lines)

    def capture(self, args: list[str], timeout: float | None = None) -> PipResult:
        """Run pip with stdout and stderr apart (for ``--report -``); stdout is kept whole."""
        command = self.command(*args)
        env = dict(os.environ if self.env is None else self.env)
        try:
            result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PackageError(f"pip did not finish within {timeout:.0f} s: {' '.join(command)}") from exc
        except OSError as exc:
            raise PackageError(f"cannot run {self.python} -m pip: {exc.strerror or exc}") from exc
        lines = (result.stderr + ("\n" + result.stdout if result.returncode else "")).splitlines()
        return PipResult(command, result.returncode, lines, result.stdout)

    def dry_run_report(self, install_args: list[str], timeout: float | None = None) -> tuple[PipResult, dict | None]:
        """``pip install --dry-run --report -`` of ``install_args``: pip's own resolution, nothing installed."""
        result = self.capture(["install", "--dry-run", "--quiet", "--report", "-", *install_args], timeout=timeout)
        if not result.ok:
            return result, None
        try:
            return result, json.loads(result.stdout)
        except ValueError:
            return result, None

    def config_index(self) -> tuple[str, str] | None:
        """``(index-url, key)`` pip's configuration sets (``pip config list``; key e.g. ``global.index-url``),
        or None."""
        result = self.capture(["config", "list"], timeout=30)
        if not result.ok:
            return None
        found = {}
        for line in result.stdout.splitlines():
            key, _, value = line.partition("=")
            if key.endswith(".index-url") or key.endswith(".index_url"):
                found[key.split(".")[0]] = (value.strip().strip("'\""), key)
        return found.get("install") or found.get("global")
