"""``minim doctor``: shadowed imports, torch pairs, broken operators, unmet requirements -- found and fixed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pkg_support import arrange, build_shared_library, build_wheel, installed, pip_env, pip_install

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_pip")]


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


def test_a_fix_that_cannot_reinstall_removes_nothing(run_cli, venv, index):
    arrange(venv, index.url(), "needs-dupa-full==1.0", "dupa==1.0")
    pip_install(venv, "--no-deps", "dupa-full==1.0", index=index.url())
    before = installed(venv)
    fixed = run_cli("doctor", "--fix", "-y", "--python", str(venv), "--index-url", "http://127.0.0.1:9/simple")
    assert fixed.exit_code != 0 and "unreachable" in fixed.err
    assert installed(venv) == before and dupa_variant(venv) == "full True"


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
    assert finding["fix"].startswith("minim install 'torchvision>=0.29.1,<0.30' -y")
    fixed, report = doctor(run_cli, venv, index, "--fix", "-y")
    assert fixed.exit_code == 0, fixed.err
    assert installed(venv)["torchvision"] == "0.29.2"


def fake_torch_pair(tmp_path, torch_defines, vision_uses, vision_init="", with_extension=True):
    """Wheels of a torch whose ``torch/lib/libc10.so`` defines some symbols and a torchvision whose
    ``_C.so`` (real ELF files, built with the C compiler) needs others."""
    lib = tmp_path / "build" / "torch" / "lib"
    libc10 = build_shared_library(lib, "libc10.so", defines=torch_defines)
    torch = build_wheel(tmp_path, "torch", "2.14.1", files={
        "torch/__init__.py": "__version__ = '2.14.1'\n",
        "torch/version.py": "__version__ = '2.14.1+cpu'\ncuda = None\nhip = None\n",
        "torch/lib/libc10.so": libc10})
    files = {"torchvision/__init__.py": vision_init}
    if with_extension:
        files["torchvision/_C.so"] = build_shared_library(tmp_path / "build" / "vision", "_C.so", uses=vision_uses,
                                                          link=[lib / "libc10.so"])
    vision = build_wheel(tmp_path, "torchvision", "0.29.2", requires=["torch>=2.14.0"], files=files)
    return torch, vision


def ops_finding(report):
    return next((f for f in report["findings"] if f["code"] == "torchvision-ops"), None)


def test_torchvision_operators_with_undefined_torch_symbols(run_cli, venv, index, tmp_path):
    arrange(venv, index.url())
    pip_install(venv, "--no-deps", *fake_torch_pair(tmp_path, ["_ZN3c1011present_fnEv"],
                                                    ["_ZN3c1011present_fnEv", "_ZN3c1014removed_in_newEv"]))
    result, report = doctor(run_cli, venv, index)
    assert result.exit_code == 1
    finding = ops_finding(report)
    assert "torchvision 0.29.2's compiled operators fail with torch 2.14.1" in finding["message"]
    assert "_C.so: undefined symbol: _ZN3c1014removed_in_newEv" in finding["message"]
    assert finding["fix"].startswith("minim install 'torchvision>=0.29.1,<0.30' --force-reinstall --no-deps -y")


def test_torchvision_without_its_operator_library(run_cli, venv, index, tmp_path):
    arrange(venv, index.url())
    pip_install(venv, "--no-deps", *fake_torch_pair(tmp_path, [], [], with_extension=False))
    _, report = doctor(run_cli, venv, index)
    assert "torchvision has no compiled operator library" in ops_finding(report)["message"]


def test_mmcv_operators_built_for_another_torch(run_cli, venv, index, tmp_path):
    arrange(venv, index.url())
    torch, _ = fake_torch_pair(tmp_path, ["_ZN3c1011present_fnEv"], [], with_extension=False)
    libc10 = tmp_path / "build" / "torch" / "lib" / "libc10.so"
    name = "_ext.cpython-311-x86_64-linux-gnu.so"
    good = build_shared_library(tmp_path / "good", name, uses=["_ZN3c1011present_fnEv"], link=[libc10])
    stale = build_shared_library(tmp_path / "stale", name, uses=["_ZN3c1011present_fnEv", "_ZN2at4_ops9gone_nameEv"],
                                 link=[libc10])
    for version, library in (("1.7.1", good), ("1.7.2", stale)):
        mmcv = build_wheel(tmp_path / version, "mmcv-full", version,
                           files={"mmcv/__init__.py": "", f"mmcv/{name}": library})
        pip_install(venv, "--no-deps", str(torch), str(mmcv))
        _, report = doctor(run_cli, venv, index)
        finding = next((f for f in report["findings"] if f["code"] == "mmcv-ops"), None)
        if version == "1.7.1":
            assert finding is None, finding
    assert ("mmcv-full 1.7.2's compiled operators were built for another torch than the installed 2.14.1: "
            f"{name}: undefined symbol: _ZN2at4_ops9gone_nameEv") in finding["message"]
    assert finding["fix"].startswith("minim install mmcv-full==1.7.2 --force-reinstall -y")


def test_deep_check_runs_the_operators_in_a_subprocess(run_cli, venv, index, tmp_path):
    """The symbols resolve, so the default check passes; only --deep imports torchvision and sees it fail."""
    arrange(venv, index.url())
    pip_install(venv, "--no-deps", *fake_torch_pair(
        tmp_path, ["_ZN3c1011present_fnEv"], ["_ZN3c1011present_fnEv"],
        vision_init="raise RuntimeError('operator torchvision::nms does not exist')\n"))
    result, report = doctor(run_cli, venv, index)
    assert result.exit_code == 0 and ops_finding(report) is None
    result, report = doctor(run_cli, venv, index, "--deep")
    assert result.exit_code == 1
    assert "operator torchvision::nms does not exist" in ops_finding(report)["message"]


def test_fix_asks_first(venv, index):
    arrange(venv, index.url(), "app==1.0")
    result = subprocess.run([sys.executable, "-m", "minim", "doctor", "--fix", "--python", str(venv),
                             "--index-url", index.url()], input="n\n", capture_output=True, text=True,
                            env=pip_env(), timeout=120)
    assert result.returncode == 1 and "Apply 1 fix(es)?" in result.stdout
    assert "helper" not in installed(venv)


def test_doctor_on_the_real_torch_environment(run_cli):
    """This interpreter has real torch: both operator checks pass, and torch is never imported here."""
    before = set(sys.modules)
    for args in ((), ("--deep",)):
        result = run_cli("doctor", "--json", *args)
        assert "torch" not in set(sys.modules) - before
        codes = {f["code"] for f in json.loads(result.out)["findings"]}
        assert "torchvision-ops" not in codes and "torch-pair" not in codes


def test_the_subprocess_operator_check_is_cached_per_install(tmp_path, monkeypatch):
    from minim.env.probe import probe_environment
    from minim.packages.doctor import run_opscheck

    monkeypatch.setenv("MINIM_HOME", str(tmp_path))
    env = probe_environment(None)
    assert run_opscheck(env)["ok"]
    (cache,) = (tmp_path / "doctor").glob("opscheck-*.json")
    cache.write_text(json.dumps({"ok": False, "error": "stale"}))
    assert run_opscheck(env)["error"] == "stale"
    assert run_opscheck(env, use_cache=False)["ok"]


def test_a_failed_operator_check_is_reported_but_not_cached(tmp_path, monkeypatch):
    import dataclasses

    from minim.env.probe import probe_environment
    from minim.packages.doctor import run_opscheck

    monkeypatch.setenv("MINIM_HOME", str(tmp_path))
    crashing = tmp_path / "python"
    crashing.write_text("#!/bin/sh\necho 'Segmentation fault' >&2\nexit 139\n")
    crashing.chmod(0o755)
    env = dataclasses.replace(probe_environment(None), python=str(crashing))
    result = run_opscheck(env)
    assert not result["ok"] and "Segmentation fault" in result["error"]
    assert not (tmp_path / "doctor").exists() or not list((tmp_path / "doctor").iterdir())
