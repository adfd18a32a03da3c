"""The model index: schema validation, MINIM_INDEX_PATH merging, name resolution."""

from __future__ import annotations

import json
import os

import pytest

from index_support import entry, write_index
from minim.errors import ModelIndexError, NotFoundError
from minim.index import load_index, read_index_file


def test_builtin_index_has_every_torchvision_imagenet_weight():
    index = load_index("cls")
    torchvision_entries = [e for e in index if e.weights and e.weights.format == "torchvision"]
    assert len(torchvision_entries) == 115
    assert len({e.metadata["arch"] for e in torchvision_entries}) == 80
    for e in torchvision_entries:
        assert e.weights.url.startswith("https://download.pytorch.org/models/")
        assert e.weights.sha256 in e.weights.filename
        assert e.config_path.is_file(), e.config_path
        assert e.metadata["dataset"] == "ImageNet-1k"


def test_builtin_names_follow_one_scheme_and_aliases_are_unique():
    index = load_index("cls")
    keys = [k.lower() for k in index.keys()]
    assert len(keys) == len(set(keys))
    mobilenet = index.resolve("mobilenet-v2")
    assert mobilenet.name == "mobilenet-v2_torchvision-v2_in1k" or mobilenet.name.startswith("mobilenet-v2_torchvision-")
    assert index.resolve("MOBILENET-V2") is mobilenet
    assert index.resolve("MobileNet_V2_Weights.IMAGENET1K_V1").name == "mobilenet-v2_torchvision-v1_in1k"


def test_resolve_unique_prefix_ambiguous_and_unknown():
    index = load_index("cls")
    with pytest.warns(UserWarning, match="^no cls model is called 'resnet18_torchvision'; taking "
                                         "resnet18_torchvision-v1_in1k, the only name that begins with it$"):
        assert index.resolve("resnet18_torchvision").name == "resnet18_torchvision-v1_in1k"
    with pytest.raises(NotFoundError, match="ambiguous.*resnet50_torchvision-v1_in1k.*resnet50_torchvision-v2_in1k"):
        index.resolve("resnet50_torchvision")
    with pytest.raises(NotFoundError) as info:
        index.resolve("mobilenet-v9")
    assert "did you mean" in str(info.value) and "mobilenet-v2" in str(info.value)


def test_unique_alias_prefix_names_the_alias_and_the_model(run_cli):
    done = run_cli("search", "cls", "--config", "MOBILENET-V2_SCRATCH", "--field", "name")
    assert done.exit_code == 0
    assert ("minim: warning: no cls model is called 'MOBILENET-V2_SCRATCH'; taking mobilenet-v2_scratch_digits "
            "(model mobilenet-v2_digits), the only name that begins with it") in done.err
    assert "mobilenet-v2_digits" in done.out


def test_extra_index_is_merged(tmp_path, monkeypatch):
    path = write_index(tmp_path / "zoo", [entry("tinynet_in10", aliases=["tinynet"])])
    monkeypatch.setenv("MINIM_INDEX_PATH", str(path.parent))
    index = load_index("cls")
    found = index.resolve("tinynet")
    assert found.name == "tinynet_in10"
    assert found.config_path == path.parent / "configs" / "tinynet_in10.py"
    assert len(index) == 1 + len([e for e in index if e.index_file != path])


def test_extra_index_of_another_codebase_is_ignored(tmp_path, monkeypatch):
    path = write_index(tmp_path, [entry("segnet")], codebase="seg")
    monkeypatch.setenv("MINIM_INDEX_PATH", str(path))
    assert load_index("cls").get("segnet") is None


def test_name_clash_between_files_names_both(tmp_path, monkeypatch):
    first = write_index(tmp_path / "a", [entry("tinynet")])
    second = write_index(tmp_path / "b", [entry("other", aliases=["TINYNET"])])
    monkeypatch.setenv("MINIM_INDEX_PATH", os.pathsep.join([str(first), str(second)]))
    with pytest.raises(ModelIndexError) as info:
        load_index("cls")
    assert str(first) in str(info.value) and str(second) in str(info.value)


def test_clash_with_builtin_alias(tmp_path, monkeypatch):
    path = write_index(tmp_path, [entry("mine", aliases=["resnet18"])])
    monkeypatch.setenv("MINIM_INDEX_PATH", str(path))
    with pytest.raises(ModelIndexError, match="resnet18"):
        load_index("cls")


def test_missing_extra_path_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIM_INDEX_PATH", str(tmp_path / "nope.json"))
    with pytest.raises(ModelIndexError, match="nope.json"):
        load_index("cls")


@pytest.mark.parametrize(
    "broken, message",
    [
        ({"name": None}, "field 'name'"),
        ({"collection": ""}, "field 'collection'"),
        ({"weights": {"url": "ftp://x/y.pth", "sha256": "0123abcd"}}, "bad weights url"),
        ({"weights": {"url": "https://host/", "sha256": "0123abcd"}}, "bad weights url"),
        ({"weights": {"url": "https://host/a.pth", "sha256": "xyz"}}, "bad sha256"),
        ({"weights": {"url": "https://host/a.pth", "sha256": "0123abcd", "size": -1}}, "bad weights size"),
        ({"weights": {"url": "https://host/a.pth", "sha256": "0123abcd", "format": "mmpretrain"}},
         "bad weights format 'mmpretrain': expected one of minim, mmcls, torchvision"),
        ({"metadata": {"top1": 1}}, "missing field 'dataset'"),
        ({"metadata": {"dataset": "x", "top1": "high"}}, "'top1' must be a number"),
        ({"config": "../../etc/passwd"}, "must be relative"),
        ({"aliases": "tiny"}, "aliases"),
        ({"name": "has space"}, "names may contain only"),
    ],
)
def test_malformed_entries_name_file_and_entry(tmp_path, broken, message):
    data = entry("tinynet")
    data.update(broken)
    path = write_index(tmp_path, [entry("fine"), data], configs=False)
    with pytest.raises(ModelIndexError) as info:
        read_index_file(path)
    text = str(info.value)
    assert str(path) in text and message in text
    assert ("'tinynet'" in text) or ("#2" in text) or ("'has space'" in text)


def test_missing_field_is_named(tmp_path):
    data = entry("tinynet")
    del data["source"]
    path = write_index(tmp_path, [data], configs=False)
    with pytest.raises(ModelIndexError, match="'tinynet': missing field 'source'"):
        read_index_file(path)


def test_duplicate_name_in_one_file(tmp_path, monkeypatch):
    path = write_index(tmp_path, [entry("tinynet"), entry("tinynet")])
    monkeypatch.setenv("MINIM_INDEX_PATH", str(path))
    with pytest.raises(ModelIndexError, match="'tinynet' is used by both"):
        load_index("cls")


def test_bad_json_names_line(tmp_path):
    path = tmp_path / "zoo.json"
    path.write_text('{"codebase": "cls",\n "models": [,]}')
    with pytest.raises(ModelIndexError, match=r"zoo.json:2:\d+: invalid JSON"):
        read_index_file(path)


def test_wrong_top_level_shape(tmp_path):
    path = tmp_path / "zoo.json"
    path.write_text(json.dumps([entry("x")]))
    with pytest.raises(ModelIndexError, match="expected a JSON object"):
        read_index_file(path)


def test_builtin_configs_load_cleanly_with_their_evaluation_preprocessing():
    from minim.config import load_config

    for e in load_index("cls"):
        if e.config_path is None:  # weights published without a config (mmcls's ImageNet-21k pre-training)
            assert e.weights is not None and e.weights.format == "mmcls", e.name
            continue
        cfg = load_config(e.config_path)
        assert not cfg.warnings, (e.name, cfg.warnings)
        crops = [step["crop_size"] for step in cfg.data.test.pipeline if step["type"] == "CenterCrop"]
        if e.weights is not None and crops:
            assert crops[-1:] == [e.metadata["input_size"]], e.name
        if e.weights is not None:
            assert cfg.model.type == "ImageClassifier"
