"""Config / ConfigDict: attribute access, missing keys, copies, pickling, plain conversion."""

from __future__ import annotations

import copy
import pickle

import pytest

from config_support import load, write
from minim.config import Config, ConfigDict, load_config
from minim.errors import ConfigError


def sample() -> Config:
    return Config.from_dict({"model": {"head": {"num_classes": 10}}, "pipeline": [{"type": "Load"}],
                             "topk": (1, 5)}, filename="cfg.py")


def test_attribute_access_reaches_nested_dicts_in_lists_and_tuples():
    cfg = sample()
    assert cfg.model.head.num_classes == 10
    assert cfg.pipeline[0].type == "Load"
    assert isinstance(cfg.model, ConfigDict) and isinstance(cfg.pipeline[0], ConfigDict)
    assert cfg.get("topk") == (1, 5) and cfg["model"]["head"] is cfg.model.head
    assert cfg.filename == "cfg.py" and cfg.warnings == []
    cfg.model.backbone = {"depth": 18}
    assert cfg.model.backbone.depth == 18
    cfg.setdefault("extra", {"a": 1})
    cfg.update(more={"b": 2})
    assert cfg.extra.a == 1 and cfg.more.b == 2
    del cfg.extra
    assert "extra" not in cfg


def test_missing_attribute_says_missing_and_suggests():
    cfg = sample()
    with pytest.raises(AttributeError, match=r"config key 'num_clases' is missing \(did you mean 'num_classes'\?\)"):
        cfg.model.head.num_clases
    assert not hasattr(cfg, "nothing_like_it")
    assert getattr(cfg, "absent", "default") == "default"
    with pytest.raises(AttributeError, match="missing"):
        del cfg.absent


def test_to_dict_is_plain_and_independent():
    cfg = sample()
    plain = cfg.to_dict()
    assert type(plain) is dict and type(plain["model"]) is dict and type(plain["pipeline"][0]) is dict
    assert plain["topk"] == (1, 5)
    plain["model"]["head"]["num_classes"] = 1
    assert cfg.model.head.num_classes == 10


def test_copies_and_pickling_keep_values_filename_and_warnings(tmp_path):
    write(tmp_path, "new.py", "a = dict(b=[1])\n")
    cfg = load(tmp_path, "_base_ = 'new.py'\n_deprecation_ = dict(expected='new.py')\n", name="old.py")
    assert len(cfg.warnings) == 1
    for clone in (copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg)), copy.copy(cfg), cfg.copy()):
        assert type(clone) is Config
        assert clone == cfg and clone.filename == cfg.filename and clone.warnings == cfg.warnings
        assert clone.warnings is not cfg.warnings
    deep = copy.deepcopy(cfg)
    deep.a.b.append(2)
    assert cfg.a.b == [1]
    shallow = copy.copy(cfg)
    assert shallow.a is cfg.a
    node = pickle.loads(pickle.dumps(cfg.a))
    assert type(node) is ConfigDict and node.b == [1]


def test_pickled_config_keeps_intermediate_variable_tracking(tmp_path):
    write(tmp_path, "base.py", "pipeline = [dict(size=1)]\ndata = dict(train=dict(pipeline=pipeline))\n")
    cfg = pickle.loads(pickle.dumps(load(tmp_path, "_base_ = 'base.py'\n")))
    cfg.merge_from_options(["pipeline.0.size=2"])
    assert len(cfg.warnings) == 1 and "data.train.pipeline" in cfg.warnings[0]


def test_from_dict_rejects_reserved_keys():
    with pytest.raises(ConfigError, match="'pretty_text' is a reserved name"):
        Config.from_dict({"pretty_text": 1})


def test_empty_config_and_repr(tmp_path):
    cfg = Config()
    assert dict(cfg) == {} and cfg.filename is None and cfg.dump() == ""
    assert "Config(filename='cfg.py'" in repr(sample())
    path = write(tmp_path, "empty.py", "")
    assert dict(load_config(path)) == {}
