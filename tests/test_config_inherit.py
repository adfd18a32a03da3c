"""_base_ inheritance, merge rules, base references, placeholders, special keys, JSON/YAML, warnings."""

from __future__ import annotations

import json

import pytest

from config_support import load, load_error, write
from minim.config import load_config
from minim.errors import ConfigError

BASE_DATASET = """
    dataset_type = 'CIFAR10'
    img_norm_cfg = dict(mean=[125.3, 123.0, 113.9], std=[63.0, 62.1, 66.7], to_rgb=False)
    train_pipeline = [
        dict(type='RandomCrop', size=32, padding=4),
        dict(type='Normalize', **img_norm_cfg),
    ]
    test_pipeline = [dict(type='Normalize', **img_norm_cfg)]
    data = dict(
        samples_per_gpu=16,
        train=dict(type=dataset_type, pipeline=train_pipeline),
        val=dict(type=dataset_type, pipeline=test_pipeline),
        test=dict(type=dataset_type, pipeline=test_pipeline),
    )
"""


def test_single_base_string_and_key_order(tmp_path):
    write(tmp_path, "base.py", "a = 1\nmodel = dict(depth=18, head=dict(num_classes=1000, topk=(1, 5)))\nz = 0\n")
    cfg = load(tmp_path, """
        _base_ = 'base.py'
        new_key = 'x'
        model = dict(head=dict(num_classes=10))
        a = 2
    """)
    assert list(cfg) == ["a", "model", "z", "new_key"]
    assert cfg.to_dict() == {"a": 2, "model": {"depth": 18, "head": {"num_classes": 10, "topk": (1, 5)}},
                             "z": 0, "new_key": "x"}


def test_bases_resolve_relative_to_the_declaring_file(tmp_path):
    write(tmp_path, "configs/_base_/models/net.py", "_base_ = ['../common/runtime.py']\nmodel = dict(type='Net')\n")
    write(tmp_path, "configs/_base_/common/runtime.py", "log_level = 'INFO'\n")
    write(tmp_path, "configs/_base_/schedule.py", "lr = 0.1\n")
    absolute = write(tmp_path, "elsewhere/abs.py", "seed = 0\n")
    child = write(tmp_path, "configs/net/child.py", f"""
        _base_ = ['../_base_/models/net.py', '../_base_/schedule.py', {str(absolute)!r}]
        lr = 0.01
    """)
    cfg = load_config(child)
    assert cfg.to_dict() == {"log_level": "INFO", "model": {"type": "Net"}, "lr": 0.01, "seed": 0}
    assert cfg.filename == str(child)


def test_duplicate_key_across_bases_names_both_files(tmp_path):
    write(tmp_path, "a.py", "model = dict(x=1)\n")
    write(tmp_path, "b.py", "other = 1\nmodel = dict(y=2)\n")
    error = load_error(tmp_path, "_base_ = ['a.py', 'b.py']\n")
    assert "cfg.py:1: key 'model' is defined in two bases" in error.message
    assert "a.py" in error.message and "b.py" in error.message


def test_lists_are_replaced_and_delete_replaces_dicts(tmp_path):
    write(tmp_path, "base.py", """
        pipeline = [dict(type='A'), dict(type='B')]
        lr_config = dict(policy='step', step=[30, 60], warmup='linear')
        optimizer = dict(type='SGD', lr=0.1)
    """)
    cfg = load(tmp_path, """
        _base_ = 'base.py'
        pipeline = [dict(type='C')]
        lr_config = dict(_delete_=True, policy='CosineAnnealing', min_lr=0)
        optimizer = dict(lr=0.01, _delete_=False)
        fresh = dict(_delete_=True, a=dict(_delete_=True, b=1), items=[dict(_delete_=True, c=2)])
    """)
    assert cfg.pipeline == [{"type": "C"}]
    assert cfg.lr_config.to_dict() == {"policy": "CosineAnnealing", "min_lr": 0}
    assert cfg.optimizer.to_dict() == {"type": "SGD", "lr": 0.01}
    assert cfg.fresh.to_dict() == {"a": {"b": 1}, "items": [{"c": 2}]}  # _delete_ consumed everywhere


def test_dict_over_non_dict_asks_for_delete(tmp_path):
    write(tmp_path, "base.py", "optimizer_config = dict(grad_clip=None)\n")
    error = load_error(tmp_path, """
        _base_ = 'base.py'

        optimizer_config = dict(
            grad_clip=dict(max_norm=35))
    """)
    assert "cfg.py:4: optimizer_config.grad_clip: cannot merge a dict into None" in error.message
    assert "base.py" in error.message
    assert "_delete_=True" in error.hint and "optimizer_config.grad_clip" in error.hint
    cfg = load(tmp_path, """
        _base_ = 'base.py'
        optimizer_config = dict(grad_clip=dict(max_norm=35, _delete_=True))
    """, name="fixed.py")
    assert cfg.optimizer_config.grad_clip.to_dict() == {"max_norm": 35}


def test_base_references_whole_value_arithmetic_and_attribute_spelling(tmp_path):
    write(tmp_path, "base.py", """
        lr = 0.1
        policies = [dict(type='Invert'), dict(type='Rotate', angle=30)]
        model = dict(head=dict(num_classes=1000, in_channels=512))
    """)
    cfg = load(tmp_path, """
        _base_ = ['base.py']
        pipeline = [dict(type='RandAugment', policies={{_base_.policies}})]
        lr = {{_base_.lr}} / 2
        scaled = {{ _base_.lr }} * 8 + 1
        channels = _base_.model.head.in_channels * 2
        classes = _base_.model['head']['num_classes'] // 10
        head_copy = _base_.model.head.get('num_classes')
        first = {{_base_.policies}}[1]['angle']
        plain_name = lr * 10
        num_base = len(policies)
    """)
    assert cfg.pipeline[0].policies == [{"type": "Invert"}, {"type": "Rotate", "angle": 30}]
    assert cfg.lr == 0.05 and cfg.scaled == 1.8 and cfg.channels == 1024 and cfg.classes == 100
    assert cfg.head_copy == 1000 and cfg.first == 30
    assert cfg.plain_name == 0.5  # the file's own lr, defined on the line above
    assert cfg.num_base == 2  # bare names fall back to base values


def test_base_references_are_copies(tmp_path):
    write(tmp_path, "base.py", "policies = [dict(type='Invert')]\n")
    cfg = load(tmp_path, """
        _base_ = 'base.py'
        mine = _base_.policies
        mine[0]['type'] = 'Changed'
    """)
    assert cfg.policies == [{"type": "Invert"}] and cfg.mine == [{"type": "Changed"}]


@pytest.mark.parametrize("source, message, hint", [
    ("_base_ = 'base.py'\nx = {{_base_.lrr}}\n", "cfg.py:2: key 'lrr' is not defined in the base configs", "'lr'"),
    ("_base_ = 'base.py'\nx = _base_.model.hed\n", "cfg.py:2: key 'hed' not found in _base_.model", "'head'"),
    ("x = {{_base_.lr}}\n", "cfg.py:1: _base_.lr is used but this config has no _base_", "_base_ ="),
    ("_base_ = 'base.py'\nmodel['head'] = 1\n", "cfg.py:2: cannot assign into 'model'", "model = dict"),
    ("_base_ = 3\n", "cfg.py:1: _base_ must be a path or a list of paths", "_base_ = ["),
    ("_base_ = 'bsae.py'\n", "cfg.py:1: base config", "'base.py'"),
])
def test_base_reference_errors(tmp_path, source, message, hint):
    write(tmp_path, "base.py", "lr = 0.1\nmodel = dict(head=dict(num_classes=10))\n")
    error = load_error(tmp_path, source)
    assert message in error.message
    assert hint in error.hint


def test_cyclic_bases_are_reported(tmp_path):
    write(tmp_path, "a.py", "_base_ = 'b.py'\n")
    write(tmp_path, "b.py", "_base_ = 'a.py'\n")
    with pytest.raises(ConfigError, match=r"b\.py:1: _base_ 'a\.py' includes itself \(a\.py -> b\.py -> a\.py\)"):
        load_config(tmp_path / "a.py")


def test_predefined_placeholders(tmp_path):
    cfg = load(tmp_path, """
        work_dir = './work_dirs/{{ fileBasenameNoExtension }}'
        parts = ['{{fileDirname}}', '{{fileBasename}}', '{{fileExtname}}']
        bare = {{fileBasenameNoExtension}}
    """, name="my_config.py")
    assert cfg.work_dir == "./work_dirs/my_config"
    assert cfg.parts == [tmp_path.as_posix(), "my_config.py", ".py"]
    assert cfg.bare == "my_config"


def test_placeholders_in_base_paths_and_each_file_uses_its_own(tmp_path):
    write(tmp_path, "sub/base.py", "base_name = '{{fileBasename}}'\n")
    cfg = load(tmp_path, "_base_ = '{{fileDirname}}/sub/base.py'\nname = '{{fileBasename}}'\n")
    assert cfg.base_name == "base.py" and cfg.name == "cfg.py"


def test_deprecation_is_popped_with_a_warning(tmp_path):
    write(tmp_path, "new.py", "x = 1\n")
    cfg = load(tmp_path, """
        _base_ = 'new.py'
        _deprecation_ = dict(expected='new.py', reference='https://example.org/pr/1')
    """, name="old.py")
    assert dict(cfg) == {"x": 1}
    assert len(cfg.warnings) == 1
    assert "old.py is deprecated; use new.py instead (see https://example.org/pr/1)" in cfg.warnings[0]


@pytest.mark.parametrize("key", ["filename", "text", "pretty_text"])
def test_reserved_keys_are_errors(tmp_path, key):
    error = load_error(tmp_path, f"a = 1\n{key} = 'x'\n")
    assert f"cfg.py:2: {key!r} is a reserved name" in error.message


def test_unknown_extension_and_missing_file(tmp_path):
    write(tmp_path, "cfg.toml", "a = 1\n")
    with pytest.raises(ConfigError, match=r"cfg\.toml: unsupported config type '\.toml'"):
        load_config(tmp_path / "cfg.toml")
    write(tmp_path, "resnet18.py", "a = 1\n")
    with pytest.raises(ConfigError, match="config file .*resnet81.py not found") as info:
        load_config(tmp_path / "resnet81.py")
    assert "resnet18.py" in info.value.hint


def test_json_and_yaml_configs_with_bases(tmp_path):
    write(tmp_path, "base.py", "model = dict(depth=18, head=dict(num_classes=1000))\npolicies = [1, 2]\n")
    write(tmp_path, "mid.json", json.dumps({"_base_": "base.py", "model": {"depth": 50}, "lr": 0.1,
                                            "work_dir": "{{fileDirname}}/out"}))
    write(tmp_path, "child.yaml", """
        _base_: [mid.json]
        model:
          head:
            num_classes: 10
        policies: {{_base_.policies}}
        first: {{ _base_.policies.0 }}
        name: "{{fileBasenameNoExtension}}"
    """)
    cfg = load_config(tmp_path / "child.yaml")
    assert cfg.to_dict() == {"model": {"depth": 50, "head": {"num_classes": 10}}, "policies": [1, 2],
                             "lr": 0.1, "work_dir": f"{tmp_path.as_posix()}/out", "first": 1, "name": "child"}
    write(tmp_path, "empty.yml", "")
    assert dict(load_config(tmp_path / "empty.yml")) == {}


def test_unreadable_text_is_an_error(tmp_path):
    (tmp_path / "latin.py").write_bytes(b"name = '\xe9'\n")
    with pytest.raises(ConfigError, match=r"latin\.py: cannot read config"):
        load_config(tmp_path / "latin.py")


@pytest.mark.parametrize("name, text, message", [
    ("bad.json", '{\n  "a": 1,\n  "b": \n}\n', "bad.json:4: invalid JSON"),
    ("bad.yaml", "a: 1\nb: [1, 2\n", "bad.yaml:3: invalid YAML"),
    ("list.yaml", "- 1\n- 2\n", "list.yaml:1: a config must be a mapping"),
    ("date.yaml", "a: 1\nwhen: 2024-01-02\n", "date.yaml:2: the value of when is a date object"),
    ("ref.yaml", "a: {{_base_.x}}\n", "ref.yaml:1: {{_base_.x}} is used but this config has no _base_"),
])
def test_data_config_errors(tmp_path, name, text, message):
    write(tmp_path, name, text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / name)
    assert message in info.value.message


# ------------------------------------------------------------------------------ intermediate variables
def test_redefined_pipeline_warns_with_the_fix(tmp_path):
    write(tmp_path, "base.py", BASE_DATASET)
    cfg = load(tmp_path, """
        _base_ = 'base.py'
        train_pipeline = [dict(type='RandomCrop', size=28)]
    """)
    assert cfg.data.train.pipeline[0].size == 32  # mmcv semantics: resolved when the base was loaded
    assert len(cfg.warnings) == 1
    warning = cfg.warnings[0]
    assert "'train_pipeline' is redefined in" in warning and "cfg.py" in warning
    assert "data.train.pipeline still holds" in warning and "base.py" in warning
    assert "reassign data = dict(train=dict(pipeline=train_pipeline))" in warning


def test_reassigning_the_user_of_the_variable_silences_the_warning(tmp_path):
    write(tmp_path, "base.py", BASE_DATASET)
    cfg = load(tmp_path, """
        _base_ = 'base.py'
        train_pipeline = [dict(type='RandomCrop', size=28)]
        data = dict(train=dict(pipeline=train_pipeline))
    """)
    assert cfg.warnings == [] and cfg.data.train.pipeline[0].size == 28
    same_value = load(tmp_path, """
        _base_ = 'base.py'
        dataset_type = 'CIFAR10'
        data = dict(samples_per_gpu=32)
    """, name="same.py")
    assert same_value.warnings == []


def test_redefined_norm_config_reports_every_stale_place_once(tmp_path):
    write(tmp_path, "base.py", BASE_DATASET)
    cfg = load(tmp_path, """
        _base_ = 'base.py'
        img_norm_cfg = dict(mean=[0.0, 0.0, 0.0])
    """)
    assert len(cfg.warnings) == 1
    warning = cfg.warnings[0]
    assert "'img_norm_cfg' is redefined" in warning
    for path in ("train_pipeline.1.mean", "test_pipeline.0.mean", "data.train.pipeline.1.mean",
                 "data.val.pipeline.0.mean", "data.test.pipeline.0.mean"):
        assert path in warning
    assert ".std" not in warning  # only the mean changed


def test_stale_variable_across_three_levels(tmp_path):
    write(tmp_path, "base.py", BASE_DATASET)
    write(tmp_path, "mid.py", """
        _base_ = 'base.py'
        train_pipeline = [dict(type='Normalize', **img_norm_cfg)]
        data = dict(train=dict(pipeline=train_pipeline))
    """)
    cfg = load(tmp_path, "_base_ = 'mid.py'\ntrain_pipeline = []\n")
    assert len(cfg.warnings) == 1 and "data.train.pipeline still holds" in cfg.warnings[0]
    assert "mid.py" in cfg.warnings[0]


def test_a_flattened_base_warns_through_its_copies(tmp_path):
    # what `minim download` writes: every variable resolved, no reference left to follow
    write(tmp_path, "flat.py", """
        base_lr = 0.1
        test_pipeline = [dict(type='Resize', size=32), dict(type='Collect', keys=['img'])]
        optimizer = dict(type='SGD', lr=0.1)
        data = dict(val=dict(type='CustomDataset', pipeline=[dict(type='Resize', size=32),
                                                            dict(type='Collect', keys=['img'])]),
                    test=dict(type='CustomDataset', pipeline=[dict(type='Resize', size=32),
                                                             dict(type='Collect', keys=['img'])]))
    """)
    cfg = load(tmp_path, """
        _base_ = 'flat.py'
        test_pipeline = [dict(type='Resize', size=40), dict(type='Collect', keys=['img'])]
        base_lr = 0.01
    """)
    assert len(cfg.warnings) == 1  # the scalar base_lr = optimizer.lr proves nothing: no warning for it
    assert "'test_pipeline' is redefined" in cfg.warnings[0]
    assert "data.val.pipeline, data.test.pipeline still hold" in cfg.warnings[0]
    assert ("reassign data = dict(val=dict(pipeline=test_pipeline), test=dict(pipeline=test_pipeline))"
            in cfg.warnings[0])  # the hint fixes every place, not the first
    fixed = load(tmp_path, """
        _base_ = 'flat.py'
        test_pipeline = [dict(type='Resize', size=40)]
        data = dict(val=dict(pipeline=test_pipeline), test=dict(pipeline=test_pipeline))
    """, name="fixed.py")
    assert fixed.warnings == []
    flat = load_config(str(tmp_path / "flat.py"))
    flat.merge_from_options(["test_pipeline.0.size=40"])  # --cfg-options on the downloaded config itself
    assert len(flat.warnings) == 1 and "--cfg-options changes 'test_pipeline'" in flat.warnings[0]
    assert "also override data.val.pipeline.0.size, data.test.pipeline.0.size" in flat.warnings[0]


def test_a_flattened_base_warns_about_a_redefined_norm_config(tmp_path):
    write(tmp_path, "flat.py", """
        img_norm_cfg = dict(mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0], to_rgb=True)
        test_pipeline = [dict(type='Normalize', mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0], to_rgb=True)]
        data = dict(test=dict(pipeline=[dict(type='Normalize', mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0],
                                             to_rgb=True)]))
    """)
    cfg = load(tmp_path, "_base_ = 'flat.py'\nimg_norm_cfg = dict(mean=[0.0, 0.0, 0.0], std=[4.0, 5.0, 6.0], to_rgb=True)\n")
    assert len(cfg.warnings) == 1 and "'img_norm_cfg' is redefined" in cfg.warnings[0]
    assert "test_pipeline.0.mean" in cfg.warnings[0] and "data.test.pipeline.0.mean" in cfg.warnings[0]
    assert ".std" not in cfg.warnings[0]  # only the mean changed


def test_unpacked_and_chained_assignments_track_nothing_wrongly(tmp_path):
    write(tmp_path, "base.py", "y = 1\nx = dict(k=0)\na, b = dict(x=y), [y]\nc = d = dict(x=y)\n")
    cfg = load(tmp_path, "_base_ = 'base.py'\ny = 2\n")
    assert cfg.warnings == [] and cfg.x == {"k": 0}


def test_cfg_options_on_an_intermediate_variable_warn(tmp_path):
    write(tmp_path, "base.py", BASE_DATASET)
    cfg = load(tmp_path, "_base_ = 'base.py'\n")
    cfg.merge_from_options(["train_pipeline.0.size=24"])
    assert cfg.train_pipeline[0].size == 24 and cfg.data.train.pipeline[0].size == 32
    assert len(cfg.warnings) == 1
    assert "--cfg-options changes 'train_pipeline'" in cfg.warnings[0]
    assert "also override data.train.pipeline.0.size" in cfg.warnings[0]
    cfg.merge_from_options(["data.train.pipeline.0.size=24"])
    assert len(cfg.warnings) == 1


def test_cfg_options_on_a_variable_of_the_file_itself_warn(tmp_path):
    write(tmp_path, "own.py", "base_lr = 0.1\noptimizer = dict(type='SGD', lr=base_lr)\n")
    cfg = load_config(str(tmp_path / "own.py"))
    cfg.merge_from_options(["base_lr=0.2"])
    assert len(cfg.warnings) == 1 and "optimizer.lr still holds its old value" in cfg.warnings[0]
