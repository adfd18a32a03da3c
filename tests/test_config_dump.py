"""Dumping: readable flattened .py text that reloads to an identical dict; atomic writes; JSON/YAML."""

from __future__ import annotations

import json
import keyword
import math
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config_support import load, write
from minim.config import Config, load_config
from minim.config.values import identical
from minim.errors import ConfigError


def reload(tmp_path, cfg: Config, name: str = "dumped.py") -> Config:
    path = tmp_path / name
    path.write_text(cfg.dump(), encoding="utf-8")
    return load_config(path)


def test_dump_is_flat_readable_python(tmp_path):
    write(tmp_path, "base.py", """
        model = dict(type='ImageClassifier', head=dict(type='LinearClsHead', num_classes=1000, topk=(1, 5)))
        img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
    """)
    cfg = load(tmp_path, """
        _base_ = 'base.py'
        train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Normalize', **img_norm_cfg)]
        paramwise_cfg = dict(custom_keys={'.cls_token': dict(decay_mult=0.0)})
        model = dict(head=dict(num_classes=10))
        empty = dict(d={}, l=[], t=(), s=set())
        one = (3,)
    """)
    assert cfg.dump() == (
        "model = dict(\n"
        "    type='ImageClassifier',\n"
        "    head=dict(type='LinearClsHead', num_classes=10, topk=(1, 5)),\n"
        ")\n"
        "img_norm_cfg = dict(\n"
        "    mean=[123.675, 116.28, 103.53],\n"
        "    std=[58.395, 57.12, 57.375],\n"
        "    to_rgb=True,\n"
        ")\n"
        "train_pipeline = [\n"
        "    dict(type='LoadImageFromFile'),\n"
        "    dict(\n"
        "        type='Normalize',\n"
        "        mean=[123.675, 116.28, 103.53],\n"
        "        std=[58.395, 57.12, 57.375],\n"
        "        to_rgb=True,\n"
        "    ),\n"
        "]\n"
        "paramwise_cfg = dict(custom_keys={'.cls_token': dict(decay_mult=0.0)})\n"
        "empty = dict(d={}, l=[], t=(), s=set())\n"
        "one = (3,)\n"
    )
    assert cfg.pretty_text == cfg.dump()
    assert identical(reload(tmp_path, cfg).to_dict(), cfg.to_dict())


def test_tricky_values_round_trip(tmp_path):
    data = {
        "floats": [0.1, 1e-300, -0.0, 1e100, float("inf"), -float("inf"), float("nan"), 2.5e-7],
        "strings": ["it's", 'say "hi"', "line\nbreak\ttab\\", "ünïcode ✓", "{{fileDirname}}", "a{{_base_.x}}b", ""],
        "keys": {"class": 1, "not-an-identifier": 2, "ª": "NFKC", "ﬁle": "ligature", "é": "composed", 3: "int key", (1, "a"): "tuple key", "": 0, "None": None},
        "nested": ((1, (2,)), [[], {}], {"a": [{"b": ()}]}),
        "bools": [True, False, None, 0, 1],
        "raw": b"\x00bytes'",
        "sets": [{1, 2}, set(), {"a"}],
        "big": 10 ** 30,
        "long_list": list(range(40)),
    }
    cfg = Config.from_dict(data)
    again = reload(tmp_path, cfg)
    assert identical(again.to_dict(), cfg.to_dict())
    assert math.isnan(again.floats[6]) and math.copysign(1, again.floats[2]) == -1
    assert "float('inf')" in cfg.dump() and "float('nan')" in cfg.dump()


def test_keys_shadowing_builtins_fall_back_to_literals(tmp_path):
    cfg = Config.from_dict({"dict": {"a": 1}, "float": [float("inf"), float("nan")], "set": set(),
                            "later": {"b": {}}})
    text = cfg.dump()
    assert "dict(" not in text and "float(" not in text and "set()" not in text
    again = reload(tmp_path, cfg)
    assert identical(again.to_dict(), cfg.to_dict()) and list(again) == list(cfg)


@pytest.mark.parametrize("data, message", [
    ({"not-identifier": 1}, "cannot dump key 'not-identifier'"),
    ({"class": 1}, "cannot dump key 'class'"),
    ({"ª": 1}, "cannot dump key 'ª'"),
    ({"__private": 1}, "cannot dump key '__private'"),
    ({"_base_": "x.py"}, "cannot dump key '_base_'"),
    ({"a": {"b": range(3)}}, "the value of a.b is a range object"),
])
def test_undumpable_configs_are_errors(data, message):
    with pytest.raises(ConfigError, match="cannot dump"):
        Config.from_dict(data).dump()
    with pytest.raises(ConfigError) as info:
        Config.from_dict(data).dump()
    assert message in info.value.message


def test_dump_to_files_by_suffix(tmp_path):
    cfg = Config.from_dict({"model": {"depth": 18, "topk": (1, 5)}, "classes": ["a", "b"]})
    py = tmp_path / "out" / "cfg.py"
    assert cfg.dump(py) == cfg.dump()
    assert identical(load_config(py).to_dict(), cfg.to_dict())
    cfg.dump(tmp_path / "cfg.json")
    assert json.loads((tmp_path / "cfg.json").read_text()) == {"model": {"depth": 18, "topk": [1, 5]},
                                                               "classes": ["a", "b"]}
    cfg.dump(tmp_path / "cfg.yaml")
    assert yaml.safe_load((tmp_path / "cfg.yaml").read_text())["model"]["topk"] == [1, 5]
    assert load_config(tmp_path / "cfg.yaml").to_dict() == load_config(tmp_path / "cfg.json").to_dict()
    with pytest.raises(ConfigError, match="cannot dump a config to '.txt'"):
        cfg.dump(tmp_path / "cfg.txt")


def test_dump_is_atomic(tmp_path):
    target = tmp_path / "cfg.py"
    target.write_text("old = 1\n")
    with pytest.raises(ConfigError):
        Config.from_dict({"bad": {"x": range(2)}}).dump(target)
    assert target.read_text() == "old = 1\n"
    Config.from_dict({"new": 2}).dump(target)
    assert target.read_text() == "new = 2\n"
    assert os.listdir(tmp_path) == ["cfg.py"]  # no temporary file left behind
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


# ------------------------------------------------------------------------------ property test
IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
TOP_KEYS = IDENTIFIERS.filter(lambda k: not keyword.iskeyword(k) and not k.startswith("__")
                              and k not in ("_base_", "_deprecation_", "_delete_", "filename", "text", "pretty_text"))
NESTED_KEYS = st.one_of(IDENTIFIERS, st.text(max_size=6), st.integers(-5, 5)).filter(lambda k: k != "_delete_")
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12))
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.lists(children, max_size=4).map(tuple),
                               st.dictionaries(NESTED_KEYS, children, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(TOP_KEYS, VALUES, max_size=6))
def test_dump_then_load_is_identity(tmp_path, data):
    cfg = Config.from_dict(data)
    again = reload(tmp_path, cfg)
    assert identical(again.to_dict(), cfg.to_dict())
    assert list(again) == list(cfg)
