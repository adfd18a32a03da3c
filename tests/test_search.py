"""``minim search``: filters, conditions, sorting, columns, JSON and errors."""

from __future__ import annotations

import json

import pytest

from index_support import entry, write_index


def search_json(run_cli, *args):
    result = run_cli("search", "cls", *args, "--json")
    assert result.exit_code == 0, result.err
    return json.loads(result.out)


def test_model_substring_and_condition(run_cli):
    found = search_json(run_cli, "--model", "mobilenet", "--condition", "top1>70")
    names = {e["name"] for e in found}
    assert names >= {"mobilenet-v2_torchvision-v1_in1k", "mobilenet-v3-large_torchvision-v1_in1k"}
    assert all("mobilenet" in e["name"] for e in found)
    assert all(e["metadata"]["top1"] > 70 for e in found)
    assert "mobilenet-v3-small_torchvision-v1_in1k" not in names  # 67.7 top-1


def test_glob_is_case_insensitive_and_matches_collection(run_cli):
    found = search_json(run_cli, "--model", "RESNE?T*")
    assert found and all(e["collection"] == "ResNeXt" for e in found)
    by_collection = search_json(run_cli, "--model", "swin transformer v2")
    # torchvision's "Swin Transformer V2" and mmcls's "Swin-Transformer-V2" are one family
    assert {e["collection"] for e in by_collection} == {"Swin Transformer V2", "Swin-Transformer-V2"}


def test_conditions_are_anded(run_cli):
    found = search_json(run_cli, "--condition", "params_m<=10", "--condition", "flops_g<1",
                        "--condition", "dataset==ImageNet-1k")
    assert found
    for e in found:
        assert e["metadata"]["params_m"] <= 10 and e["metadata"]["flops_g"] < 1


def test_sort_descending_and_limit(run_cli):
    found = search_json(run_cli, "--sort", "top1", "--descending", "--limit", "3")
    assert len(found) == 3
    tops = [e["metadata"]["top1"] for e in found]
    assert tops == sorted(tops, reverse=True)
    everything = search_json(run_cli)
    assert tops[0] == max(e["metadata"]["top1"] for e in everything if e["metadata"]["top1"] is not None)


def test_sort_ascending_puts_missing_values_last(run_cli):
    found = search_json(run_cli, "--model", "vgg16", "--sort", "top1")
    assert found[-1]["metadata"]["top1"] is None
    assert [e["metadata"]["top1"] for e in found[:-1]] == sorted(e["metadata"]["top1"] for e in found[:-1])


def test_config_and_dataset_filters(run_cli):
    found = search_json(run_cli, "--config", "resnet18")
    assert [e["name"] for e in found] == ["resnet18_torchvision-v1_in1k"]
    assert search_json(run_cli, "--dataset", "imagenet-1K")


def test_table_output_with_fields(run_cli):
    result = run_cli("search", "cls", "--model", "resnet18", "--field", "name", "--field", "top1")
    assert result.exit_code == 0
    assert "resnet18_torchvision-v1_in1k" in result.out and "69.758" in result.out
    assert "collection" not in result.out


def test_unknown_field_lists_valid_fields(run_cli):
    result = run_cli("search", "cls", "--condition", "top-1>3")
    assert result.exit_code == 2
    assert result.err.startswith("minim: error: ")
    result = run_cli("search", "cls", "--sort", "acuracy")
    assert "valid fields" in result.err and "top1" in result.err


def test_malformed_condition(run_cli):
    result = run_cli("search", "cls", "--condition", "top1 about 70")
    assert result.exit_code == 2
    assert "malformed condition" in result.err and "valid fields" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("condition, words", [
    ("top1>70,top5>90", "holds more than one test; give each its own --condition (e.g. --condition 'top1>70' "
                        "--condition 'top5>90')"),
    ("top1>70 and top5>90", "holds more than one test"),
    ("top1>abc", "condition 'top1>abc': top1 is a number, but 'abc' is not one"),
])
def test_conditions_that_cannot_mean_what_they_say_are_errors(run_cli, condition, words):
    result = run_cli("search", "cls", "--condition", condition)
    assert result.exit_code == 2 and result.out == ""
    assert f"minim: error: " in result.err and words in result.err


def test_percent_sign_and_alias_membership(run_cli):
    assert search_json(run_cli, "--condition", "top1>=84%") == search_json(run_cli, "--condition", "top1>=84")
    assert [e["name"] for e in search_json(run_cli, "--condition", "aliases==alexnet")] == [
        "alexnet_torchvision-v1_in1k"]
    without = search_json(run_cli, "--condition", "aliases!=AlexNet_Weights.IMAGENET1K_V1")
    assert without and "alexnet_torchvision-v1_in1k" not in {e["name"] for e in without}


def test_size_mb_falls_back_to_the_published_file_size(run_cli):
    found = search_json(run_cli, "--config", "resnet18")
    result = run_cli("search", "cls", "--config", "resnet18", "--field", "size_mb")
    assert found[0]["metadata"]["file_size_mb"] == pytest.approx(44.661)
    assert "44.661" in result.out


def test_no_match_suggests(run_cli):
    result = run_cli("search", "cls", "--model", "mobilenetv9")
    assert result.exit_code == 1
    assert "did you mean" in result.err
    result = run_cli("search", "cls", "--config", "resnet-18")
    assert "did you mean" in result.err and "resnet18" in result.err
    result = run_cli("search", "cls", "--dataset", "imagenett")
    assert "ImageNet-1k" in result.err


def test_conditions_that_match_nothing_are_not_an_error(run_cli):
    result = run_cli("search", "cls", "--condition", "top1>100")
    assert result.exit_code == 0 and "No models match" in result.err
    assert search_json(run_cli, "--condition", "top1>100") == []


def test_private_zoo_fields_are_searchable(run_cli, tmp_path, monkeypatch):
    zoo = write_index(tmp_path, [entry("tinynet_in10", metadata={"dataset": "Tiny-10", "top1": 50.0,
                                                                  "latency_ms": 3.5})])
    monkeypatch.setenv("MINIM_INDEX_PATH", str(zoo))
    found = search_json(run_cli, "--condition", "latency_ms<4")
    assert [e["name"] for e in found] == ["tinynet_in10"]


def test_unknown_codebase_lists_known(run_cli):
    result = run_cli("search", "clss")
    assert result.exit_code == 2
    assert "known codebases: cls" in result.err and "did you mean 'cls'" in result.err
