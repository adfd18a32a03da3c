"""Reading pip's own messages: conflict causes and the versions an index offers."""

from __future__ import annotations

from minim.packages.pip import PipResult, PipRunner

RESOLUTION_IMPOSSIBLE = """Looking in indexes: https://pypi.org/simple
ERROR: Cannot install torchvision==0.29.2 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested torchvision==0.29.2
    The user requested (constraint) torchvision<=0.29.1

Additionally, some packages in these conflicts have no matching distributions available for your environment:
ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/
"""

NO_VERSION = """ERROR: Could not find a version that satisfies the requirement mmcv-full==1.7.2 (from versions: 1.6.0, 1.7.0)
ERROR: No matching distribution found for mmcv-full==1.7.2
"""


def test_conflict_cause_is_kept_with_the_errors():
    result = PipResult(["pip"], 1, RESOLUTION_IMPOSSIBLE.splitlines())
    assert result.conflict_cause() == ["The user requested torchvision==0.29.2",
                                       "The user requested (constraint) torchvision<=0.29.1"]
    lines = result.error_lines()
    assert lines[0].startswith("ERROR: Cannot install torchvision==0.29.2")
    assert lines[1] == ("conflict: The user requested torchvision==0.29.2; "
                        "The user requested (constraint) torchvision<=0.29.1")


def test_versions_offered():
    result = PipResult(["pip"], 1, NO_VERSION.splitlines())
    assert result.versions_offered() == {"mmcv-full==1.7.2": ["1.6.0", "1.7.0"]}
    none = PipResult(["pip"], 1, ["ERROR: Could not find a version that satisfies the requirement x (from versions: none)"])
    assert none.versions_offered() == {"x": []}


def test_every_network_call_is_bounded():
    runner = PipRunner("/venv/bin/python", "26.3")
    args = runner.bounded()
    assert args[args.index("--retries") + 1] == "1" and args[args.index("--timeout") + 1] == "15"
    assert runner.supports_report() and not PipRunner("/p", "22.1").supports_report()


def test_a_silent_pip_is_stopped_at_the_timeout(tmp_path):
    import time

    import pytest

    from minim.errors import PackageError

    python = tmp_path / "python"  # "pip" that prints one line, then hangs without output
    python.write_text("#!/bin/sh\necho started\nexec sleep 30\n")
    python.chmod(0o755)
    lines = []
    start = time.monotonic()
    with pytest.raises(PackageError, match="did not finish within 1 s"):
        PipRunner(str(python)).run(["install", "x"], on_line=lines.append, timeout=1)
    assert time.monotonic() - start < 10 and lines == ["started"]

    quick = tmp_path / "quick"
    quick.write_text("#!/bin/sh\necho done\nexit 3\n")
    quick.chmod(0o755)
    result = PipRunner(str(quick)).run(["install", "x"], timeout=5)  # pip's own failure is not a timeout
    assert result.returncode == 3 and result.lines == ["done"]
