"""Progress reporting (minim.net.progress)."""

from __future__ import annotations

import io

import pytest

from minim.net.progress import BarReporter, LineReporter, Reporter, make_reporter, resolve_mode


def test_modes_resolve():
    assert resolve_mode("auto") == "lines"  # pytest's stderr is not a terminal
    assert resolve_mode(True) == "lines"
    assert resolve_mode(False) == resolve_mode(None) == resolve_mode("none") == "none"
    assert resolve_mode("plain") == resolve_mode("lines") == "lines"
    assert resolve_mode("bar") == "bar"
    with pytest.raises(ValueError, match="progress must be one of"):
        resolve_mode("fancy")
    assert type(make_reporter("none", "x")) is Reporter
    assert isinstance(make_reporter("lines", "x"), LineReporter)


def test_lines_every_ten_percent():
    out = io.StringIO()
    reporter = LineReporter("w.pth", stream=out)
    reporter.start(1000 << 20)
    for done in range(1 << 20, (1000 << 20) + 1, 1 << 20):
        reporter.update(done)
    reporter.finish(True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "downloading w.pth (1048.6 MB)"
    assert [line.split(": ")[1].split("%")[0] for line in lines[1:-1]] == [str(p) for p in range(10, 100, 10)]
    assert lines[-1].startswith("  w.pth: done, 1048.6 MB in ")


def test_lines_with_unknown_size_and_resume():
    out = io.StringIO()
    reporter = LineReporter("w.pth", stream=out)
    reporter.start(None, done=5 << 20)
    for done in range(6 << 20, 100 << 20, 1 << 20):
        reporter.update(done)
    reporter.finish(False)
    lines = out.getvalue().splitlines()
    assert lines[0] == "downloading w.pth (size unknown, resuming at 5.2 MB)"
    assert lines[1:] == ["  w.pth: 33.6 MB", "  w.pth: 67.1 MB", "  w.pth: 100.7 MB"]


def test_bar_runs_without_a_terminal(capsys):
    reporter = BarReporter("w.pth")
    reporter.start(10 << 20)
    for done in range(1 << 20, (10 << 20) + 1, 1 << 20):
        reporter.update(done)
    reporter.start(10 << 20, 0)  # a restart resets the bar
    reporter.update(10 << 20)
    reporter.finish(True)
    assert "w.pth" in capsys.readouterr().err
