"""``minim run cls publish_model`` and ``make_index_entry``: release files and private index entries."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import torch

from cls_tools_support import make_checkpoint, tiny_shufflenet_config, write_image_tree
from net_support import LoopbackServer
from minim.cls.analysis.publish import HUB_HASH

CLASSES = ["cat", "dog", "fox"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("publish")
    data = write_image_tree(root / "flowers" / "train", CLASSES, per_class=2)
    config = tiny_shufflenet_config(root / "tiny.py", data)
    checkpoint = make_checkpoint(root / "work" / "epoch_3.pth", config, CLASSES)
    return config, checkpoint


def _publish(run_cli, checkpoint, out, *extra):
    result = run_cli("run", "cls", "publish_model", str(checkpoint), str(out), *extra)
    assert result.exit_code == 0, result.err
    files = sorted(out.parent.glob("*.pth"))
    return result, files


def test_publish_strips_training_state_and_names_the_file_after_its_sha256(run_cli, tmp_path, trained):
    _config, checkpoint = trained
    result, files = _publish(run_cli, checkpoint, tmp_path / "release" / "shufflenet_tiny.pth")
    assert len(files) == 1
    published = files[0]
    digest = hashlib.sha256(published.read_bytes()).hexdigest()
    assert published.name == f"shufflenet_tiny-{digest[:8]}.pth"
    assert HUB_HASH.search(published.name).group(1) == digest[:8]  # what torch.hub checks
    content = torch.load(published, weights_only=True)
    assert set(content) == {"state_dict", "meta"}
    original = torch.load(checkpoint, weights_only=True)
    assert "optimizer" in original
    assert content["state_dict"].keys() == original["state_dict"].keys()
    assert all(torch.equal(content["state_dict"][k], original["state_dict"][k]) for k in original["state_dict"])
    assert content["meta"]["CLASSES"] == CLASSES
    assert content["meta"]["hook_msgs"] == {"best_key": "accuracy_top-1", "best_score": 66.7,  # no local paths
                                            "best_number": 3}
    assert "rng_state" not in content["meta"] and content["meta"]["epoch"] == 3
    assert "dropped training state: optimizer, meta.rng_state" in result.err
    entry = json.loads(result.out)
    assert entry["weights"] == {"url": published.resolve().as_uri(), "sha256": digest,
                                "size": published.stat().st_size, "format": "minim"}
    assert entry["name"] == "shufflenet_tiny" and entry["metadata"]["top1"] == 66.7
    assert entry["metadata"]["num_classes"] == 3 and "--base-url" in result.err
    assert not list(published.parent.glob(".*"))

    again, files = _publish(run_cli, checkpoint, tmp_path / "release" / "shufflenet_tiny.pth")
    assert files == [published]  # same weights, same bytes, same name


def test_publish_options_and_plain_state_dicts(run_cli, tmp_path, trained):
    _config, checkpoint = trained
    result, files = _publish(run_cli, checkpoint, tmp_path / "a" / "net.pth", "--date",
                             "--base-url", "https://example.com/models/", "--dataset", "flowers")
    assert re.fullmatch(r"net_\d{8}-[0-9a-f]{8}\.pth", files[0].name)
    entry = json.loads(result.out)
    assert entry["weights"]["url"] == f"https://example.com/models/{files[0].name}"
    assert entry["metadata"]["dataset"] == "flowers"

    plain = tmp_path / "plain.pth"
    torch.save({"conv.weight": torch.ones(2, 2)}, plain)
    result, files = _publish(run_cli, plain, tmp_path / "b" / "plain.pth")
    assert torch.load(files[0], weights_only=True).keys() == {"conv.weight"}
    assert json.loads(result.out)["weights"]["format"] == "torchvision"


def test_publish_refuses_names_torch_hub_would_misread(run_cli, tmp_path, trained):
    _config, checkpoint = trained
    result = run_cli("run", "cls", "publish_model", str(checkpoint), str(tmp_path / "net-1.5x.pth"))
    assert result.exit_code == 2 and "torch.hub would read the hash '1'" in result.err
    assert not list(tmp_path.glob("*.pth")) and not list(tmp_path.glob(".*"))
    result = run_cli("run", "cls", "publish_model", str(checkpoint), str(tmp_path / "bad name.pth"))
    assert result.exit_code == 2 and "OUT name 'bad name'" in result.err
    result = run_cli("run", "cls", "publish_model", str(tmp_path / "missing.pth"), str(tmp_path / "x.pth"))
    assert result.exit_code == 1 and "does not exist" in result.err


def test_index_entry_into_a_private_index_usable_through_minim_index_path(run_cli, tmp_path, trained, monkeypatch):
    config, checkpoint = trained
    _result, files = _publish(run_cli, checkpoint, tmp_path / "release" / "shufflenet_flowers.pth")
    published = files[0]
    index = tmp_path / "team" / "index.json"
    with LoopbackServer() as server:
        server.add(f"/models/{published.name}", file=published)
        url = server.url(f"/models/{published.name}")
        result = run_cli("run", "cls", "make_index_entry", str(config), "--checkpoint", str(published),
                         "--name", "shufflenet-tiny_flowers", "--alias", "sn-tiny", "sn-flowers", "--url", url,
                         "--index", str(index))
        assert result.exit_code == 0, result.err
        entry = json.loads(result.out)
        assert entry["config"] == "configs/shufflenet-tiny_flowers.py"
        assert entry["aliases"] == ["sn-tiny", "sn-flowers"] and entry["collection"] == "ShuffleNetV2"
        assert entry["weights"]["sha256"] == hashlib.sha256(published.read_bytes()).hexdigest()
        metadata = entry["metadata"]
        assert metadata["dataset"] == "flowers" and metadata["top1"] == 66.7 and metadata["input_size"] == 32
        assert metadata["num_classes"] == 3 and metadata["params_m"] == pytest.approx(0.345, abs=0.001)
        assert json.loads(index.read_text())["models"][0]["name"] == "shufflenet-tiny_flowers"
        assert (index.parent / "configs" / "shufflenet-tiny_flowers.py").is_file()

        monkeypatch.setenv("MINIM_INDEX_PATH", str(index))
        found = run_cli("search", "cls", "--model", "shufflenet-tiny")
        assert found.exit_code == 0, found.err
        assert "shufflenet-tiny_flowers" in found.out
        printed = run_cli("run", "cls", "print_config", "sn-tiny")
        assert printed.exit_code == 0 and "ShuffleNetV2" in printed.out and "_base_" not in printed.out
        downloaded = run_cli("download", "cls", "--config", "sn-flowers", "--dest", str(tmp_path / "dl"))
        assert downloaded.exit_code == 0, downloaded.err
        assert (tmp_path / "dl" / published.name).read_bytes() == published.read_bytes()

    updated = run_cli("run", "cls", "make_index_entry", str(config), "--checkpoint", str(published),
                      "--name", "shufflenet-tiny_flowers", "--url", url, "--top1", "70.5", "--index", str(index))
    assert updated.exit_code == 0 and "updated" in updated.err
    models = json.loads(index.read_text())["models"]
    assert len(models) == 1 and models[0]["metadata"]["top1"] == 70.5 and models[0]["aliases"] == []
    renamed = run_cli("run", "cls", "make_index_entry", str(config), "--checkpoint", str(published),
                      "--name", "ShuffleNet-Tiny_Flowers", "--url", url, "--index", str(index))
    assert renamed.exit_code == 0 and "updated" in renamed.err
    assert [m["name"] for m in json.loads(index.read_text())["models"]] == ["ShuffleNet-Tiny_Flowers"]
    assert [p.name for p in (index.parent / "configs").iterdir()] == ["ShuffleNet-Tiny_Flowers.py"]


def test_index_entry_errors(run_cli, tmp_path, trained):
    config, checkpoint = trained
    _result, files = _publish(run_cli, checkpoint, tmp_path / "rel" / "net.pth")
    published = files[0]
    url = f"https://example.com/m/{published.name}"
    index = tmp_path / "index.json"

    clash = run_cli("run", "cls", "make_index_entry", str(config), "--checkpoint", str(published), "--name", "mine",
                    "--alias", "resnet18", "--url", url, "--index", str(index))
    assert clash.exit_code == 1 and "'resnet18' is already used" in clash.err and "built-in index" in clash.err
    assert not index.exists() and clash.out == ""  # no entry printed for an index that refused it
    not_json = run_cli("run", "cls", "make_index_entry", str(config), "--checkpoint", str(published), "--name", "mine",
                       "--url", url, "--index", str(tmp_path / "index.txt"))
    assert not_json.exit_code == 2 and "must end with .json" in not_json.err and not_json.out == ""

    wrong_hash = run_cli("run", "cls", "make_index_entry", str(config), "--checkpoint", str(published),
                         "--name", "mine", "--url", "https://example.com/m/net-0badc0de.pth")
    assert wrong_hash.exit_code == 1 and "carries the hash 0badc0de" in wrong_hash.err

    other = tmp_path / "other.py"
    other.write_text(config.read_text().replace("num_classes=3", "num_classes=5"))
    misfit = run_cli("run", "cls", "make_index_entry", str(other), "--checkpoint", str(published), "--name", "mine",
                     "--url", url)
    assert misfit.exit_code == 1 and "does not fit the config's model" in misfit.err and "[3, 1024]" in misfit.err
    wider = tmp_path / "wider.py"
    wider.write_text(config.read_text().replace("widen_factor=0.5", "widen_factor=1.0"))
    misfit = run_cli("run", "cls", "make_index_entry", str(wider), "--checkpoint", str(published), "--name", "mine",
                     "--url", url)
    assert misfit.exit_code == 1 and "does not fit" in misfit.err

    bad_url = run_cli("run", "cls", "make_index_entry", str(config), "--checkpoint", str(published), "--name", "mine",
                      "--url", "ftp://example.com/x.pth")
    assert bad_url.exit_code == 2 and "http(s)" in bad_url.err


def test_the_best_score_is_claimed_only_by_the_best_checkpoint():
    from minim.cls.analysis.index_entry import metadata_from_meta

    msgs = {"best_key": "accuracy_top-1", "best_score": 91.23456}
    best = {"CLASSES": ["a", "b"], "epoch": 7, "hook_msgs": {**msgs, "best_number": 7}}
    assert metadata_from_meta(best) == {"num_classes": 2, "epochs": 7, "top1": 91.235}
    later = {"epoch": 9, "hook_msgs": {**msgs, "best_ckpt": "work/best_accuracy_top-1_epoch_7.pth"}}
    assert metadata_from_meta(later) == {"epochs": 9}  # a later epoch: its own score is unknown
    mmcls = {"epoch": 7, "hook_msgs": {"best_key": "f1_score", "best_score": 0.5, "best_ckpt": "w/best_f1_score_epoch_7.pth"}}
    assert metadata_from_meta(mmcls) == {"epochs": 7, "best_metric": "f1_score", "best_score": 0.5}


def test_publish_refuses_a_config_path_outside_the_index_before_writing(run_cli, tmp_path, trained):
    _config, checkpoint = trained
    result = run_cli("run", "cls", "publish_model", str(checkpoint), str(tmp_path / "out" / "net.pth"),
                     "--config", "../x.py")
    assert result.exit_code == 2 and "'../x.py'" in result.err and "relative to the index folder" in result.err
    assert "index.json" not in result.err.split("(")[0]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
