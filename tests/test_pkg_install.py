"""``minim install`` end to end: real pip in a throw-away venv against a PEP 503 index on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest

from pkg_support import arrange, build_wheel, closed_port_url, installed, pip_env, pip_install, serve_fake_index

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_pip")]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """The fake index plus a wheel whose RECORD escapes the install folder."""
    def add_evil(served, build):
        served.add(build_wheel(build, "evil", "1.0", files={"../../escape.txt": "x"}), "simple")

    yield from serve_fake_index(tmp_path_factory, add_evil)


def only(venv, index, *requirements):
    """Leave exactly pip, setuptools and ``requirements`` (``name==version``, installed with plain pip)."""
    arrange(venv, index.url(), *requirements)


def install(run_cli, venv, index, *args):
    return run_cli("install", "--python", str(venv), "--index-url", index.url(), *args)


def test_venv_runs_this_machines_newest_pip(venv):
    assert installed(venv)["pip"] == metadata.version("pip")
    assert installed(venv)["setuptools"] == metadata.version("setuptools")


def test_dry_run_pairs_torchvision_with_installed_torch_and_installs_nothing(run_cli, venv, index):
    only(venv, index, "torch==2.14.1")
    result = install(run_cli, venv, index, "torchvision", "--dry-run", "--json")
    assert result.exit_code == 0, result.err
    plan = json.loads(result.out)
    items = {item["name"]: item for item in plan["items"]}
    assert items["torchvision"]["version"] == "0.29.2"
    assert "pairs with torch 2.14.1" in items["torchvision"]["reason"]
    assert items["torchvision"]["source"] == index.url() and items["torchvision"]["binary_only"]
    command = plan["pip_command"]
    assert command[:4] == [str(venv), "-m", "pip", "install"]
    assert "torchvision>=0.29.1,<0.30" in command and "--only-binary" in command
    assert "torch==2.14.1" in command  # the installed torch is held where it is
    assert command[command.index("--retries") + 1] == "1"
    assert "torchvision" not in installed(venv)


def test_dry_run_table(run_cli, venv, index):
    only(venv, index)
    result = install(run_cli, venv, index, "dupa", "--dry-run")
    assert result.exit_code == 0, result.err
    assert "Install plan" in result.out and "dupa" in result.out and "dry run: nothing installed" in result.out
    assert "dupa" not in installed(venv)


def test_install_then_verify(run_cli, venv, index, tmp_path):
    only(venv, index)
    requirements = tmp_path / "req.txt"
    requirements.write_text("helper==1.0\n")
    result = install(run_cli, venv, index, "dupa", "-r", str(requirements), "-y", "--json")
    assert result.exit_code == 0, result.err
    outcome = json.loads(result.out)
    assert outcome["ok"] is True
    verified = {v["name"]: v for v in outcome["verified"]}
    assert verified["dupa"]["installed"] == "1.0" and verified["dupa"]["imports"] == {"dupa": None}
    assert verified["helper"]["ok"]
    assert installed(venv)["dupa"] == "1.0"
    again = install(run_cli, venv, index, "dupa", "-y")
    assert again.exit_code == 0 and "Nothing to do" in again.out


def test_changing_torch_moves_installed_torchvision(run_cli, venv, index):
    only(venv, index, "torch==2.13.0", "torchvision==0.28.0")
    result = install(run_cli, venv, index, "torch==2.14.1", "-y")
    assert result.exit_code == 0, result.err
    assert "keeps torchvision paired with torch 2.14.1" in result.out
    state = installed(venv)
    assert state["torch"] == "2.14.1" and state["torchvision"] == "0.29.2"


def test_compute_variant_comes_from_the_mirrored_pytorch_index(run_cli, venv, index):
    only(venv, index, "torch==2.14.1", "torchvision==0.29.2")
    before = index.hits("/whl/cpu/torch/")
    mirror = f"https://download.pytorch.org/whl={index.base}/whl"
    result = install(run_cli, venv, index, "torch==2.14.1", "--compute", "cpu", "--mirror", mirror, "-y")
    assert result.exit_code == 0, result.err
    assert f"{index.base}/whl/cpu" in result.out
    state = installed(venv)
    assert state["torch"] == "2.14.1+cpu" and state["torchvision"] == "0.29.2+cpu"
    assert index.hits("/whl/cpu/torch/") > before


def test_contradiction_fails_before_pip_runs(run_cli, venv, index):
    only(venv, index, "torch==2.14.1")
    before = index.hits("/simple/torchvision/")
    result = install(run_cli, venv, index, "torchvision==0.28.0", "-y")
    assert result.exit_code == 1
    assert "torchvision==0.28.0 does not pair with torch 2.14.1" in result.err
    assert "for torch 2.14.1 use torchvision 0.29.2" in result.err and "built for torch 2.13.0" in result.err
    assert index.hits("/simple/torchvision/") == before


def test_invalid_specifier_and_unknown_compute_are_usage_errors(run_cli, venv, index):
    result = install(run_cli, venv, index, "torch=2.1", "-y")
    assert result.exit_code == 2
    assert "invalid requirement 'torch=2.1'" in result.err and "did you mean 'torch==2.1'?" in result.err
    result = install(run_cli, venv, index, "torch", "--compute", "cu12", "-y")
    assert result.exit_code == 2
    assert "unknown compute variant 'cu12'" in result.err and "did you mean" in result.err


def test_unknown_option_is_an_error_and_pip_options_pass_after_double_dash(run_cli, venv, index):
    result = install(run_cli, venv, index, "dupa", "--frobnicate")
    assert result.exit_code == 2 and "--frobnicate" in result.err
    result = install(run_cli, venv, index, "dupa", "--dry-run", "--json", "--", "--no-cache-dir")
    assert result.exit_code == 0, result.err
    assert json.loads(result.out)["pip_command"][-1] == "--no-cache-dir"


def test_unreachable_index_is_one_clear_error(venv):
    url = closed_port_url()
    env = pip_env()
    result = subprocess.run([sys.executable, "-m", "minim", "install", "dupa", "--python", str(venv),
                             "--index-url", url, "--dry-run"],
                            capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 1
    assert f"package index unreachable: {url} (Connection refused; from --index-url)" in result.stderr
    assert "--mirror" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_index_says_where_its_url_came_from(run_cli, venv, monkeypatch, tmp_path):
    url = closed_port_url()
    monkeypatch.setenv("PIP_INDEX_URL", url)
    result = run_cli("install", "dupa", "--python", str(venv), "--dry-run")
    assert result.exit_code == 1 and f"{url} (Connection refused; from PIP_INDEX_URL)" in result.err
    monkeypatch.delenv("PIP_INDEX_URL")
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nindex-url = {url}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    result = run_cli("install", "dupa", "--python", str(venv), "--dry-run")
    assert result.exit_code == 1
    assert f"{url} (Connection refused; from pip's configuration (global.index-url in pip config list))" in result.err


def test_pip_failure_while_resolving_is_reported(run_cli, venv, index):
    result = install(run_cli, venv, index, "does-not-exist", "-y")
    assert result.exit_code == 1
    assert "pip failed while resolving" in result.err
    assert "No matching distribution found for does-not-exist" in result.err
    assert "did you mean" not in result.err


@pytest.mark.parametrize("typo", ["torchvison", "torchvison==0.29.1"])
def test_a_misspelt_backend_name_gets_did_you_mean(run_cli, venv, index, typo):
    result = install(run_cli, venv, index, typo, "-y")
    assert result.exit_code == 1 and "pip failed while resolving" in result.err
    assert result.err.rstrip().endswith("(no index has 'torchvison': did you mean 'torchvision'?)")


def test_pip_failure_while_installing_is_reported(run_cli, venv, index):
    only(venv, index)
    result = install(run_cli, venv, index, "evil", "-y")
    assert result.exit_code == 1
    assert "pip failed while installing" in result.err and "outside" in result.err
    assert "evil" not in installed(venv)


def test_backend_without_a_wheel_names_the_versions_that_have_one(run_cli, venv, index):
    only(venv, index, "torch==2.14.1")
    result = install(run_cli, venv, index, "torchvision==0.29.1", "--dry-run")
    assert result.exit_code == 1
    assert f"no binary wheel of torchvision==0.29.1 on {index.url()} fits this environment" in result.err
    assert "0.29.2" in result.err and "--allow-build" in result.err


def test_failed_verification_is_an_error(run_cli, venv, index):
    only(venv, index)
    result = install(run_cli, venv, index, "broken", "-y")
    assert result.exit_code == 1
    assert "verification failed" in result.err and "broken on purpose" in result.err


def test_declining_the_confirmation_installs_nothing(venv, index):
    only(venv, index)
    result = subprocess.run([sys.executable, "-m", "minim", "install", "helper", "--python", str(venv),
                             "--index-url", index.url()], input="n\n", capture_output=True, text=True,
                            env=pip_env(), timeout=120)
    assert result.returncode == 1 and "Proceed?" in result.stdout and "aborted" in result.stderr
    assert "helper" not in installed(venv)


def test_mmcv_style_backend_gets_its_per_torch_wheel_page_through_the_mirror(run_cli, venv, index, tmp_path):
    page_dir = index.root / "mmcv" / "dist" / "cpu" / "torch2.14.0"
    page_dir.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(page_dir, "mmcv-full", "1.7.2", files={"mmcv/__init__.py": "__version__ = '1.7.2'\n"})
    (page_dir / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    only(venv, index)
    pip_install(venv, "--no-deps", "torch==2.14.1+cpu", index=index.url("whl/cpu"))
    mirror = f"https://download.openmmlab.com/mmcv={index.base}/mmcv"
    result = install(run_cli, venv, index, "mmcv-full", "--mirror", mirror, "--dry-run", "--json")
    assert result.exit_code == 0, result.err
    plan = json.loads(result.out)
    page = f"{index.base}/mmcv/dist/cpu/torch2.14.0/index.html"
    assert plan["items"][0]["name"] == "mmcv-full" and plan["items"][0]["source"] == page
    assert page in plan["pip_command"]

    only(venv, index)
    result = install(run_cli, venv, index, "mmcv-full", "--mirror", mirror, "--dry-run")
    assert result.exit_code == 1 and "install torch first" in result.err


def test_offline_mode_refuses_remote_indexes(run_cli, venv, index, monkeypatch):
    monkeypatch.setenv("MINIM_OFFLINE", "1")
    result = install(run_cli, venv, index, "dupa", "--dry-run")
    assert result.exit_code == 1 and "MINIM_OFFLINE=1 forbids the package index" in result.err


def test_nothing_to_install(run_cli, venv):
    result = run_cli("install", "--python", str(venv), "-y")
    assert result.exit_code == 2 and "nothing to install" in result.err
