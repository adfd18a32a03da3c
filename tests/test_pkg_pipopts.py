"""pip's options as ``minim install`` options, and the words after ``--``: real pip in a throw-away venv against
the loopback PEP 503 index."""

from __future__ import annotations

import json

import pytest

from pkg_support import arrange, build_wheel, closed_port_url, installed, serve_fake_index

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_pip")]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """The fake index plus helper 0.5 and 2.0 (app needs helper>=1.0)."""
    def extra(served, build):
        for version in ("0.5", "2.0"):
            served.add(build_wheel(build, "helper", version, files={"helper.py": f"VALUE = {version!r}\n"}))

    yield from serve_fake_index(tmp_path_factory, extra)


def plan_of(result) -> dict:
    assert result.exit_code == 0, result.err
    return json.loads(result.out)


def test_pip_options_reach_pips_resolution_as_given(run_cli, venv, index, tmp_path):
    arrange(venv, index.url())
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("helper<2\n")
    plan = plan_of(run_cli("install", "app", "--python", str(venv), "--index-url", index.url(), "-c", str(constraints),
                           "--trusted-host", "127.0.0.1", "--no-build-isolation", "--only-binary", ":all:",
                           "--prefer-binary", "-vv", "--dry-run", "--json"))
    items = {item["name"]: item["version"] for item in plan["items"]}
    assert items == {"app": "1.0", "helper": "1.0"}  # not helper 2.0: the constraint file was read
    command = " ".join(plan["pip_command"])
    for words in (f"-c {constraints}", "--trusted-host 127.0.0.1", "--no-build-isolation", "--only-binary :all:",
                  "--prefer-binary", "install -vv "):
        assert words in command, words
    missing = run_cli("install", "app", "--python", str(venv), "-c", str(tmp_path / "nope.txt"), "--dry-run")
    assert missing.exit_code == 2 and f"-c {tmp_path / 'nope.txt'}: no such file" in missing.err


@pytest.mark.parametrize("after_dash", [False, True])
def test_no_index_probes_no_index(run_cli, venv, index, tmp_path, monkeypatch, after_dash):
    arrange(venv, index.url())
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "helper", "1.0", files={"helper.py": "VALUE = 1\n"})
    monkeypatch.setenv("PIP_INDEX_URL", closed_port_url())  # would be "unreachable" if it were probed
    before = len(index.requests)
    words = ["--no-index", "--find-links", str(wheels)]
    args = ["--", *words, "helper"] if after_dash else [*words, "helper"]
    plan = plan_of(run_cli("install", "--python", str(venv), "--extra-index-url", index.url(), "--dry-run", "--json",
                           *args))
    assert [(i["name"], i["version"], i["source"]) for i in plan["items"]] == [("helper", "1.0", "local file")]
    assert len(index.requests) == before  # no probe, no page: pip itself read only the folder
    assert plan["pip_command"].count("--no-index") == 1
    assert plan["requests"] == ["helper"]  # a requirement after '--' is planned too


def test_user_reaches_pip(run_cli, venv, index):
    result = run_cli("install", "helper", "--user", "--python", str(venv), "--index-url", index.url(), "--dry-run")
    assert result.exit_code == 1
    assert "User site-packages are not visible in this virtualenv" in result.err


def test_target_installs_into_the_folder_quietly(run_cli, venv, index, tmp_path):
    arrange(venv, index.url())
    target = tmp_path / "target"
    result = run_cli("install", "app", "-y", "-q", "--target", str(target), "--python", str(venv),
                     "--index-url", index.url())
    assert result.exit_code == 0, result.err
    assert (target / "app.py").is_file() and (target / "helper.py").is_file()
    assert not {"app", "helper"} & set(installed(venv))
    assert "not verified by importing" in " ".join(result.out.split())
    assert "Successfully installed" not in result.out  # -q reached pip
