"""User defaults (``~/.minimrc``, mim's ``.mimrc`` format) become command option defaults."""

from __future__ import annotations

import json

import pytest


def write(path, text: str):
    path.write_text(text)
    return path


def names(out: str) -> list[str]:
    return [entry["name"] for entry in json.loads(out)]


def test_a_section_gives_a_command_its_defaults_and_the_command_line_wins(run_cli, tmp_path):
    conf = write(tmp_path / "rc", "[options.search]\njson = true\nlimit = 1\n")
    result = run_cli("--user-conf", str(conf), "search", "cls")
    assert result.exit_code == 0, result.err
    assert len(names(result.out)) == 1
    assert len(names(run_cli("--user-conf", str(conf), "search", "cls", "--limit", "3").out)) == 3


def test_home_minimrc_is_read_and_mim_spellings_work(run_cli, tmp_path, monkeypatch):
    # mim's documentation writes [option.X] and quotes values; mim's own option name is_yes is minim's yes
    write(tmp_path / ".minimrc", "[option.search]\nfield = 'name'\njson = True\n[options.install]\nis_yes = True\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MINIM_USER_CONF")
    result = run_cli("search", "cls", "--model", "digits")
    assert result.exit_code == 0, result.err
    assert json.loads(result.out)[0]["name"] == "mobilenet-v2_digits"


def test_an_empty_minim_user_conf_reads_no_file(run_cli, tmp_path, monkeypatch):
    write(tmp_path / ".minimrc", "[options.search]\nlimt = 1\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert run_cli("search", "cls", "--limit", "1").exit_code == 0
    monkeypatch.setenv("MINIM_USER_CONF", str(tmp_path / ".minimrc"))
    assert "limt" in run_cli("search", "cls").err


def test_repeatable_options_take_several_words(run_cli, tmp_path):
    conf = write(tmp_path / "rc", "[options.search]\nfield = name 'top1'  # two columns\nlimit = 1\n")
    result = run_cli("--user-conf", str(conf), "search", "cls", "--model", "digits")
    assert result.exit_code == 0, result.err
    header = next(line for line in result.out.splitlines() if "name" in line)
    assert header.split() == ["┃", "name", "┃", "top1", "┃"]


@pytest.mark.parametrize("text, words", [
    ("[options.search]\nlimt = 1\n", ["rc:2:", "[options.search] 'limt' is not an option of 'minim search'",
                                      "did you mean 'limit'"]),
    ("[options.search]\nlimit = 1 2\n", ["rc:2:", "limit takes one value, got 2 words"]),
    ("[options.search]\n\nlimit = x\n", ["rc:3:", "limit:", "'x' is not a valid integer"]),
    ("limit = 1\n", ["rc:1:", "no section headers", "[options.<command>]"]),
    ("[options.search]\nfield = 'name\n", ["rc:2:", "No closing quotation"]),
    ("[options.search]\nlimit = 1\nlimit = 2\n", ["rc:3:", "already exists"]),
])
def test_mistakes_in_the_file_name_file_line_and_key(run_cli, tmp_path, text, words):
    conf = write(tmp_path / "rc", text)
    result = run_cli("--user-conf", str(conf), "search", "cls")
    assert result.exit_code != 0
    line = result.err.strip()
    assert line.startswith("minim: error: ") and "\n" not in line and "Traceback" not in line
    for word in words:
        assert word in line


def test_a_missing_file_named_explicitly_is_an_error(run_cli, tmp_path, monkeypatch):
    assert "does not exist" in run_cli("--user-conf", str(tmp_path / "nope"), "search", "cls").err
    monkeypatch.setenv("MINIM_USER_CONF", str(tmp_path / "nope"))
    assert "MINIM_USER_CONF" in run_cli("search", "cls").err


def test_other_sections_are_ignored_as_mim_does(run_cli, tmp_path):
    conf = write(tmp_path / "rc", "[general]\nanything = 1\n[options.search]\nlimit = 2\njson = 1\n")
    assert len(names(run_cli("--user-conf", str(conf), "search", "cls").out)) == 2


def test_help_says_where_defaults_are_read(run_cli):
    out = run_cli("--help").out
    assert "~/.minimrc" in out and "--user-conf" in out and "MINIM_USER_CONF" in out
