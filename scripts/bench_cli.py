#!/usr/bin/env python
"""CLI benchmark: cold-start times of ``minim`` commands and download throughput.

Run with the project's interpreter: ``.venv/bin/python scripts/bench_cli.py [--runs 9] [--size-mb 200]``.

1. Cold start: median wall time of fresh ``minim --help``, ``minim search cls --model mobilenet``,
   ``minim list`` and ``minim doctor`` processes (the ``minim`` console script next to
   ``sys.executable``; one unmeasured warm-up each; doctor with an empty MINIM_HOME every run, so
   nothing it could cache helps). Targets: ``--help`` <= 0.25 s, ``search`` <= 0.4 s, ``list`` and
   ``doctor`` <= 1.5 s. A command that fails (doctor: exits other than 0 or 1) is reported as
   unavailable (and counts as missed).
2. Imports: ``import minim.net.download`` must not import torch (checked in a fresh process, and
   again in this process after the downloads).
3. Download throughput of a SIZE-MB file served from a temporary file by ``tests/net_support.py``
   running in a separate process, median of RUNS runs, the variants alternating run by run:

   * ``requests``          plain ``requests`` streaming (``iter_content(1 MiB)``) to a file;
   * ``requests+sha256``   the same plus ``hashlib.sha256`` of every chunk, i.e. the same work as minim;
   * ``minim``             ``minim.net.download.download(..., sha256=..., size=..., progress='none')``;
   * ``minim (bar)``       the same with the rich progress bar (rendered into /dev/null).

   Target: both minim variants >= 0.9x ``requests+sha256`` (median of the per-round ratios). The ratio to hash-free ``requests`` is
   printed too: on a 2-core machine where the server shares the CPUs, sha256 (about 0.1 s per 200 MB)
   costs a visible share of the run, so that ratio is a CPU bound, not download overhead.

The last line is ``cli-bench: ok`` or ``cli-bench: MISSED <what>``. The exit status is 0 either way
(``--strict``: 1 when something was missed); a crash of the script itself exits non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
HELP_TARGET = 0.25
SEARCH_TARGET = 0.4
ENVIRONMENT_TARGET = 1.5
THROUGHPUT_TARGET = 0.9


def minim_script() -> Path:
    return Path(sys.executable).with_name("minim")


def time_command(argv: list[str], runs: int, env: dict, ok_codes=(0,), fresh_home: bool = False
                 ) -> tuple[float | None, str]:
    """Median wall seconds of ``argv`` in fresh processes, or (None, why) when it fails."""
    samples = []
    for index in range(runs + 1):
        run_env = dict(env)
        with tempfile.TemporaryDirectory() as home:
            if fresh_home:
                run_env["MINIM_HOME"] = home
            started = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, env=run_env)
            elapsed = time.perf_counter() - started
        if done.returncode not in ok_codes:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            return None, f"exit {done.returncode}: {last[:160]}"
        if index:  # the first run only warms the file cache
            samples.append(elapsed)
    return statistics.median(samples), ""


def bench_cold_start(runs: int, env: dict, missed: list[str]) -> None:
    script = minim_script()
    if not script.exists():
        print(f"cold start: the console script {script} does not exist")
        missed.append("console script")
        return
    commands = (("minim --help", ["--help"], HELP_TARGET, {}),
                ("minim search cls --model mobilenet", ["search", "cls", "--model", "mobilenet"], SEARCH_TARGET, {}),
                ("minim list", ["list"], ENVIRONMENT_TARGET, {}),
                ("minim doctor", ["doctor"], ENVIRONMENT_TARGET, {"ok_codes": (0, 1), "fresh_home": True}))
    for label, args, target, options in commands:
        seconds, why = time_command([str(script), *args], runs, env, **options)
        if seconds is None:
            print(f"cold start: {label}: unavailable ({why})")
            missed.append(f"{label} unavailable")
            continue
        verdict = "ok" if seconds <= target else "MISSED"
        print(f"cold start: {label}: {seconds:.3f} s median of {runs} (target <= {target} s) {verdict}")
        if seconds > target:
            missed.append(f"{label} {seconds:.3f}s > {target}s")


def bench_imports(env: dict, missed: list[str]) -> None:
    code = "import sys, minim.net.download; print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    heavy = done.stdout.strip() if done.returncode == 0 else f"failed: {done.stderr.strip()[-200:]}"
    print(f"imports: `import minim.net.download` pulls in {heavy}")
    if heavy != "[]":
        missed.append("minim.net.download imports torch")


def make_file(path: Path, size: int) -> str:
    hasher = hashlib.sha256()
    block = os.urandom(4 * MIB)
    with open(path, "wb") as handle:
        written = 0
        while written < size:
            piece = block[: size - written]
            handle.write(piece)
            hasher.update(piece)
            written += len(piece)
            block = block[1:] + block[:1]  # vary the content a little
    return hasher.hexdigest()


@contextlib.contextmanager
def file_server(file: Path):
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "net_support.py"), str(file)],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the loopback server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def plain_requests(url: str, target: Path, with_hash: bool) -> None:
    import requests

    hasher = hashlib.sha256()
    with requests.get(url, stream=True, timeout=(5, 30)) as response, open(target, "wb") as handle:
        response.raise_for_status()
        for chunk in response.iter_content(MIB):
            handle.write(chunk)
            if with_hash:
                hasher.update(chunk)
    hasher.hexdigest()


def minim_download(url: str, target: Path, digest: str, size: int, progress: str) -> None:
    from minim.net.download import download

    if progress == "bar":
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            result = download(url, target, sha256=digest, size=size, progress="bar", cache=False)
    else:
        result = download(url, target, sha256=digest, size=size, progress=progress, cache=False)
    assert result.status == "downloaded" and result.sha256 == digest


def paired_ratio(ours: list[float], theirs: list[float]) -> float:
    """Median of the per-round speed ratios (robust to load that drifts between rounds)."""
    return statistics.median(a / b for a, b in zip(ours, theirs))


def bench_download(runs: int, size_mb: int, missed: list[str]) -> None:
    size = size_mb * MIB
    with tempfile.TemporaryDirectory(prefix="minim-bench-") as scratch:
        scratch = Path(scratch)
        os.environ["MINIM_HOME"] = str(scratch / "home")
        os.environ.pop("MINIM_OFFLINE", None)
        os.environ.pop("MINIM_MIRROR", None)
        source = scratch / "served.bin"
        digest = make_file(source, size)
        target = scratch / "out" / "weights.bin"
        target.parent.mkdir()
        variants = {
            "requests": lambda url: plain_requests(url, target, with_hash=False),
            "requests+sha256": lambda url: plain_requests(url, target, with_hash=True),
            "minim": lambda url: minim_download(url, target, digest, size, "none"),
            "minim (bar)": lambda url: minim_download(url, target, digest, size, "bar"),
        }
        speeds: dict[str, list[float]] = {name: [] for name in variants}
        with file_server(source) as url:
            for index in range(runs + 1):
                for name, run in variants.items():
                    target.unlink(missing_ok=True)
                    started = time.perf_counter()
                    run(url)
                    elapsed = time.perf_counter() - started
                    if index:  # round 0 warms up
                        speeds[name].append(size / MIB / elapsed)
        medians = {name: statistics.median(values) for name, values in speeds.items()}
    print(f"download: {size_mb} MiB over loopback, median of {runs} alternating runs:")
    for name, value in medians.items():
        print(f"  {name:16s} {value:8.0f} MiB/s   (runs: {', '.join(f'{v:.0f}' for v in speeds[name])})")
    for name in ("minim", "minim (bar)"):
        ratio = paired_ratio(speeds[name], speeds["requests+sha256"])
        verdict = "ok" if ratio >= THROUGHPUT_TARGET else "MISSED"
        print(f"download: {name} = {ratio:.2f}x requests+sha256 (target >= {THROUGHPUT_TARGET}x) {verdict}; "
              f"{paired_ratio(speeds[name], speeds['requests']):.2f}x hash-free requests")
        if ratio < THROUGHPUT_TARGET:
            missed.append(f"{name} throughput {ratio:.2f}x")
    heavy = sorted(m for m in ("torch", "torchvision") if m in sys.modules)
    print(f"imports: after the downloads this process has imported {heavy}")
    if heavy:
        missed.append("downloads import torch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="measured runs per figure (default 9)")
    parser.add_argument("--size-mb", type=int, default=200, help="download size in MiB (default 200)")
    parser.add_argument("--skip-cli", action="store_true", help="skip the cold-start timings")
    parser.add_argument("--skip-download", action="store_true", help="skip the throughput benchmark")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.executable}")
    env = dict(os.environ, MINIM_OFFLINE="1")
    missed: list[str] = []
    if not args.skip_cli:
        bench_cold_start(args.runs, env, missed)
    bench_imports(env, missed)
    if not args.skip_download:
        bench_download(args.runs, args.size_mb, missed)
    print("cli-bench: ok" if not missed else f"cli-bench: MISSED {'; '.join(missed)}")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
