"""OpenMMLab packages: mmcv/mmengine from the ``mim`` extra and ``mminstall.txt``, resolved for the installed torch.

Against the loopback index, with small packages in OpenMMLab's layout (pkg_support.publish_openmmlab).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from pkg_support import (arrange, closed_port_url, installed, openmmlab_compat, pip_install, pip_uninstall,
                         publish_openmmlab, serve_fake_index)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_pip")]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    yield from serve_fake_index(tmp_path_factory, publish_openmmlab)


@pytest.fixture(autouse=True)
def compat_file(index, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIM_PACKAGES_FILE", str(openmmlab_compat(tmp_path / "packages.json", index)))


def install(run_cli, venv, index, *args):
    return run_cli("install", "--python", str(venv), "--index-url", index.url(), *args)


def with_cpu_torch(venv, index, *requirements):
    arrange(venv, index.url(), *requirements)
    pip_install(venv, "--no-deps", "torch==2.14.1+cpu", index=index.url("whl/cpu"))


def run(venv, code: str) -> str:
    result = subprocess.run([str(venv), "-c", code], capture_output=True, text=True)
    return result.stdout.strip() or result.stderr.strip().splitlines()[-1]


def items_of(plan: dict) -> dict:
    return {item["name"]: item for item in plan["items"]}


def test_mim_extra_brings_a_lite_mmcv_built_from_its_sdist_and_cached(run_cli, venv, index):
    with_cpu_torch(venv, index)
    result = install(run_cli, venv, index, "mmcls==0.25.0", "--dry-run", "--json")
    assert result.exit_code == 0, result.err
    plan = json.loads(result.out)
    mmcv = items_of(plan)["mmcv"]
    assert mmcv["version"] == "1.7.2" and mmcv["action"] == "install" and mmcv["source"] == "its sdist, built here"
    assert "mmcv-full>=1.4.2,<1.9.0 for mmcls 0.25.0 (its mim extra)" in mmcv["reason"].replace("<1.9.0,>=1.4.2",
                                                                                                  ">=1.4.2,<1.9.0")
    assert "lite build" in mmcv["reason"] and "mmcls works without mmcv's ops" in mmcv["reason"]
    assert any("never published mmcv-full wheels for torch 2.14 (cpu)" in note for note in plan["notes"])
    (build,) = plan["builds"]
    assert build["ops"] is False and build["env"] == {"MMCV_WITH_OPS": "0"} and build["cached"] is None
    vision = items_of(plan)["torchvision"]  # mmcv 1.x imports it without declaring it: paired with torch
    assert vision["version"] == "0.29.2" and "mmcv 1.x imports it (mmcv.runner)" in vision["reason"]

    result = install(run_cli, venv, index, "mmcls==0.25.0", "-y", "--json")
    assert result.exit_code == 0, result.err
    outcome = json.loads(result.out)
    assert outcome["ok"] and {v["name"] for v in outcome["verified"]} >= {"mmcls", "mmcv"}
    assert run(venv, "import mmcls, mmcv, importlib.util as u; print(mmcv.__version__, u.find_spec('mmcv.ops'))") \
        == "1.7.2 None"
    state = installed(venv)
    assert state["mmcv"] == "1.7.2" and "mmcv-full" not in state

    pip_uninstall(venv, "mmcv")  # the wheel built once is reused: no second build
    plan = json.loads(install(run_cli, venv, index, "mmcls==0.25.0", "--dry-run", "--json").out)
    assert plan["builds"][0]["cached"].endswith("mmcv-1.7.2-py3-none-any.whl")
    assert items_of(plan)["mmcv"]["source"] == "local file"
    assert items_of(plan)["mmcls"]["action"] == "keep"


def test_mminstall_txt_of_the_sdist_brings_mmcv_lite_and_mmengine(run_cli, venv, index):
    with_cpu_torch(venv, index)
    result = install(run_cli, venv, index, "mmpretrain", "-y", "--json")
    assert result.exit_code == 0, result.err
    outcome = json.loads(result.out)
    items = items_of(outcome["plan"])
    assert items["mmcv-lite"]["version"] == "2.1.0" and "mminstall.txt in its sdist" in items["mmcv-lite"]["reason"]
    assert items["mmengine"]["version"] == "0.10.0" and "for mmpretrain 1.2.0" in items["mmengine"]["reason"]
    assert outcome["ok"] and run(venv, "import mmpretrain; print(mmpretrain.__version__)") == "1.2.0"


def test_published_wheel_with_ops_is_preferred(run_cli, venv, index, tmp_path):
    from pkg_support import build_wheel

    page_dir = index.root / "mmcv" / "dist" / "cpu" / "torch2.14.0"
    wheel = build_wheel(page_dir, "mmcv-full", "1.7.1", files={"mmcv/__init__.py": "__version__ = '1.7.1'\n",
                                                               "mmcv/ops/__init__.py": ""})
    (page_dir / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    try:
        with_cpu_torch(venv, index)
        plan = json.loads(install(run_cli, venv, index, "mmcls==0.25.0", "--dry-run", "--json").out)
        item = items_of(plan)["mmcv-full"]
        assert item["version"] == "1.7.1" and item["source"].endswith("/torch2.14.0/index.html")
        assert "published wheel with ops" in item["reason"] and plan["builds"] == []
        lite = json.loads(install(run_cli, venv, index, "mmcls==0.25.0", "--no-mmcv-ops", "--dry-run", "--json").out)
        assert "mmcv" in items_of(lite) and "mmcv-full" not in items_of(lite)
    finally:
        (page_dir / "index.html").unlink()


def test_a_package_that_needs_ops_gets_a_guided_build_with_ops(run_cli, venv, index):
    with_cpu_torch(venv, index)
    result = install(run_cli, venv, index, "mmdet", "-y", "--json")
    assert result.exit_code == 0, result.err
    plan = json.loads(result.out)["plan"]
    (build,) = plan["builds"]
    assert build["ops"] is True and build["env"]["MMCV_WITH_OPS"] == "1" and build["dist"] == "mmcv-full"
    assert "mmdet needs mmcv's compiled ops" in items_of(plan)["mmcv-full"]["reason"]
    assert run(venv, "import mmdet, mmcv.ops; print(mmcv.ops.WITH_OPS)") == "True"


def test_mmcv_named_on_the_command_line_goes_through_the_resolver(run_cli, venv, index):
    with_cpu_torch(venv, index)
    plan = json.loads(install(run_cli, venv, index, "mmcv==1.7.2", "--dry-run", "--json").out)
    (build,) = plan["builds"]  # not pip's "no binary wheel of mmcv==1.7.2": mmcv 1.x is the lite build
    assert build["dist"] == "mmcv" and build["ops"] is False
    assert "lite build (no compiled ops), as requested" in items_of(plan)["mmcv"]["reason"]

    unreachable = f"{index.base}/mmcv={closed_port_url().rsplit('/', 1)[0]}/mmcv"  # mmcv's wheel pages, down
    result = install(run_cli, venv, index, "mmcv-full==1.7.2", "--mirror", unreachable, "--dry-run", "--json")
    assert result.exit_code == 0, result.err
    full = json.loads(result.out)
    (build,) = full["builds"]
    assert build["dist"] == "mmcv-full" and build["ops"] is True
    note = next(n for n in full["notes"] if "is unreachable" in n)
    assert "OpenMMLab never published mmcv-full wheels for torch 2.x (only for torch <2)" in note
    assert "no wheel is missed" in note
    assert "instead of a published wheel: mmcv-full 1.7.2 built here from its sdist with its compiled ops" \
        in full["notes"][full["notes"].index(note) + 1]


def test_ops_build_needs_torch_installed(run_cli, venv, index):
    arrange(venv, index.url())
    result = install(run_cli, venv, index, "mmdet", "--dry-run")
    assert result.exit_code == 1
    assert "building them needs torch installed first" in result.err and "--no-mmcv-ops" in result.err


def doctor(run_cli, venv, index, *args):
    result = run_cli("doctor", "--json", "--python", str(venv), "--index-url", index.url(), *args)
    return result, json.loads(result.out)


def openmmlab_finding(report):
    return next((f for f in report["findings"] if f["code"] == "openmmlab"), None)


def test_doctor_finds_a_package_without_its_mmcv_and_fixes_it(run_cli, venv, index):
    with_cpu_torch(venv, index, "mmcls==0.25.0")
    result, report = doctor(run_cli, venv, index)
    assert result.exit_code == 1
    finding = openmmlab_finding(report)
    assert finding["severity"] == "error"
    assert finding["message"] == ("mmcls 0.25.0 cannot be imported: it needs mmcv-full<1.9.0,>=1.4.2 "
                                  "(its mim extra), which is not installed")
    assert finding["fix"].startswith("minim install mmcls==0.25.0 -y")
    result, report = doctor(run_cli, venv, index, "--fix", "-y")
    assert result.exit_code == 0, result.err
    assert report["findings"] == [] and report["failed"] == [] and len(report["fixed"]) == 1
    assert installed(venv)["mmcv"] == "1.7.2" and run(venv, "import mmcls; print(mmcls.__version__)") == "0.25.0"


def test_doctor_replaces_an_mmcv_outside_the_asserted_range_without_removing_it_first(run_cli, venv, index):
    with_cpu_torch(venv, index, "mmcls==0.25.0", "mmcv-lite==2.1.0")
    assert "MMCV==2.1.0 is used but incompatible" in run(venv, "import mmcls")
    result, report = doctor(run_cli, venv, index)
    finding = openmmlab_finding(report)
    assert "but mmcv-lite 2.1.0 is installed" in finding["message"]
    assert finding["fix"].startswith(f"minim uninstall -y mmcv-lite --python {venv} && minim install mmcls==0.25.0")
    before = installed(venv)
    failed = run_cli("doctor", "--fix", "-y", "--python", str(venv), "--index-url", "http://127.0.0.1:9/simple")
    assert failed.exit_code == 1 and "fix failed: openmmlab" in failed.err and "unreachable" in failed.err
    assert installed(venv) == before
    result, report = doctor(run_cli, venv, index, "--fix", "-y")
    assert result.exit_code == 0, result.err
    state = installed(venv)
    assert state["mmcv"] == "1.7.2" and "mmcv-lite" not in state
    assert run(venv, "import mmcls; print(mmcls.__version__)") == "0.25.0"


def test_mmcv_pair_sharing_an_import_package_keeps_the_one_in_range_and_never_prints_an_impossible_fix(
        run_cli, venv, index, monkeypatch, tmp_path):
    with_cpu_torch(venv, index)
    assert install(run_cli, venv, index, "mmcls==0.25.0", "-y").exit_code == 0  # builds mmcv 1.7.2 (cached)
    pip_install(venv, "--no-deps", "mmcv-lite==2.1.0", index=index.url())  # overwrites mmcv/__init__.py
    assert "MMCV==2.1.0 is used but incompatible" in run(venv, "import mmcls")
    _, report = doctor(run_cli, venv, index)
    finding = next(f for f in report["findings"] if f["code"] == "shadowed-import")
    assert "keep mmcv (mmcls asserts its version range)" in finding["message"]
    assert finding["fix"].startswith(f"minim uninstall -y mmcv mmcv-lite --python {venv} && "
                                     "minim install mmcv==1.7.2 --no-deps --force-reinstall -y")

    home = os.environ["MINIM_HOME"]
    monkeypatch.setenv("MINIM_HOME", str(tmp_path / "empty-home"))  # no wheel minim built: nothing to reinstall from
    _, report = doctor(run_cli, venv, index)
    finding = next(f for f in report["findings"] if f["code"] == "shadowed-import")
    assert finding["fix"] is None and "no fix is printed" in finding["message"]

    monkeypatch.setenv("MINIM_HOME", home)
    result, report = doctor(run_cli, venv, index, "--fix", "-y")
    assert result.exit_code == 0, result.err
    state = installed(venv)
    assert state["mmcv"] == "1.7.2" and "mmcv-lite" not in state
    assert run(venv, "import mmcls, mmcv; print(mmcv.__version__)") == "1.7.2"


def test_json_errors_are_a_json_object(run_cli, venv, index):
    arrange(venv, index.url())
    result = install(run_cli, venv, index, "mmdet", "--dry-run", "--json")
    assert result.exit_code == 1 and "minim: error:" in result.err
    error = json.loads(result.out)
    assert error["ok"] is False and "needs torch installed first" in error["error"] and error["exit_code"] == 1
