"""``minim uninstall``: plan, reverse-dependency warning, unknown names, real pip in a throw-away venv."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys

from pkg_support import arrange, closed_port_url, installed, pip_env, pip_install

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_pip")]


def test_uninstall_warns_about_packages_that_still_need_it(run_cli, venv, index):
    arrange(venv, index.url(), "dupa-full==1.0", "needs-dupa-full==1.0", "helper==1.0")
    result = run_cli("uninstall", "dupa-full", "helper", "-y", "--python", str(venv))
    assert result.exit_code == 0, result.err
    assert "dupa-full is required by needs-dupa-full: they will break" in result.out
    assert "helper is required by" not in result.out
    assert "Uninstalled dupa-full, helper." in result.out
    state = installed(venv)
    assert "dupa-full" not in state and "helper" not in state and "needs-dupa-full" in state


def test_uninstalling_both_ends_of_a_dependency_warns_about_neither(run_cli, venv, index):
    arrange(venv, index.url(), "dupa-full==1.0", "needs-dupa-full==1.0")
    result = run_cli("uninstall", "needs-dupa-full", "dupa_full", "-y", "--python", str(venv))
    assert result.exit_code == 0, result.err
    assert "warning" not in result.out
    assert not {"dupa-full", "needs-dupa-full"} & set(installed(venv))


def test_unknown_package_is_skipped_with_a_warning_as_pip_does(run_cli, venv, index, tmp_path):
    arrange(venv, index.url(), "helper==1.0", "dupa==1.0")
    requirements = tmp_path / "remove.txt"
    requirements.write_text("dupa==1.0\n")
    result = run_cli("uninstall", "helpr", "helper", "-r", str(requirements), "-y", "--python", str(venv))
    assert result.exit_code == 0, result.err
    assert f"warning: helpr is not installed in {venv}" in result.err and "did you mean 'helper'?" in result.err
    assert not {"helper", "dupa"} & set(installed(venv))
    assert run_cli("uninstall", "helpr", "-y", "--python", str(venv)).exit_code == 0


def test_unknown_package_with_strict_is_a_clear_error_and_nothing_is_removed(run_cli, venv, index):
    arrange(venv, index.url(), "helper==1.0")
    result = run_cli("uninstall", "helpr", "helper", "-y", "--strict", "--python", str(venv))
    assert result.exit_code == 1
    assert f"helpr is not installed in {venv}" in result.err and "did you mean 'helper'?" in result.err
    assert "helper" in installed(venv)


def test_uninstall_asks_first(venv, index):
    arrange(venv, index.url(), "helper==1.0")
    result = subprocess.run([sys.executable, "-m", "minim", "uninstall", "helper", "--python", str(venv)],
                            input="n\n", capture_output=True, text=True, env=pip_env(), timeout=120)
    assert result.returncode == 1 and "Proceed?" in result.stdout
    assert "helper" in installed(venv)


def dupa_variant(venv) -> str:
    result = subprocess.run([str(venv), "-c", "import dupa; print(dupa.VARIANT)"], capture_output=True, text=True)
    return result.stdout.strip() or result.stderr.strip().splitlines()[-1]


def test_uninstalling_one_of_a_shared_file_pair_offers_the_repair(venv, index):
    arrange(venv, index.url(), "dupa-full==1.0")
    pip_install(venv, "--no-deps", "dupa==1.0", index=index.url())  # both ship dupa/__init__.py
    result = subprocess.run([sys.executable, "-m", "minim", "uninstall", "dupa", "--python", str(venv)],
                            input="y\nn\n", capture_output=True, text=True, env=pip_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Then reinstall dupa-full 1.0 to restore the files it shares?" in out
    assert "dupa-full lost shared files; repair: minim install --force-reinstall --no-deps dupa-full==1.0" in out
    assert "has no attribute 'VARIANT'" in dupa_variant(venv)  # declined: dupa-full's __init__.py is gone, as said


def test_uninstalling_one_of_a_shared_file_pair_with_yes_restores_the_other(run_cli, venv, index):
    arrange(venv, index.url(), "dupa-full==1.0")
    pip_install(venv, "--no-deps", "dupa==1.0", index=index.url())
    refused = run_cli("uninstall", "dupa", "-y", "--python", str(venv), "--index-url", closed_port_url())
    assert refused.exit_code == 1
    assert "cannot reinstall dupa-full 1.0 after the uninstall" in refused.err
    assert "nothing was uninstalled" in refused.err and "dupa" in installed(venv)

    result = run_cli("uninstall", "dupa", "-y", "--json", "--python", str(venv), "--index-url", index.url())
    assert result.exit_code == 0, result.err
    outcome = json.loads(result.out)
    assert outcome["uninstalled"] == ["dupa"] and outcome["repaired"] == ["dupa-full==1.0"]
    assert "Reinstalled dupa-full==1.0" in " ".join(result.err.split())
    assert dupa_variant(venv) == "full" and "dupa" not in installed(venv)


def test_json_errors_are_one_json_object(run_cli, venv, tmp_path):
    for command in (["uninstall", "nothing-like-it", "-y", "--strict"], ["doctor"], ["list"]):
        result = run_cli(*command, "--json", "--python", str(tmp_path / "no-python"))
        error = json.loads(result.out)
        assert error["ok"] is False and "no-python" in error["error"] and error["exit_code"] == result.exit_code == 2
