"""Probe a Python environment through a subprocess of its interpreter (torch is never imported here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from minim.env.gpu import GpuInfo, detect_gpu
from minim.env.model import BrokenMetadata, Dist, Environment, SharedFiles
from minim.errors import PackageError, UsageError

TARGET_SCRIPT = Path(__file__).with_name("target_script.py")
PROBE_TIMEOUT = 60.0


def resolve_python(python: str | os.PathLike | None = None) -> str:
    """The interpreter to work on: ``python`` (a file, or a virtual environment's folder) or this one."""
    if python is None or str(python) == "":
        return sys.executable
    path = Path(os.path.abspath(Path(python).expanduser()))  # absolute (fix commands are pasted elsewhere), links kept
    if path.is_dir():
        for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe", path / "python.exe"):
            if candidate.is_file():
                return str(candidate)
        raise UsageError(f"--python {python}: folder has no bin/python (is it a virtual environment?)")
    if not path.is_file():
        raise UsageError(f"--python {python}: no such interpreter")
    if not os.access(path, os.X_OK):
        raise UsageError(f"--python {python}: not executable")
    return str(path)


def run_in_target(python: str, args: list[str], timeout: float = PROBE_TIMEOUT):
    """Run ``target_script.py <args>`` with the target interpreter and return its JSON answer."""
    command = [python, str(TARGET_SCRIPT), *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PackageError(f"{python} did not answer within {timeout:.0f} s ({args[0]})") from exc
    except OSError as exc:
        raise PackageError(f"cannot run {python}: {exc.strerror or exc}") from exc
    answer = parse_answer(result.stdout)
    if answer is None or (isinstance(answer, dict) and "error" in answer and len(answer) == 1):
        detail = answer["error"] if answer else (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise PackageError(f"{python} could not be inspected: {detail}")
    return answer


ANSWER_MARKER = "@@minim-answer@@ "


def parse_answer(stdout: str):
    """The JSON the target script wrote after its marker (whatever imported code printed around it), or None."""
    _, marker, rest = stdout.rpartition("\n" + ANSWER_MARKER)
    if not marker:
        return None
    try:
        return json.loads(rest.split("\n", 1)[0])
    except ValueError:
        return None


def environment_from_probe(data: dict, gpu: GpuInfo) -> Environment:
    """Build an :class:`Environment` from the probe script's JSON answer."""
    dists = {}
    for record in data["distributions"]:
        dist = Dist.from_probe(record)
        dists[dist.key] = dist
    shared = data.get("shared_files")
    return Environment(
        python=data["executable"],
        python_version=data["python_version"],
        implementation=data["implementation"],
        platform=data["platform"],
        system=data["system"],
        machine=data["machine"],
        prefix=data["prefix"],
        in_venv=data["prefix"] != data["base_prefix"],
        pip_version=data.get("pip_version"),
        markers=data["markers"],
        dists=dists,
        gpu=gpu,
        has_display=bool(data.get("display")),
        shared_files=[SharedFiles(**s) for s in shared] if shared is not None else None,
        broken_metadata=[BrokenMetadata(**b) for b in data.get("broken_metadata", [])],
    )


def probe_environment(python: str | os.PathLike | None = None, *, files: bool = False,
                      gpu: GpuInfo | bool = True) -> Environment:
    """Inspect the environment of ``python`` (default: this interpreter).

    ``files=True`` also reads every RECORD to find distributions that overwrite each other's
    files. ``gpu`` is a :class:`GpuInfo` to reuse, True to ask ``nvidia-smi``, False to skip.
    """
    interpreter = resolve_python(python)
    if isinstance(gpu, GpuInfo) or not gpu:
        info = gpu if isinstance(gpu, GpuInfo) else GpuInfo(False, source="not checked")
        data = run_in_target(interpreter, ["probe", "--files"] if files else ["probe"])
        return environment_from_probe(data, info)
    with ThreadPoolExecutor(max_workers=1) as pool:  # nvidia-smi runs while the target answers
        pending = pool.submit(detect_gpu)
        data = run_in_target(interpreter, ["probe", "--files"] if files else ["probe"])
        return environment_from_probe(data, pending.result())
