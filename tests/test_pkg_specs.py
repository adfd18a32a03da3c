"""Install arguments: specifiers, paths, URLs and requirements files, validated before pip runs."""

from __future__ import annotations

import pytest

from minim.errors import UsageError
from minim.packages.specs import exact_version, parse_request, read_requirements_file


def test_requirements_paths_and_urls(tmp_path):
    assert parse_request("torch>=2.1,<3").kind == "requirement"
    assert parse_request("Torch_Vision==0.20.1").key == "torch-vision"
    assert parse_request("pkg @ https://example.org/pkg-1.0.whl").kind == "url"
    assert parse_request("https://example.org/pkg-1.0-py3-none-any.whl").kind == "url"
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    assert parse_request(str(wheel)).kind == "path"


@pytest.mark.parametrize("text, hint", [
    ("torch=2.1", "did you mean 'torch==2.1'?"),
    ("torch 2.1", "did you mean 'torch==2.1'?"),
    ("torch>>2", None),
    ("==2.1", None),
])
def test_invalid_specifiers(text, hint):
    with pytest.raises(UsageError) as info:
        parse_request(text)
    assert f"invalid requirement {text!r}" in str(info.value)
    assert info.value.hint == hint


def test_missing_path_and_stray_option(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        parse_request(str(tmp_path / "dist" / "x-1.0-py3-none-any.whl"))
    with pytest.raises(UsageError, match="unknown option '--frob'"):
        parse_request("--frob")


def test_exact_version():
    from packaging.specifiers import SpecifierSet

    assert exact_version(SpecifierSet("==2.5.1")) == "2.5.1"
    assert exact_version(SpecifierSet("==2.5.*")) is None
    assert exact_version(SpecifierSet(">=2.5")) is None


def test_requirements_file_names_file_and_line(tmp_path):
    nested = tmp_path / "base.txt"
    nested.write_text("click>=8  # comment\n")
    file = tmp_path / "req.txt"
    file.write_text("-r base.txt\n--index-url https://example.org/simple\n# a comment\n"
                    "torch==2.5.1 \\\n  --hash=sha256:abc\n-e ./local\nnumpy>=1.20\n")
    found = read_requirements_file(file)
    assert [r.text for r in found] == ["click>=8", "torch==2.5.1", "./local", "numpy>=1.20"]
    assert found[1].origin == f"{file}:4"
    bad = tmp_path / "bad.txt"
    bad.write_text("numpy\ntorch=2.1\n")
    with pytest.raises(UsageError, match=rf"{bad}:2: invalid requirement 'torch=2.1'"):
        read_requirements_file(bad)
    with pytest.raises(UsageError, match="-r .*missing.txt"):
        read_requirements_file(tmp_path / "missing.txt")


def test_words_after_double_dash_are_read_as_pip_reads_them():
    from minim.packages.specs import read_pip_words

    words = read_pip_words(["--no-cache-dir", "-c", "c.txt", "--index-url=http://i/simple", "--no-index", "-f",
                            "./wheels", "requests>=2", "-r", "req.txt", "--extra-index-url", "http://x/simple", "six"])
    assert words.specs == ["requests>=2", "six"]  # "c.txt" and "./wheels" are option values, not requirements
    assert words.requirement_files == ["req.txt"] and words.find_links == ["./wheels"]
    assert words.index_url == "http://i/simple" and words.extra_index_urls == ["http://x/simple"] and words.no_index
    with pytest.raises(UsageError, match="--constraint after '--' needs a value"):
        read_pip_words(["six", "--constraint"])


def test_package_commands_help_has_examples(run_cli):
    for command in ("list", "uninstall", "install", "doctor"):
        assert "Examples:" in run_cli(command, "--help").out, command
