"""--cfg-options parsing (mmcv DictAction semantics, minus the space-stripping trap) and merge_from_dict."""

from __future__ import annotations

import pytest

from minim.config import Config, parse_cfg_options
from minim.errors import ConfigError


def test_parse_the_documented_examples():
    assert parse_cfg_options(["model.head.num_classes=10", "data.train.pipeline.1.size=32", "optimizer.lr=0.01",
                              "a=[1,2]", "b=(1,2)", "c=None", "d=true", "e=a,b", "f='x y'"]) == {
        "model.head.num_classes": 10, "data.train.pipeline.1.size": 32, "optimizer.lr": 0.01,
        "a": [1, 2], "b": (1, 2), "c": None, "d": True, "e": ["a", "b"], "f": "x y"}


@pytest.mark.parametrize("raw, expected", [
    ("1", 1), ("-3", -3), ("1e-3", 0.001), ("0.", 0.0), ("TRUE", True), ("False", False), ("None", None),
    ("none", "none"), ("text", "text"), ("", ""), (" 7 ", 7),
    ("[]", []), ("()", ()), ("(1)", (1,)), ("(1,)", (1,)), ("1,", [1]), ("[1,]", [1]),
    ("[1, 2, 3]", [1, 2, 3]), ("[(1,2),[3,4]]", [(1, 2), [3, 4]]), ("[1,2],[3,4]", [[1, 2], [3, 4]]),
    ("[a, 'b c', \"d,e\"]", ["a", "b c", "d,e"]), ("'None'", "None"), ('"1"', "1"), ("'a,b'", "a,b"),
    ("hello world", "hello world"), ("it's", "it's"), ("topk=(1,5)", "topk=(1,5)"),
    ("((1,2),)", ((1, 2),)), ("[[]]", [[]]),
    ("{'topk': (1, 5)}", {"topk": (1, 5)}), ('{"thrs": 0.5, "average_mode": "none"}', {"thrs": 0.5, "average_mode": "none"}),
    ("{}", {}),
    ('[{"type": "EMAHook", "momentum": 0.001}, {"type": "PreciseBNHook"}]',
     [{"type": "EMAHook", "momentum": 0.001}, {"type": "PreciseBNHook"}]),
    ('({"x": 1, "y": "a,b"},)', ({"x": 1, "y": "a,b"},)),
])
def test_value_parsing(raw, expected):
    value = parse_cfg_options([f"key={raw}"])["key"]
    assert value == expected and type(value) is type(expected)


def test_only_the_first_equals_splits_and_keys_are_stripped():
    assert parse_cfg_options([" a.b =x=1"]) == {"a.b": "x=1"}
    assert parse_cfg_options("single=1") == {"single": 1}


@pytest.mark.parametrize("pair, message", [
    ("novalue", "'novalue' is not KEY=VALUE"),
    ("=1", "'=1' has an empty key"),
    ("a..b=1", "'a..b=1' has an empty key"),
    ("a.=1", "'a.=1' has an empty key"),
    ("a=[1,2", "unbalanced brackets in 'a=[1,2'"),
    ("a=1,2]", "unbalanced brackets in 'a=1,2]'"),
    ("a=[1,(2]", "unbalanced brackets"),
    ("a=['x]", "unterminated quote"),
    ("m={topk: (1, 5)}", "a dict value must be a Python literal with quoted keys"),
    ('m={"x": 1', "unbalanced brackets"),
    ("a=(1,2]", "unbalanced brackets"),
    ('m={"x": 1} extra', "after a dict literal"),
])
def test_bad_pairs_are_named(pair, message):
    with pytest.raises(ConfigError, match="--cfg-options: ") as info:
        parse_cfg_options([pair])
    assert message in info.value.message


def make_config() -> Config:
    return Config.from_dict({
        "model": {"head": {"num_classes": 1000, "topk": (1, 5)}},
        "data": {"train": {"pipeline": [{"type": "Load"}, {"type": "Resize", "size": 224}]}},
        "optimizer_config": {"grad_clip": None},
        "lr_config": {"policy": "step", "step": [30]},
    }, filename="cfg.py")


def test_merge_from_dict_dotted_keys_and_list_indices():
    cfg = make_config()
    cfg.merge_from_dict({"model.head.num_classes": 10, "data.train.pipeline.1.size": 32,
                         "model.head.topk.1": 3, "new.deep.key": "x", "data.train.pipeline.0": {"to_float32": True}})
    assert cfg.model.head.num_classes == 10 and cfg.model.head.topk == (1, 3)
    assert cfg.data.train.pipeline == [{"type": "Load", "to_float32": True}, {"type": "Resize", "size": 32}]
    assert cfg.new.deep.key == "x"
    assert isinstance(cfg.new.deep, dict) and type(cfg.new.deep).__name__ == "ConfigDict"


def test_dict_value_and_dotted_sub_key_combine_without_changing_the_input():
    cfg = make_config()
    given = {"model": {"neck": {"type": "GAP"}}, "model.neck.dim": 2}
    cfg.merge_from_dict(given)
    assert cfg.model.neck.to_dict() == {"type": "GAP", "dim": 2} and cfg.model.head.num_classes == 1000
    assert given == {"model": {"neck": {"type": "GAP"}}, "model.neck.dim": 2}


def test_merge_from_options_with_delete_and_lists_replaced():
    cfg = make_config()
    cfg.merge_from_options(["lr_config._delete_=True", "lr_config.policy=CosineAnnealing", "lr_config.min_lr=0",
                            "optimizer_config.grad_clip._delete_=True", "optimizer_config.grad_clip.max_norm=35",
                            "lr_config.warmup=[1,2]"])
    assert cfg.lr_config.to_dict() == {"policy": "CosineAnnealing", "min_lr": 0, "warmup": [1, 2]}
    assert cfg.optimizer_config.grad_clip.to_dict() == {"max_norm": 35}


@pytest.mark.parametrize("options, message, hint", [
    ({"data.train.pipeline.5.size": 1}, "data.train.pipeline.5: index 5 is out of range for data.train.pipeline "
                                        "(a list of length 2)", None),
    ({"data.train.pipeline.resize.size": 1}, "data.train.pipeline is a list; index it with a number 0..1", None),
    ({"optimizer_config.grad_clip.max_norm": 1}, "optimizer_config.grad_clip: cannot merge a dict into None",
     "also pass optimizer_config.grad_clip._delete_=True"),
    ({"model.head.num_classes.x": 1}, "model.head.num_classes: cannot merge a dict into 1000", None),
    ({"model.head": 1, "model.head.x": 2}, "options 'model.head' and 'model.head.x' conflict", None),
    ({"model.head.x": 2, "model.head": 1}, "'model.head' conflicts", None),
    ({"model.head.x": 2, "model.head": {"y": 1}}, "'model.head' conflicts", None),
])
def test_merge_errors_name_the_key(options, message, hint):
    cfg = make_config()
    before = cfg.to_dict()
    with pytest.raises(ConfigError) as info:
        cfg.merge_from_dict(options)
    assert info.value.message.startswith("--cfg-options: ")
    assert message in info.value.message
    if hint:
        assert hint in info.value.hint
    assert cfg.to_dict() == before  # a failed merge changes nothing


def test_a_new_key_next_to_a_close_one_is_added_with_a_warning():
    cfg = Config(dict(optimizer=dict(lr=0.1), model=dict(head=dict(num_classes=1000)),
                      data=dict(train=dict(pipeline=[dict(type="Load"), dict(type="Resize", size=32)]))))
    cfg.merge_from_options(["optimzer.lr=0.01", "model.hed.num_classes=10", "data.train.pipeline.1.szie=16",
                            "fp16.loss_scale=512", "model.head.num_classes=5", "channels_last=True"])
    assert cfg.optimzer == dict(lr=0.01) and cfg.model.hed == dict(num_classes=10)  # added, as mmcv does
    assert cfg.model.head.num_classes == 5 and cfg.fp16 == dict(loss_scale=512)
    assert cfg.warnings == [
        "--cfg-options optimzer.lr: the config has no key 'optimzer' (did you mean 'optimizer'?); "
        "it is added as a new key",
        "--cfg-options model.hed.num_classes: the config has no key 'model.hed' (did you mean 'head'?); "
        "it is added as a new key",
        "--cfg-options data.train.pipeline.1.szie: the config has no key 'data.train.pipeline.1.szie' "
        "(did you mean 'size'?); it is added as a new key",
    ]


def test_misspelt_override_is_a_warning_on_the_command_line(run_cli):
    result = run_cli("run", "cls", "print_config", "mobilenet-v2_digits", "--cfg-options", "runer.max_epochs=1")
    assert result.exit_code == 0
    assert ("minim: warning: --cfg-options runer.max_epochs: the config has no key 'runer' "
            "(did you mean 'runner'?)") in result.err
