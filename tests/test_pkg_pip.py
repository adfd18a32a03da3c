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
