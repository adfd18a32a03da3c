"""Configs that would eat memory or time (bombs) end at once with a one-line ``file:line`` error.

Each runs through the real CLI (``minim run cls print_config``) in a subprocess limited to a 4 GB
address space; the timeout only stops a regression from hanging the suite.
"""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

BOMBS = {
    "center.py": ("a = 1\nb = 'a'.center(3_000_000_000)\n", ":2: str.center"),
    "ljust.py": ("b = 'a'.ljust(3_000_000_000)\n", ":1: str.ljust"),
    "zfill.py": ("b = '1'.zfill(3_000_000_000)\n", ":1: str.zfill"),
    "fstring.py": ("b = f'{1:>3000000000}'\n", ":1: format spec"),
    "format.py": ("b = '{:>3000000000}'.format(1)\n", ":1: format spec"),
    "nested_spec.py": ("b = '{0:{1}}'.format(1, '>3000000000')\n", ":1: format spec"),
    "precision.py": ("b = '{:.3000000000f}'.format(1.0)\n", ":1: format spec"),
    "percent_star.py": ("b = '%*d' % (3_000_000_000, 1)\n", ":1: a % format"),
    "percent.py": ("b = '%3000000000d' % 1\n", ":1: a % format"),
    "replace.py": ("b = ('a' * 1000000).replace('a', 'a' * 1000)\n", ":1: str.replace"),
    "leaves.py": ("a = ['lol'] * 1000\nb = [a] * 1000\nc = [b] * 1000\n", ":2: repeating"),
    "str_of_repeats.py": ("b = str([[0] * 1_000_000] * 10_000_000)\n", ":1: repeating"),
    "sum_of_lists.py": ("b = sum([[0] * 1000] * 10_000, [])\n", ":1: repeating"),
    "sum_concat.py": ("a = [[0] * 1000 for _ in range(600)]\nb = sum(a + a, [])\n", ":2: a value of more than"),
    "plus.py": ("b = " + "+".join(["1"] * 200_000) + "\n", "nested too deeply"),
    "deep.json": ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", ":1: JSON nested too deeply"),
    "laughs.yaml": ("a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9)),
        ":1: a value of more than"),
    "huge.py": ("a = 1\n" + "#" * 11_000_000 + "\n", "larger than 10 MB"),
}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bomb_ends_with_a_one_line_error(tmp_path, name):
    text, expected = BOMBS[name]
    path = tmp_path / name
    path.write_text(text)
    result = subprocess.run([sys.executable, "-c", "from minim.cli.main import main; main()", "run", "cls",
                             "print_config", str(path)],
                            capture_output=True, text=True, timeout=120, preexec_fn=_limit_memory)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"minim: error: {path}"), result.stderr[-500:]
    assert expected in lines[0]


def test_cfg_options_nested_too_deeply_is_an_error():
    from minim.config import parse_cfg_options
    from minim.errors import ConfigError

    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_cfg_options(["a=" + "[" * 5000 + "]" * 5000])


def test_sum_of_lists_is_linear_and_equal_to_python():
    from minim.config import Config

    cfg = Config.fromstring("a = sum([[1, 2], [3], []], [])\nb = sum((1, 2.5))\nc = sum([(1,), (2,)], ())\n", ".py")
    assert cfg.a == [1, 2, 3] and cfg.b == 3.5 and cfg.c == (1, 2)


def test_an_index_config_inherits_only_inside_its_index(tmp_path):
    from minim.config import load_config
    from minim.errors import ConfigError

    index = tmp_path / "index"
    (index / "configs").mkdir(parents=True)
    secret = tmp_path / "secret.py"
    secret.write_text("token = 'abc'\n")
    (index / "configs" / "base.py").write_text("a = 1\n")
    inside = index / "configs" / "ok.py"
    inside.write_text("_base_ = './base.py'\nb = 2\n")
    assert load_config(inside, confine_to=index).b == 2
    for spec in (str(secret), "../../secret.py"):
        outside = index / "configs" / "bad.py"
        outside.write_text(f"_base_ = {spec!r}\n")
        with pytest.raises(ConfigError, match="outside the index folder"):
            load_config(outside, confine_to=index)
        assert load_config(outside).token == "abc"  # a user's own config may inherit anything, as in mmcv
    linked = tmp_path / "linked"
    linked.symlink_to(index)  # an index reached through a link keeps working
    assert load_config(linked / "configs" / "ok.py", confine_to=linked).b == 2


def test_a_url_base_is_named_as_written(tmp_path):
    from minim.config import load_config
    from minim.errors import ConfigError

    path = tmp_path / "c.py"
    path.write_text("_base_ = 'https://example.org/base.py'\n")
    with pytest.raises(ConfigError, match="'https://example.org/base.py' is a URL"):
        load_config(path)
