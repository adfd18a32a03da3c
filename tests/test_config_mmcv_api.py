"""The Config API of mmcv 1.x: constructor, text, fromfile/fromstring options, DictAction, dump formats,
and errors that are also the builtin exceptions mmcv raises at the same place."""

from __future__ import annotations

import argparse
import json
import pickle
import warnings

import pytest
import yaml

from minim.config import Config, DictAction
from minim.errors import ConfigError


def write(path, text):
    path.write_text(text)
    return path


def test_empty_config_and_bad_constructor_argument():
    cfg = Config()
    assert cfg.filename is None and cfg.text == "" and len(cfg) == 0 and cfg._cfg_dict == {}
    with pytest.raises(TypeError):
        Config([0, 1])


def test_constructor_reads_text_from_filename_and_dumps_in_its_format(tmp_path):
    values = dict(item1=[1, 2], item2=dict(a=0), item3=True, item4="test")
    for name, loader in (("a.json", json.loads), ("c.yaml", yaml.safe_load), ("a.py", None)):
        source = write(tmp_path / name, "# source text\n" if name.endswith(".py") else json.dumps(values))
        cfg = Config(values, filename=source)
        assert cfg.text == source.read_text()
        dumped = cfg.dump()
        if loader is not None:
            assert loader(dumped) == values
        else:
            assert dumped == cfg.pretty_text
        out = tmp_path / ("out" + source.suffix)
        cfg.dump(out)
        assert out.read_text() == dumped
        assert Config.fromfile(out)._cfg_dict == values


def test_fromfile_text_lists_each_file_with_its_absolute_path_bases_first(tmp_path):
    base = write(tmp_path / "base.py", "item1 = [1]\nitem2 = dict(a=0)\n")
    child = write(tmp_path / "d.py", "_base_ = './base.py'\nitem1 = [2, 3]\nitem2 = dict(a=1)\n")
    cfg = Config.fromfile(child)
    assert cfg.text == f"{base.resolve()}\n{base.read_text()}\n{child.resolve()}\n{child.read_text()}"
    assert cfg.item1 == [2, 3] and cfg.item2.a == 1


def test_predefined_variables_can_be_left_as_written(tmp_path):
    source = write(tmp_path / "h.py", "item1 = '{{fileBasename}}'\nitem2 = '{{ fileDirname}}'\n"
                                      "item3 = 'abc_{{ fileBasenameNoExtension }}'\n")
    cfg = Config.fromfile(source)
    assert (cfg.item1, cfg.item2, cfg.item3) == ("h.py", str(tmp_path), "abc_h")
    raw = Config.fromfile(source, False)
    assert (raw.item1, raw.item2, raw.item3) == ("{{fileBasename}}", "{{ fileDirname}}",
                                                 "abc_{{ fileBasenameNoExtension }}")
    data = write(tmp_path / "p.yaml", "item1: '{{ fileDirname }}'\n")
    assert Config.fromfile(data).item1 == str(tmp_path)
    assert Config.fromfile(data, use_predefined_variables=False).item1 == "{{ fileDirname }}"


def test_fromstring_round_trips_pretty_text_and_rejects_the_wrong_format(tmp_path):
    cfg = Config.fromfile(write(tmp_path / "a.py", "item1 = [1, 2]\nitem2 = dict(a=0)\nitem3 = True\n"))
    assert Config.fromstring(cfg.pretty_text, ".py")._cfg_dict == cfg._cfg_dict
    assert Config.fromstring('{"item1": [1, 2]}', ".json").item1 == [1, 2]
    assert Config.fromstring("item1: [1, 2]\n", ".yaml").item1 == [1, 2]
    with pytest.raises(ConfigError):
        Config.fromstring("a = ", ".py")
    with pytest.raises(Exception):
        Config.fromstring(cfg.pretty_text, ".json")


@pytest.mark.parametrize("name, text, builtin", [
    ("missing.py", None, FileNotFoundError),
    ("image.jpg", "not a config", OSError),
    ("syntax.py", "a=0b=dict(c=1)", SyntaxError),
    ("reserved.py", "filename = 'x'\n", KeyError),
    ("bad.json", "{not json", ValueError),
])
def test_errors_are_also_the_builtin_mmcv_raises(tmp_path, name, text, builtin):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(builtin) as info:
        Config.fromfile(path)
    assert isinstance(info.value, ConfigError)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_merge_errors_are_type_and_key_errors(tmp_path):
    write(tmp_path / "base.py", "item1 = [1]\nitem2 = 3\n")
    write(tmp_path / "base2.py", "item1 = [2]\n")
    with pytest.raises(TypeError):  # a dict merged into a non-dict
        Config.fromfile(write(tmp_path / "e.py", "_base_ = './base.py'\nitem2 = dict(a=0)\n"))
    with pytest.raises(KeyError):  # one key from two bases
        Config.fromfile(write(tmp_path / "m.py", "_base_ = ['./base.py', './base2.py']\n"))
    with pytest.raises(KeyError):
        Config.fromfile(write(tmp_path / "r.py", "_base_ = './base.py'\nx = {{_base_.nope}}\n"))


def test_merge_from_dict_list_keys():
    cfg = Config(dict(item=[dict(a=0), dict(b=0, c=0)]))
    cfg.merge_from_dict({"item.0.a": 1, "item.1.b": 1}, allow_list_keys=True)
    assert cfg.item == [{"a": 1}, {"b": 1, "c": 0}]
    with pytest.raises(TypeError):
        cfg.merge_from_dict({"item.0.a": 1}, allow_list_keys=False)
    with pytest.raises(KeyError):
        cfg.merge_from_dict({"item.2.a": 1}, allow_list_keys=True)


def test_dict_access_follows_mmcv():
    cfg = Config(dict(item1=[1, 2], item2=dict(a=0)))
    with pytest.raises(AttributeError):
        cfg.not_exist
    with pytest.raises(KeyError):
        cfg["not_exist"]
    assert cfg.get("not_exist", 0) == 0
    cfg.item5 = {"a": {"b": None}}
    assert cfg._cfg_dict["item5"] == {"a": {"b": None}} and cfg.item5.a.b is None


def test_dict_action_parses_like_mmcv_and_asserts_on_unbalanced_brackets():
    parser = argparse.ArgumentParser()
    parser.add_argument("--options", nargs="+", action=DictAction)
    args = parser.parse_args(["--options", "item2.a=a,b", "item2.b=[(a,b), [1,2], false]"])
    assert args.options == {"item2.a": ["a", "b"], "item2.b": [("a", "b"), [1, 2], False]}
    assert parser.parse_args(["--options", "item2.a=[[1]]"]).options == {"item2.a": [[1]]}
    args = parser.parse_args(["--options", "item2.a=1", "item2.b=0.1", "item2.c=x", "item3=false"])
    assert args.options == {"item2.a": 1, "item2.b": 0.1, "item2.c": "x", "item3": False}
    with pytest.raises(AssertionError):
        parser.parse_args(["--options", "item2.a=[(a,b), [1,2], false"])


def test_pickle_and_copy_keep_text_and_values(tmp_path):
    cfg = Config.fromfile(write(tmp_path / "n.py", "test_item = dict(a=[1, 2], b=(3, 4))\n"))
    clone = pickle.loads(pickle.dumps(cfg))
    assert clone._cfg_dict == cfg._cfg_dict and clone.text == cfg.text and clone.filename == cfg.filename


def test_deprecation_is_a_deprecation_warning(tmp_path):
    source = write(tmp_path / "old.py", "_deprecation_ = dict(expected='new.py', reference='https://x')\na = 1\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = Config.fromfile(source)
    assert any(issubclass(w.category, DeprecationWarning) and "new.py" in str(w.message) for w in caught)
    assert "_deprecation_" not in cfg and any("deprecated" in w for w in cfg.warnings)


def test_custom_imports_get_a_warning_naming_the_modules(tmp_path):
    source = write(tmp_path / "q.py", "custom_imports = dict(imports=['my_pkg.models'], "
                                      "allow_failed_imports=False)\na = 1\n")
    cfg = Config.fromfile(source, import_custom_modules=True)
    assert cfg.custom_imports.imports == ["my_pkg.models"]
    assert any("my_pkg.models" in w and "does not run code" in w for w in cfg.warnings)
