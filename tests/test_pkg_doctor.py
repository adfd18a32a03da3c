"""``minim doctor``: shadowed imports, torch pairs, broken operators, unmet requirements -- found and fixed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pkg_support import (arrange, build_wheel, index, installed, isolated_pip, pip_env,  # noqa: F401 (fixtures)
                         pip_install, venv)

pytestmark = pytest.mark.slow


def doctor(run_cli, venv, index, *args):
    result = run_cli("doctor", "--json", "--python", str(venv), "--index-url", index.url(), *args)
    return result, json.loads(result.out) if result.out.strip().startswith("{") else None


def dupa_variant(venv) -> str:
    code = "import dupa, importlib.util; print(dupa.VARIANT, importlib.util.find_spec('dupa._ext') is not None)"
    return subprocess.run([str(venv), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_clean_environment(run_cli, venv, index):
    arrange(venv, index.url(), "helper==1.0")
    result, report = doctor(run_cli, venv, index)
    assert result.exit_code == 0, result.err
    assert report["findings"] == [] and report["broken"] is False
    table = run_cli("doctor", "--python", str(venv))
    assert table.exit_code == 0 and "No problems found" in table.out


def test_shadowed_import_found_and_fixed_keeping_what_others_require(run_cli, venv, index):
    arrange(venv, index.url(), "needs-dupa-full==1.0", "dupa==1.0")
    pip_install(venv, "--no-deps", "dupa-full==1.0", index=index.url())  # overwrites dupa/__init__.py
    result, report = doctor(run_cli, venv, index)
    assert result.exit_code == 1
    finding = next(f for f in report["findings"] if f["code"] == "shadowed-import")
    assert finding["severity"] == "error"
    assert "dupa and dupa-full both ship dupa/" in finding["message"]
    assert "'import dupa' loads dupa-full's copy" in finding["message"]
    assert "keep dupa-full (needs-dupa-full requires it)" in finding["message"]
    assert finding["fix"].startswith(f"minim uninstall -y dupa dupa-full --python {venv} && "
                                     f"minim install dupa-full==1.0 --no-deps --force-reinstall -y")

    fixed = run_cli("doctor", "--fix", "-y", "--python", str(venv), "--index-url", index.url())
    assert fixed.exit_code == 0, fixed.err
    assert "All fixed" in fixed.out
    state = installed(venv)
    assert "dupa" not in state and state["dupa-full"] == "1.0"
    assert dupa_variant(venv) == "full True"


def test_without_a_dependent_the_copy_on_disk_is_kept(run_cli, venv, index):
    arrange(venv, index.url(), "dupa-full==1.0")
    pip_install(venv, "--no-deps", "dupa==1.0", index=index.url())  # dupa's copy wins
    _, report = doctor(run_cli, venv, index)
    finding = next(f for f in report["findings"] if f["code"] == "shadowed-import")
    assert "'import dupa' loads dupa's copy" in finding["message"]
    assert "keep dupa (its files are the ones on disk now)" in finding["message"]


def test_unsatisfied_requirement_found_and_fixed(run_cli, venv, index):
    arrange(venv, index.url(), "app==1.0")
    result, report = doctor(run_cli, venv, index)
    assert result.exit_code == 1
    finding = next(f for f in report["findings"] if f["code"] == "unsatisfied")
    assert finding["message"] == "app 1.0 requires helper>=1.0, which is not installed"
    assert finding["fix"].startswith("minim install 'helper>=1.0' -y")
    fixed, report = doctor(run_cli, venv, index, "--fix", "-y")
    assert fixed.exit_code == 0, fixed.err
    assert report["findings"] == [] and report["fixed"]
    assert installed(venv)["helper"] == "1.0"


def test_torch_pair_found_and_fixed(run_cli, venv, index):
    arrange(venv, index.url(), "torch==2.14.1", "torchvision==0.28.0")
    result, report = doctor(run_cli, venv, index)
    assert result.exit_code == 1
    codes = [f["code"] for f in report["findings"]]
    assert codes == ["torch-pair"]  # the broken pin is not reported twice
    finding = report["findings"][0]
    assert finding["severity"] == "error"
    assert "torchvision 0.28.0 is built for torch 2.13, but torch 2.14.1 is installed" in finding["message"]
    assert "pairs with torchvision 0.29.2" in finding["message"]
    assert finding["fix"].startswith("minim install torchvision==0.29.2 -y")
    fixed, report = doctor(run_cli, venv, index, "--fix", "-y")
    assert fixed.exit_code == 0, fixed.err
    assert installed(venv)["torchvision"] == "0.29.2"


def test_torchvision_operators_that_fail_to_load(run_cli, venv, index, tmp_path):
    arrange(venv, index.url())
    torch = build_wheel(tmp_path, "torch", "2.14.1", files={
        "torch/__init__.py": "__version__ = '2.14.1'\n",
        "torch/version.py": "__version__ = '2.14.1+cpu'\ncuda = None\nhip = None\n"})
    vision = build_wheel(tmp_path, "torchvision", "0.29.2", requires=["torch>=2.14.0"], files={
        "torchvision/__init__.py": "raise RuntimeError('operator torchvision::nms does not exist')\n"})
    pip_install(venv, "--no-deps", str(torch), str(vision))
    result, report = doctor(run_cli, venv, index)
    assert result.exit_code == 1
    finding = next(f for f in report["findings"] if f["code"] == "torchvision-ops")
    assert "operator torchvision::nms does not exist" in finding["message"]
    assert finding["fix"].startswith("minim install torchvision==0.29.2 --force-reinstall -y")


def test_fix_asks_first(venv, index):
    arrange(venv, index.url(), "app==1.0")
    result = subprocess.run([sys.executable, "-m", "minim", "doctor", "--fix", "--python", str(venv),
                             "--index-url", index.url()], input="n\n", capture_output=True, text=True,
                            env=pip_env(), timeout=120)
    assert result.returncode == 1 and "Apply 1 fix(es)?" in result.stdout
    assert "helper" not in installed(venv)


def test_doctor_on_the_real_torch_environment(run_cli):
    """This interpreter has real torch: the operator check runs (and is cached), and torch is never imported here."""
    before = set(sys.modules)
    result = run_cli("doctor", "--json")
    assert "torch" not in set(sys.modules) - before
    report = json.loads(result.out)
    codes = {f["code"] for f in report["findings"]}
    assert "torchvision-ops" not in codes and "torch-pair" not in codes
    from minim.settings import minim_home

    assert list((minim_home() / "doctor").glob("opscheck-*.json"))
