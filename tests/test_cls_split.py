"""A declared split of one class-folder tree: CustomDataset(split=...), split.json, and minim test on it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cls_engine_support import TINY_CONFIG, write_image_tree
from minim.cls.datasets import build_dataset
from minim.cls.datasets.digits import split_indices
from minim.cls.datasets.split import stratified_split
from minim.errors import ConfigError, DataError


def _tree(tmp_path, per_class=10):
    return write_image_tree(tmp_path / "all", per_class=per_class, size=8)


def _files(dataset):
    return [info["img_info"]["filename"] for info in dataset.data_infos]


def test_stratified_split_is_seeded_per_class_and_is_the_digits_split():
    labels = np.repeat([0, 1, 2], [10, 20, 5])
    parts = stratified_split(labels, {"val": 0.2, "test": 0.2}, seed=3)
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == list(range(35))
    assert [int(np.sum(labels[parts["val"]] == c)) for c in range(3)] == [2, 4, 1]
    assert parts == stratified_split(labels, {"val": 0.2, "test": 0.2}, seed=3)
    assert parts != stratified_split(labels, {"val": 0.2, "test": 0.2}, seed=4)
    assert split_indices(labels, 0.2, 3) == stratified_split(labels, {"val": 0.2}, 3)


def test_the_parts_of_one_folder_are_disjoint_and_cover_it(tmp_path):
    root = _tree(tmp_path)
    spec = dict(type="CustomDataset", data_prefix=str(root), split=dict(val=0.2, seed=0))
    train = build_dataset(spec)
    val = build_dataset(spec, dict(test_mode=True))  # data.val / data.test: the held-out part
    assert len(train) == 24 and len(val) == 6 and not set(_files(train)) & set(_files(val))
    assert np.bincount(val.get_gt_labels()).tolist() == [2, 2, 2]
    assert train.CLASSES == val.CLASSES == ["cat", "dog", "fox"]
    again = build_dataset(dict(spec, split=dict(val=0.2, seed=0, part="val")))
    assert _files(again) == _files(val)
    assert _files(build_dataset(dict(spec, split=dict(val=0.2, seed=1)), dict(test_mode=True))) != _files(val)
    assert train.split_record["counts"] == {"train": 24, "val": 6}


def test_split_mistakes_name_the_key(tmp_path):
    root = _tree(tmp_path, per_class=2)
    base = dict(type="CustomDataset", data_prefix=str(root))
    with pytest.raises(ConfigError, match="unknown key 'vall'"):
        build_dataset(dict(base, split=dict(vall=0.2)))
    with pytest.raises(ConfigError, match="split.val must be a fraction"):
        build_dataset(dict(base, split=dict(val=20)))
    with pytest.raises(ConfigError, match="split.part='test' is not a part"):
        build_dataset(dict(base, split=dict(val=0.2, part="test")))
    with pytest.raises(DataError, match="the val part .* has no images"):
        build_dataset(dict(base, split=dict(val=0.1)), dict(test_mode=True))


@pytest.mark.slow
def test_training_writes_split_json_and_minim_test_evaluates_those_images(tmp_path, run_cli, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    root = _tree(tmp_path, per_class=5)
    config = tmp_path / "split_cfg.py"
    text = TINY_CONFIG.format(num_classes=3, train=root, val=root).replace(
        "pipeline=train_pipeline)", "split=dict(val=0.4, seed=0), pipeline=train_pipeline)").replace(
        "pipeline=test_pipeline)", "split=dict(val=0.4, seed=0), pipeline=test_pipeline)")
    config.write_text(text.replace("max_epochs=2", "max_epochs=1"))
    work_dir = tmp_path / "work"
    result = run_cli("train", "cls", str(config), "--work-dir", str(work_dir))
    assert result.exit_code == 0, result.err
    assert "Per class on the validation set (last evaluation, top-1):" in result.out  # the end-of-run summary
    record = json.loads((work_dir / "split.json").read_text())
    assert record["counts"] == {"train": 9, "val": 6} and record["seed"] == 0
    copy = (work_dir / "split_cfg.py").read_text()
    assert str(work_dir / "split.json") in copy
    # a new image in the folder does not change what the trained run's config copy evaluates
    (root / "cat" / "extra.png").write_bytes((root / "cat" / "0.png").read_bytes())
    out = tmp_path / "out.json"
    result = run_cli("test", "cls", str(work_dir / "split_cfg.py"), "--checkpoint", str(work_dir / "epoch_1.pth"),
                     "--out", str(out))
    assert result.exit_code == 0, result.err
    files = sorted(p["file"] for p in json.loads(out.read_text())["predictions"])
    assert files == sorted(str(root / name) for name in record["parts"]["val"])
