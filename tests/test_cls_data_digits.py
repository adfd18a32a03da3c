"""The built-in digits dataset (scikit-learn's bundled 8x8 digits written as an image-folder tree)."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from minim.cls.datasets import CustomDataset, build_dataset, check_same_classes, ensure_digits, resolve_data_path
from minim.cls.datasets.digits import digits_tree_complete, split_indices
from minim.errors import DataError, PackageError


@pytest.fixture(scope="module")
def digits_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("digits_home")
    ensure_digits(home / "datasets" / "digits")
    return home


def test_tree_layout_counts_and_manifest(digits_home):
    root = digits_home / "datasets" / "digits"
    manifest = json.loads((root / "MANIFEST.json").read_text())
    train = sum(manifest["counts"]["train"].values())
    val = sum(manifest["counts"]["val"].values())
    assert (train, val) == (1438, 359) and manifest["total"] == 1797
    assert sorted(manifest["counts"]["train"]) == [str(d) for d in range(10)]
    assert len(list((root / "train").rglob("*.png"))) == 1438
    with Image.open(next((root / "val" / "3").glob("*.png"))) as image:
        assert image.size == (8, 8) and image.mode == "L"
        assert np.asarray(image).max() > 200  # 0-16 grey levels scaled to 0-255
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_split_is_stratified_and_disjoint():
    labels = np.repeat(np.arange(3), [10, 20, 31])
    split = split_indices(labels)
    assert not set(split["train"]) & set(split["val"])
    assert np.bincount(labels[split["val"]]).tolist() == [2, 4, 6]
    assert split == split_indices(labels)


def test_second_call_reuses_and_a_damaged_tree_is_rebuilt(digits_home, tmp_path):
    root = tmp_path / "digits"
    shutil.copytree(digits_home / "datasets" / "digits", root)
    marker = (root / "MANIFEST.json").stat().st_mtime_ns
    assert ensure_digits(root) == root and (root / "MANIFEST.json").stat().st_mtime_ns == marker
    next((root / "train" / "5").glob("*.png")).unlink()
    assert not digits_tree_complete(root)
    ensure_digits(root)
    assert digits_tree_complete(root) and len(list(root.rglob("*.png"))) == 1797


def test_a_tree_another_process_completed_meanwhile_is_kept(digits_home, tmp_path):
    from minim.cls.datasets.digits import _move_into_place

    root = tmp_path / "digits"
    shutil.copytree(digits_home / "datasets" / "digits", root)  # the other process's finished tree
    staging = tmp_path / ".digits.tmp-mine"
    shutil.copytree(root, staging)
    inode = (root / "MANIFEST.json").stat().st_ino
    _move_into_place(staging, root)
    assert (root / "MANIFEST.json").stat().st_ino == inode  # not swapped under a reader's feet


def test_minim_scheme_resolves_under_minim_home(digits_home, monkeypatch):
    monkeypatch.setenv("MINIM_HOME", str(digits_home))
    assert resolve_data_path("minim://digits/val", "data_prefix") == str(digits_home / "datasets" / "digits" / "val")
    pipeline = [dict(type="LoadImageFromFile"), dict(type="Resize", size=32)]
    train = build_dataset(dict(type="CustomDataset", data_prefix="minim://digits/train", pipeline=pipeline))
    val = build_dataset(dict(type="CustomDataset", data_prefix="minim://digits/val", pipeline=pipeline), dict(test_mode=True))
    assert len(train) == 1438 and len(val) == 359 and train.CLASSES == [str(d) for d in range(10)]
    check_same_classes(train, val)
    sample = train[0]
    assert sample["img"].shape == (3, 32, 32) and sample["ori_shape"] == (8, 8, 3)


def test_unknown_builtin_dataset_suggests_a_name():
    with pytest.raises(DataError, match="unknown built-in dataset 'digit'") as info:
        CustomDataset("minim://digit/train")
    assert "digits" in info.value.hint


def test_missing_scikit_learn_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(PackageError, match="needs scikit-learn") as info:
        ensure_digits(tmp_path / "digits")
    assert "pip install" in info.value.hint
    assert not (tmp_path / "digits").exists()
