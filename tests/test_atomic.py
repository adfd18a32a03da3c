"""Atomic writes: the target appears whole or not at all, and errors name the target, not the temporary."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from minim.atomic import write_text_atomic


def test_write_replaces_the_target_whole(tmp_path):
    target = tmp_path / "sub" / "cfg.py"
    write_text_atomic(target, "a = 1\n")
    write_text_atomic(target, "a = 2\n")
    assert target.read_text() == "a = 2\n" and [p.name for p in target.parent.iterdir()] == ["cfg.py"]


def test_a_refused_write_names_the_target_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")
    script = textwrap.dedent(f"""
        import resource, signal
        from minim.atomic import write_text_atomic
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        try:
            write_text_atomic({str(target)!r}, "x" * 100_000)
        except OSError as exc:
            print(exc.filename, exc.strerror)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == f"{target} File too large", done.stdout + done.stderr
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]
