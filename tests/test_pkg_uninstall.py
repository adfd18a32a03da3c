"""``minim uninstall``: plan, reverse-dependency warning, unknown names, real pip in a throw-away venv."""

from __future__ import annotations

import pytest

from pkg_support import arrange, index, installed, isolated_pip, venv  # noqa: F401 (shared fixtures)

pytestmark = pytest.mark.slow


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
    import subprocess
    import sys

    from pkg_support import pip_env

    arrange(venv, index.url(), "helper==1.0")
    result = subprocess.run([sys.executable, "-m", "minim", "uninstall", "helper", "--python", str(venv)],
                            input="n\n", capture_output=True, text=True, env=pip_env(), timeout=120)
    assert result.returncode == 1 and "Proceed?" in result.stdout
    assert "helper" in installed(venv)
