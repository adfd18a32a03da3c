"""Installs, uninstalls and doctor fixes that must not leave the environment worse than they found it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from pkg_support import arrange, build_wheel, installed, pip_install, serve_fake_index

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_pip")]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """The fake index plus torch 2.15.0, helper 0.5/2.0, zblock (needs helper==1.0), chatty (prints at import)
    and a ``mirror`` index that has torchvision 0.29.1 but not 0.29.2 yet."""
    def extra(served, build):
        served.add(build_wheel(build, "torch", "2.15.0"))
        for version in ("0.5", "2.0"):
            served.add(build_wheel(build, "helper", version, files={"helper.py": f"VALUE = {version!r}\n"}))
        served.add(build_wheel(build, "zblock", "1.0", files={"zblock/__init__.py": "", "zblock/data.txt": "x"},
                               requires=["helper==1.0"]))
        served.add(build_wheel(build, "chatty", "1.0", files={"chatty.py": "import sys; sys.stdout.write('hi')\n"}))
        for wheel in (build_wheel(build / "m", "torch", "2.13.0"), build_wheel(build / "m", "torch", "2.14.1"),
                      build_wheel(build / "m", "torchvision", "0.29.1", requires=["torch>=2.14.0"])):
            served.add(wheel, "mirror")

    yield from serve_fake_index(tmp_path_factory, extra)


def install(run_cli, venv, index, *args):
    return run_cli("install", "--python", str(venv), "--index-url", index.url(), *args)


def site_packages(venv) -> str:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.run([str(venv), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


# -- 1: a companion reinstall keeps the installed torch -----------------------------------------------

def test_force_reinstalling_torchvision_keeps_the_installed_torch(run_cli, venv, index):
    arrange(venv, index.url(), "torch==2.14.1", "torchvision==0.29.2")
    result = install(run_cli, venv, index, "torchvision==0.29.2", "--force-reinstall", "--dry-run", "--json")
    assert result.exit_code == 0, result.err
    items = {item["name"]: item for item in json.loads(result.out)["items"]}
    assert items["torch"]["version"] == "2.14.1", items  # not upgraded to 2.15.0 by torchvision's torch>=2.14.0
    assert items["torchvision"]["reason"] == "requested; pairs with torch 2.14.1"


# -- 2: a shadowed-import fix downloads before it uninstalls ------------------------------------------

def test_shadow_fix_whose_download_fails_removes_nothing(run_cli, venv, index):
    arrange(venv, index.url(), "needs-dupa-full==1.0", "dupa==1.0")
    pip_install(venv, "--no-deps", "dupa-full==1.0", index=index.url())
    before = installed(venv)
    index.fail_after["dupa_full-1.0-py3-none-any.whl"] = 1  # pip's dry run gets it, the download does not
    try:
        fixed = run_cli("doctor", "--fix", "-y", "--python", str(venv), "--index-url", index.url())
    finally:
        index.fail_after.clear()
    assert fixed.exit_code == 1
    assert "could not download dupa-full==1.0" in fixed.err and "nothing was uninstalled" in fixed.err
    assert installed(venv) == before


# -- 3: uninstalling one of two distributions that share files ----------------------------------------

def test_uninstall_warns_about_shared_files_and_doctor_finds_them_missing(run_cli, venv, index):
    arrange(venv, index.url(), "dupa-full==1.0")
    pip_install(venv, "--no-deps", "dupa==1.0", index=index.url())
    result = run_cli("uninstall", "dupa", "-y", "--no-repair", "--python", str(venv))
    assert result.exit_code == 0, result.err
    repair = f"minim install --force-reinstall --no-deps dupa-full==1.0 -y --python {venv}"
    assert f"dupa/__init__.py also belongs to dupa-full; removing dupa breaks it (reinstall it afterwards: {repair})" \
        in " ".join(result.out.split())
    report = json.loads(run_cli("doctor", "--json", "--python", str(venv)).out)
    finding = next(f for f in report["findings"] if f["code"] == "missing-files")
    assert "dupa-full 1.0: 1 file of its RECORD missing (e.g. dupa/__init__.py)" in finding["message"]
    assert finding["fix"].startswith("minim install dupa-full==1.0 --force-reinstall --no-deps -y")
    assert report["broken"] is True


# -- 4: installing a package that overwrites an installed one's import package ------------------------

def test_install_that_would_shadow_an_installed_package_warns_and_refuses_with_yes(run_cli, venv, index):
    arrange(venv, index.url(), "dupa-full==1.0")
    plan = install(run_cli, venv, index, "dupa", "--dry-run")
    assert plan.exit_code == 0, plan.err
    assert "dupa ships the import package dupa/, which the installed dupa-full 1.0 also ships" \
        in " ".join(plan.out.split())
    refused = install(run_cli, venv, index, "dupa", "-y")
    assert refused.exit_code == 1 and "refusing to install" in refused.err and "--allow-conflicts" in refused.err
    assert "dupa" not in installed(venv)


def test_packages_json_import_conflicts_are_consulted():
    from minim.env.gpu import GpuInfo
    from minim.env.model import Dist, Environment
    from minim.packages.compat import load_compat
    from minim.packages.impact import import_conflicts

    env = Environment(python="/v/bin/python", python_version="3.11.7", implementation="CPython",
                      platform="linux-x86_64", system="Linux", machine="x86_64", prefix="/v", in_venv=True,
                      pip_version="26", markers={}, dists={"mmcv-full": Dist("mmcv-full", "1.7.2")},
                      gpu=GpuInfo(False))  # no top_level known: packages.json alone tells
    (conflict,) = import_conflicts(["mmcv"], env, load_compat())
    assert conflict.startswith("mmcv ships the import package mmcv/, which the installed mmcv-full 1.7.2")


# -- 5: an install that breaks installed dependents --------------------------------------------------

def test_downgrade_that_breaks_a_dependent_warns_and_fails_after_pip(run_cli, venv, index):
    arrange(venv, index.url(), "app==1.0", "helper==2.0")
    refused = install(run_cli, venv, index, "helper==0.5", "-y")
    assert refused.exit_code == 1 and "refusing to install: helper 0.5 breaks app 1.0" in refused.err
    assert "--allow-breaking" in refused.err and installed(venv)["helper"] == "2.0"
    result = install(run_cli, venv, index, "helper==0.5", "-y", "--allow-breaking")
    assert result.exit_code == 1
    assert "warning: helper 0.5 breaks app 1.0 (requires helper>=1.0)" in result.out
    assert "broke installed packages: app 1.0 requires helper>=1.0, but 0.5 is installed" in result.err


# -- 6: companions pinned to every release that pairs ------------------------------------------------

def test_companion_follows_torch_with_a_release_the_index_has(run_cli, venv, index):
    arrange(venv, index.url(), "torch==2.13.0", "torchvision==0.28.0")
    result = run_cli("install", "--python", str(venv), "--index-url", index.url("mirror"), "torch==2.14.1",
                     "--dry-run", "--json")
    assert result.exit_code == 0, result.err
    items = {item["name"]: item["version"] for item in json.loads(result.out)["items"]}
    assert items == {"torch": "2.14.1", "torchvision": "0.29.1"}


# -- 8: broken metadata ------------------------------------------------------------------------------

def test_broken_metadata_is_found_and_named(run_cli, venv, index, tmp_path):
    arrange(venv, index.url())
    site = site_packages(venv)
    ghost, empty = f"{site}/ghost-1.0.dist-info", f"{site}/empty-1.0.dist-info"
    try:
        for folder in (ghost, empty):
            os.makedirs(folder)
        with open(f"{ghost}/METADATA", "w") as handle:
            handle.write("Metadata-Version: 2.1\nName: ghost\n")
        result = run_cli("doctor", "--json", "--python", str(venv))
        assert result.exit_code == 1
        findings = {f["fix"]: f for f in json.loads(result.out)["findings"] if f["code"] == "broken-metadata"}
        assert f"{ghost}: no Version in its metadata" in findings[f"rm -r {ghost}"]["message"]
        assert f"{empty}: no METADATA file" in findings[f"rm -r {empty}"]["message"]
        removed = run_cli("uninstall", "ghost", "-y", "--python", str(venv))
        assert removed.exit_code == 1
        assert f"ghost's metadata is broken: {ghost}: no Version in its metadata" in removed.err
        assert f"rm -r {ghost}" in removed.err
    finally:
        shutil.rmtree(ghost, ignore_errors=True)
        shutil.rmtree(empty, ignore_errors=True)


# -- 9: what a failed install changed anyway ---------------------------------------------------------

def test_failed_install_reports_what_pip_changed_and_how_to_restore(run_cli, venv, index):
    arrange(venv, index.url(), "helper==2.0")
    blocker = f"{site_packages(venv)}/zblock"
    with open(blocker, "w") as handle:  # a file where zblock's folder must go: pip fails after helper changed
        handle.write("not a folder\n")
    try:
        result = install(run_cli, venv, index, "zblock", "-y")
    finally:
        os.remove(blocker)
    assert result.exit_code == 1 and "pip failed while installing" in result.err
    err = " ".join(result.err.split())
    assert "the environment changed anyway: helper 2.0 -> 1.0" in err
    assert f"minim install helper==2.0 --no-deps -y --python {venv}" in err


# -- 10, 11, 12 --------------------------------------------------------------------------------------

def test_uninstalling_pip_needs_an_explicit_flag(run_cli, venv):
    result = run_cli("uninstall", "pip", "-y", "--python", str(venv))
    assert result.exit_code == 2 and "refusing to uninstall pip" in result.err and "--allow-pip" in result.err
    assert "pip" in installed(venv)


def test_package_printing_at_import_verifies(run_cli, venv, index):
    arrange(venv, index.url())
    result = install(run_cli, venv, index, "chatty", "-y", "--json")
    assert result.exit_code == 0, result.err
    assert json.loads(result.out)["verified"][0]["ok"] is True


def test_index_answering_404_is_an_error_before_pip_runs(run_cli, venv, index):
    url = f"{index.base}/no-such-index"
    result = run_cli("install", "--python", str(venv), "--index-url", url, "helper", "--dry-run")
    assert result.exit_code == 1
    assert f"package index answers HTTP 404: {url} (HTTP 404, and {url}/helper/ too)" in result.err


def test_fix_commands_name_the_interpreter_absolutely(run_cli, venv, index, monkeypatch):
    from pathlib import Path

    arrange(venv, index.url(), "app==1.0")
    monkeypatch.chdir(Path(venv).parents[2])
    relative = str(Path(venv).relative_to(Path(venv).parents[2]))
    report = json.loads(run_cli("doctor", "--json", "--python", relative).out)
    assert f"--python {venv}" in report["findings"][0]["fix"]
