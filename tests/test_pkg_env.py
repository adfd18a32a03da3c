"""The environment probe (minim.env) and ``minim list``: metadata only, torch never imported by minim."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from minim.env import detect_build, probe_environment, resolve_python
from minim.env.gpu import parse_nvidia_header, parse_nvidia_query
from minim.env.torch_build import cuda_from_requirements, read_version_py, variant_from_local_tag
from minim.errors import UsageError

TORCH_VERSION_PY = """from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']
__version__ = '2.5.1+cu121'
debug = False
cuda: Optional[str] = '12.1'
git_version = 'abc'
hip: Optional[str] = None
"""

NVIDIA_SMI = """Mon Nov 24 10:00:00 2026
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
"""


@pytest.mark.parametrize("version, expected", [
    ("2.5.1+cu121", "cu121"), ("2.5.1+cpu", "cpu"), ("2.5.1+rocm6.1", "rocm6.1"), ("2.5.1+xpu", "xpu"),
    ("2.5.1", None), ("2.5.1+local.build", None),
])
def test_variant_from_local_tag(version, expected):
    assert variant_from_local_tag(version) == expected


def test_build_from_version_py_beats_everything():
    build = detect_build("2.5.1", [], TORCH_VERSION_PY)
    assert (build.kind, build.variant, build.cuda, build.source) == ("cuda", "cu121", "12.1", "version.py")
    cpu = detect_build("2.5.1", [], "cuda = None\nhip = None\n")
    assert (cpu.kind, cpu.variant) == ("cpu", "cpu")
    rocm = detect_build("2.5.1+rocm6.2.4", [], "cuda = None\nhip = '6.2.41134-65d174c3e'\n")
    assert (rocm.kind, rocm.variant, rocm.rocm) == ("rocm", "rocm6.2.4", "6.2")
    vision = detect_build("0.20.1", [], "__version__ = '0.20.1+cu124'\n")
    assert (vision.kind, vision.variant) == ("cuda", "cu124")


def test_build_from_requirements_and_platform():
    requires = ['nvidia-cuda-runtime-cu12==12.4.127; platform_system == "Linux"', "filelock"]
    assert cuda_from_requirements(requires) == "12.4"
    assert cuda_from_requirements(["cuda-toolkit[cublas,cudart]==13.0.3; platform_system == 'Linux'"]) == "13.0"
    build = detect_build("2.5.1", requires)
    assert (build.kind, build.variant, build.source) == ("cuda", "cu124", "requirements")
    assert detect_build("2.5.1", [], system="Darwin").kind == "cpu"
    assert detect_build("2.5.1", []).kind == "unknown"


def test_read_version_py_ignores_code():
    values = read_version_py("from x import y\nif y() > 0:\n    cuda = y()\n__version__ = '1.0'\n")
    assert values == {"__version__": "1.0"}


def test_nvidia_smi_parsers():
    assert parse_nvidia_header(NVIDIA_SMI) == ("550.54.15", "12.4")
    names, driver = parse_nvidia_query("NVIDIA H100 80GB HBM3, 550.54.15\nNVIDIA H100 80GB HBM3, 550.54.15\n")
    assert names == ["NVIDIA H100 80GB HBM3"] * 2 and driver == "550.54.15"


def test_probe_reads_metadata_without_importing_torch():
    before = set(sys.modules)
    env = probe_environment(gpu=False)
    assert "torch" not in set(sys.modules) - before
    assert env.python_version == ".".join(map(str, sys.version_info[:3]))
    assert env.get("click") is not None and env.get("Click").version == env.version("click")
    assert env.pip_version
    assert env.markers["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    torch = env.torch_build("torch")
    assert torch is not None and torch.kind in {"cpu", "cuda", "rocm", "xpu"}


def test_resolve_python_accepts_venv_folder_and_rejects_nonsense(tmp_path):
    assert resolve_python(None) == sys.executable
    venv_root = tmp_path / "v"
    (venv_root / "bin").mkdir(parents=True)
    python = venv_root / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    assert resolve_python(venv_root) == str(python)
    with pytest.raises(UsageError, match="no such interpreter"):
        resolve_python(tmp_path / "missing")
    with pytest.raises(UsageError, match="no bin/python"):
        resolve_python(tmp_path)


def test_list_json(run_cli):
    result = run_cli("list", "--json")
    assert result.exit_code == 0, result.err
    info = json.loads(result.out)
    env = info["environment"]
    assert env["python"] and env["pip"]
    assert env["torch"]["torch"]["build"]["kind"] in {"cpu", "cuda", "rocm", "xpu"}
    assert "pairs_with_torch" in env["torch"]["torchvision"]
    cls = next(c for c in info["codebases"] if c["name"] == "cls")
    assert cls["models"] is None or cls["models"] > 0


def test_list_table_in_a_fresh_process_never_imports_torch():
    code = ("import sys; from minim.cli.main import main\n"
            "try:\n    main(['list'])\nexcept SystemExit:\n    pass\n"
            "print('TORCH-IMPORTED' if 'torch' in sys.modules else 'TORCH-NOT-IMPORTED')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "Environment" in result.stdout and "Codebases" in result.stdout
    assert "TORCH-NOT-IMPORTED" in result.stdout


def test_list_unknown_python_is_a_usage_error(run_cli, tmp_path):
    result = run_cli("list", "--python", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "no such interpreter" in result.err


def test_answer_is_found_after_whatever_imported_code_printed():
    from minim.env.probe import parse_answer

    assert parse_answer('hello-no-newline\n@@minim-answer@@ {"a": 1}\n') == {"a": 1}
    assert parse_answer('noise\n@@minim-answer@@ [1]\nmore noise') == [1]
    assert parse_answer("no marker at all") is None
