"""``minim run cls verify_dataset``: every image of train/val/test decoded, unreadable ones listed."""

from __future__ import annotations

from cls_data_support import cifar10_files, write_cifar_folder
from cls_tools_support import tiny_config, write_image_tree
from minim.cls.analysis.verify import verify_datasets
from minim.config import load_config


def _broken_tree(root):
    data = write_image_tree(root, ("cat", "dog"), per_class=3)
    good = (data / "cat" / "1.png").read_bytes()
    (data / "cat" / "0.png").write_bytes(good[: len(good) // 2])  # truncated, and the first image: building
    # a dataset with cache_images=True would decode it
    (data / "dog" / "2.png").write_text("not an image")
    (data / "dog" / "1.png").write_bytes(b"")  # a copy that never happened
    return data


def test_lists_unreadable_images_and_fails(run_cli, tmp_path):
    data = _broken_tree(tmp_path / "data")
    config = tiny_config(tmp_path / "cfg.py", data, num_classes=2)
    result = run_cli("run", "cls", "verify_dataset", str(config), "--workers", "2")
    assert result.exit_code == 1
    lines = result.out.splitlines()
    assert lines[0] == "data.train: 6 images, 3 unreadable"
    assert f"  {data / 'cat' / '0.png'}: cannot decode image: image file is truncated" in lines[1]
    assert lines[2] == f"  {data / 'dog' / '1.png'}: cannot decode image: the file is empty (0 bytes)"
    assert lines[3] == f"  {data / 'dog' / '2.png'}: cannot decode image: not an image file Pillow can read"
    assert "data.val: 6 images, 3 unreadable" in lines and "data.test: 6 images, 3 unreadable" in lines
    assert result.err.strip() == ("minim: error: 3 of 6 image files cannot be read "
                                  "(remove or replace them before training)")


def test_readable_split_passes_and_unknown_split_is_named(run_cli, tmp_path):
    good = write_image_tree(tmp_path / "good", ("cat", "dog"), per_class=2)
    config = tiny_config(tmp_path / "cfg.py", good, num_classes=2)
    result = run_cli("run", "cls", "verify_dataset", str(config), "--split", "val", "test")
    assert result.exit_code == 0, result.err
    assert result.out.splitlines() == ["data.val: 4 images, all readable", "data.test: 4 images, all readable"]

    no_test = tmp_path / "no_test.py"
    no_test.write_text(f"data = dict(train=dict(type='CustomDataset', data_prefix={str(good)!r}, pipeline=[]))\n")
    result = run_cli("run", "cls", "verify_dataset", str(no_test), "--split", "test")
    assert result.exit_code == 1 and "config has no data.test; it has: data.train" in result.err
    result = run_cli("run", "cls", "verify_dataset", str(tmp_path / "missing.py"))
    assert result.exit_code == 1 and "missing.py" in result.err


def test_wrappers_and_in_memory_datasets(tmp_path):
    data = _broken_tree(tmp_path / "data")
    prefix = write_cifar_folder(tmp_path / "cifar", "cifar-10-batches-py", cifar10_files())
    config = tmp_path / "cfg.py"
    config.write_text(
        "data = dict(\n"
        f"    train=dict(type='RepeatDataset', times=3, dataset=dict(type='CustomDataset', data_prefix={str(data)!r},"
        " pipeline=[], cache_images=True)),\n"
        f"    val=[dict(type='CustomDataset', data_prefix={str(data)!r}, pipeline=[]),\n"
        f"         dict(type='CustomDataset', data_prefix={str(data)!r}, pipeline=[])],\n"
        f"    test=dict(type='CIFAR10', data_prefix={str(prefix)!r}, pipeline=[]))\n"
    )
    train, val, test = verify_datasets(load_config(config), workers=1)
    assert (train.split, len(train.files), len(train.bad)) == ("train", 6, 3)  # repeated once, not 3 times
    assert (len(val.files), len(val.bad)) == (12, 3)  # a file listed twice is reported once
    assert (test.files, test.bad, test.in_memory) == ([], [], ["CIFAR10"])
