"""Shared test set-up: an isolated MINIM_HOME and a clean minim environment for every test."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

#: shared fixtures defined next to their helpers (``loopback_server``)
pytest_plugins = ("net_support", "pkg_support")

MINIM_ENV = ("MINIM_HOME", "MINIM_OFFLINE", "MINIM_MIRROR", "MINIM_INDEX_PATH", "MINIM_DEBUG", "MINIM_USER_CONF")
#: kept for subprocesses: the isolated cache, and no user defaults file (the developer's ~/.minimrc)
KEPT_ENV = ("MINIM_HOME", "MINIM_USER_CONF")


@pytest.fixture(autouse=True)
def isolated_minim_env(tmp_path_factory, monkeypatch):
    """Every test gets its own MINIM_HOME, no user defaults file and no inherited MINIM_* settings."""
    for name in MINIM_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINIM_HOME", str(tmp_path_factory.mktemp("minim_home")))
    monkeypatch.setenv("MINIM_USER_CONF", "")
    from minim.index import loader

    loader._cache.clear()
    yield
    loader._cache.clear()


@pytest.fixture
def ctrl_c_handled():
    """Ctrl-C (SIGINT) handled by Python in this process for the test, so that the processes it starts get the
    default action: a suite started in the background by a non-interactive shell inherits SIGINT ignored, and
    so would they."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def one_thread():
    """One torch thread for tiny models: a second gains nothing there, and on a busy machine makes each
    step far slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass
class CliResult:
    exit_code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys):
    """Run ``minim ARGS`` in this process; returns exit code, stdout and stderr."""

    def run(*args: str) -> CliResult:
        from minim.cli.main import main

        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def minim_subprocess(*args: str, env: dict | None = None, cwd: Path | None = None,
                     timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m minim ARGS`` in a fresh interpreter."""
    full_env = {k: v for k, v in os.environ.items() if k not in MINIM_ENV or k in KEPT_ENV}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "minim", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)
