"""The mmcls 0.25.0 model zoo in the built-in cls index: entries, configs equal to mim's, download, names.

Expected configs are fixtures recorded from the real mmcls/mmcv (``scripts/check_mmcls_index.py --record``);
no test here needs the network or mmcls.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import pytest

from net_support import LoopbackServer

FIXTURE = Path(__file__).parent / "fixtures" / "index_mmcls_mim_configs.json"
MIM_CONFIGS = json.loads(FIXTURE.read_text())
SECTIONS = ("model", "data.train.pipeline", "data.val.pipeline", "data.test.pipeline", "optimizer",
            "optimizer_config", "lr_config", "runner", "evaluation")
WEIGHTS = b"not really mobilenet weights " * 1000


def untag(value):
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(untag(v) for v in value["__tuple__"])
        return {k: untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untag(v) for v in value]
    return value


def typed(value):
    """``value`` with every type made visible, so that 1 != 1.0 != True and (1, 5) != [1, 5]."""
    if isinstance(value, dict):
        return ("dict", sorted((k, typed(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, value)


def section(values: dict, dotted: str):
    for part in dotted.split("."):
        values = values[part]
    return values


def mmcls_entries():
    from minim.index import load_index

    return [e for e in load_index("cls") if e.source.startswith("mmcls ")]


def test_every_mmcls_model_is_an_entry_with_url_digest_prefix_and_metrics():
    entries = mmcls_entries()
    assert len(entries) == 199
    assert len([e for e in entries if e.config is not None]) == 194
    for e in entries:
        assert e.weights.format == "mmcls" and e.weights.url.startswith("https://download.openmmlab.com/")
        assert e.weights.digest == "prefix" and len(e.weights.sha256) == 8
        assert re.search(rf"-{e.weights.sha256}\.pth$", e.weights.filename), e.name
        assert e.metadata["params_m"] and e.metadata["flops_g"] and e.metadata["dataset"]
        assert e.config is None or e.config_path.is_file()
    with_top1 = [e for e in entries if e.metadata["top1"] is not None]
    assert len(with_top1) == 193


def test_mobilenet_v2_entry_carries_the_published_facts():
    from minim.index import load_index

    e = load_index("cls").resolve("mobilenet-v2_8xb32_in1k")
    assert e.collection == "MobileNet V2"
    assert e.weights.url == ("https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/"
                             "mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth")
    assert e.weights.sha256 == "3b2dc3af"
    assert {k: e.metadata[k] for k in ("dataset", "top1", "top5", "params_m", "flops_g", "input_size")} == {
        "dataset": "ImageNet-1k", "top1": 71.86, "top5": 90.42, "params_m": 3.5, "flops_g": 0.319, "input_size": 224}
    assert e.metadata["training_data"] == ["ImageNet-1k"] and e.metadata["epochs"] == 300


def test_other_datasets_metrics_and_weights_only_entries():
    from minim.index import load_index

    index = load_index("cls")
    cifar = index.resolve("resnet18_8xb16_cifar10")
    assert cifar.metadata["dataset"] == "CIFAR-10" and cifar.metadata["top1"] == 94.82
    csra = index.resolve("resnet101-csra_1xb16_voc07-448px")
    assert csra.metadata["top1"] is None and csra.metadata["map"] == 94.98
    in21k = index.resolve("convnext-base_3rdparty_in21k")
    assert in21k.config is None and in21k.metadata["dataset"] == "ImageNet-21k"


@pytest.mark.parametrize("name", sorted(MIM_CONFIGS))
def test_downloaded_config_equals_what_mim_writes(name, run_cli, tmp_path):
    result = run_cli("download", "cls", "--config", name, "--dest", str(tmp_path), "--no-weights")
    assert result.exit_code == 0, result.err
    from minim.config import load_config

    ours = load_config(tmp_path / f"{name}.py").to_dict()
    theirs = untag(MIM_CONFIGS[name]["values"])
    for dotted in SECTIONS:
        if dotted == "evaluation" and "evaluation" not in theirs:
            assert "evaluation" not in ours
            continue
        assert typed(section(ours, dotted)) == typed(section(theirs, dotted)), dotted
    assert typed(ours) == typed(theirs)


def test_every_mmcls_config_loads():
    from minim.config import load_config

    paths = {e.config_path for e in mmcls_entries() if e.config_path is not None}
    assert len(paths) == 175
    for path in paths:
        cfg = load_config(path)
        assert cfg.model and cfg.data.train.pipeline and cfg.optimizer and cfg.runner, path


@pytest.fixture
def loopback_index(tmp_path, monkeypatch):
    """The built-in index, except that mobilenet-v2_8xb32_in1k's weights come from a loopback server."""
    from minim import codebases

    cls = codebases.get_codebase("cls")
    builtin = cls.index_file()
    data = json.loads(builtin.read_text())
    digest = hashlib.sha256(WEIGHTS).hexdigest()
    filename = f"mobilenet_v2_batch256_imagenet_20200708-{digest[:8]}.pth"
    with LoopbackServer() as server:
        server.add(f"/mmclassification/v0/mobilenet_v2/{filename}", WEIGHTS)
        for item in data["models"]:
            if item["name"] == "mobilenet-v2_8xb32_in1k":
                item["weights"].update(url=server.url(f"/mmclassification/v0/mobilenet_v2/{filename}"),
                                       sha256=digest[:8])
        folder = tmp_path / "index"
        folder.mkdir()
        (folder / "configs").symlink_to(builtin.parent / "configs")
        (folder / "index.json").write_text(json.dumps(data))
        monkeypatch.setitem(codebases._cache, "cls", dataclasses.replace(cls, index_file=lambda: folder / "index.json"))
        yield server, filename


def test_download_writes_mims_config_and_verified_weights(run_cli, loopback_index, tmp_path):
    server, filename = loopback_index
    dest = tmp_path / "out"
    result = run_cli("download", "cls", "--config", "mobilenet-v2_8xb32_in1k", "--dest", str(dest))
    assert result.exit_code == 0, result.err
    assert (dest / filename).read_bytes() == WEIGHTS
    assert "sha256 verified" in result.err and server.hits() == 1
    from minim.config import load_config

    ours = load_config(dest / "mobilenet-v2_8xb32_in1k.py").to_dict()
    assert typed(ours) == typed(untag(MIM_CONFIGS["mobilenet-v2_8xb32_in1k"]["values"]))
    assert "_base_" not in (dest / "mobilenet-v2_8xb32_in1k.py").read_text()


def test_weights_only_entry_downloads_no_config(run_cli, tmp_path):
    result = run_cli("download", "cls", "--config", "convnext-base_3rdparty_in21k", "--dest", str(tmp_path),
                     "--no-weights")
    assert result.exit_code == 0 and "weights only" in result.err
    assert not list(tmp_path.iterdir())
    result = run_cli("run", "cls", "print_config", "convnext-base_3rdparty_in21k")
    assert result.exit_code == 1 and "weights without a config" in result.err


def test_search_lists_mmcls_and_torchvision_mobilenet_v2_side_by_side(run_cli):
    result = run_cli("search", "cls", "--model", "mobilenet")
    assert result.exit_code == 0, result.err
    rows = [line for line in result.out.splitlines() if "mobilenet" in line]
    names = [row.split("│")[1].strip() for row in rows]
    v2 = [i for i, n in enumerate(names) if n.startswith("mobilenet-v2")]
    assert v2 == list(range(v2[0], v2[0] + len(v2)))  # adjacent
    assert {"mobilenet-v2_8xb32_in1k", "mobilenet-v2_torchvision-v1_in1k", "mobilenet-v2_torchvision-v2_in1k"} <= set(
        names)
    mmcls_row = rows[names.index("mobilenet-v2_8xb32_in1k")]
    assert "71.86" in mmcls_row and "90.42" in mmcls_row and "prefix" in mmcls_row
    assert "digest" in result.out


def test_digest_field_tells_full_from_prefix(run_cli, tmp_path, monkeypatch):
    from index_support import entry, write_index

    full = hashlib.sha256(b"x").hexdigest()
    path = write_index(tmp_path, [entry("fullhash", weights={"url": "http://127.0.0.1:9/f.pth", "sha256": full})])
    monkeypatch.setenv("MINIM_INDEX_PATH", str(path))
    result = run_cli("search", "cls", "--condition", "digest==full", "--json")
    assert result.exit_code == 0, result.err
    assert [e["name"] for e in json.loads(result.out)] == ["fullhash"]
    result = run_cli("search", "cls", "--model", "fullhash", "--field", "name", "--field", "digest")
    assert "full" in result.out


@pytest.mark.parametrize("command", [("download", "cls", "--config"), ("search", "cls", "--model"),
                                     ("search", "cls", "--config")])
def test_unknown_name_suggests_nearest_real_names(run_cli, command, tmp_path):
    args = [*command, "mobilenet-v2_8xb32_in21k"] + (["--dest", str(tmp_path)] if command[0] == "download" else [])
    result = run_cli(*args)
    assert result.exit_code == 1
    assert "did you mean 'mobilenet-v2_8xb32_in1k'" in result.err
    assert "--model mobilenet-v2_8xb32_in21k" not in result.err  # never a search that fails too


def test_nothing_near_points_at_a_search_that_works(run_cli):
    result = run_cli("download", "cls", "--config", "qqqqzzzz", "--no-weights")
    assert result.exit_code == 1 and "`minim search cls` lists all" in result.err
    listed = run_cli("search", "cls", "--json")
    assert listed.exit_code == 0 and json.loads(listed.out)


def test_null_config_needs_weights(tmp_path):
    from index_support import entry, write_index
    from minim.errors import ModelIndexError
    from minim.index import read_index_file

    path = write_index(tmp_path, [entry("weightsonly", config=None)], configs=False)
    (found,) = read_index_file(path)[1]
    assert found.config is None and found.config_path is None and found.to_json()["config_path"] is None
    path = write_index(tmp_path, [entry("nothing", config=None, weights=None)], configs=False)
    with pytest.raises(ModelIndexError, match="'config' may be null only when the entry has weights"):
        read_index_file(path)
