"""CustomDataset / ImageNet / CIFAR / wrappers / checks of the cls engine."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch

from cls_data_support import (
    cifar10_files,
    cifar100_files,
    write_cifar_archive,
    write_cifar_folder,
    write_image,
    write_tree,
)
from minim.cls.datasets import (
    CIFAR10,
    CIFAR100,
    IMAGENET_CLASSES,
    IMAGENET_WNIDS,
    ConcatDataset,
    CustomDataset,
    ImageNet,
    RepeatDataset,
    build_dataset,
    check_labels,
    check_same_classes,
)
from minim.errors import BuildError, DataError

LOAD = [dict(type="LoadImageFromFile")]


# -- folder mode -------------------------------------------------------------------------------


def test_folder_mode_sorted_classes_recursive_sorted_files(tmp_path):
    write_tree(tmp_path, {"b": 2, "a": 1, "10": 1, "2": 1})
    write_image(tmp_path / "a" / "sub" / "deep.JPG")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "._img0.png").write_bytes(b"macOS resource fork")
    write_image(tmp_path / ".ipynb_checkpoints" / "x.png")
    write_image(tmp_path / "b" / ".ipynb_checkpoints" / "img0-checkpoint.png")  # hidden inside a class folder
    ds = CustomDataset(str(tmp_path))
    assert ds.CLASSES == ["10", "2", "a", "b"]  # plain string sort, as mmcls
    assert ds.class_to_idx == {"10": 0, "2": 1, "a": 2, "b": 3}
    names = [info["img_info"]["filename"] for info in ds.data_infos]
    assert names == ["10/img0.png", "2/img0.png", "a/img0.png", "a/sub/deep.JPG", "b/img0.png", "b/img1.png"]
    labels = ds.get_gt_labels()
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2, 2, 3, 3]
    assert len(ds) == 6 and ds.get_cat_ids(5) == [3]
    assert ds.data_infos[0]["img_prefix"] == str(tmp_path)


def test_classes_list_must_match_folders_as_a_set_and_sets_label_order(tmp_path):
    write_tree(tmp_path, {"cat": 1, "dog": 2})
    ds = CustomDataset(str(tmp_path), classes=["dog", "cat"])
    assert ds.CLASSES == ["dog", "cat"]
    assert ds.get_gt_labels().tolist() == [1, 0, 0]  # cat image first on disk, label follows classes order
    with pytest.raises(DataError, match=r"no folder for \['bird'\].*folders not in classes: \['dog'\]") as info:
        CustomDataset(str(tmp_path), classes=["cat", "bird"])
    assert info.value.hint is None  # overlapping names: a typo, not classes meant for other data
    with pytest.raises(DataError) as info:
        CustomDataset(str(tmp_path), classes=[str(digit) for digit in range(10)])  # a digits base config's
    assert "set classes=None to take them from the folder names" in info.value.hint
    with pytest.warns(UserWarning, match=r"has no folder for the classes \['bird'\]: no images of them here"):
        small_val = CustomDataset(str(tmp_path), classes=["bird", "cat", "dog"])
    assert small_val.CLASSES == ["bird", "cat", "dog"] and small_val.get_gt_labels().tolist() == [1, 2, 2]
    with pytest.raises(DataError, match="more than once"):
        CustomDataset(str(tmp_path), classes=["cat", "dog", "cat"])


def test_classes_from_a_file(tmp_path):
    write_tree(tmp_path / "data", {"x": 1, "y": 1})
    (tmp_path / "classes.txt").write_text("\ufeffy\r\nx\r\n\r\n", encoding="utf-8")  # as Windows Notepad saves it
    ds = CustomDataset(str(tmp_path / "data"), classes=str(tmp_path / "classes.txt"))
    assert ds.CLASSES == ["y", "x"]
    with pytest.raises(DataError, match="classes .*missing.txt does not exist"):
        CustomDataset(str(tmp_path / "data"), classes=str(tmp_path / "missing.txt"))
    with pytest.raises(DataError, match="classes must be"):
        CustomDataset(str(tmp_path / "data"), classes=3)


def test_empty_class_folder_is_an_error_naming_it(tmp_path):
    write_tree(tmp_path, {"a": 1})
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match=r"class folder .*empty has no images \(looked for .jpg"):
        CustomDataset(str(tmp_path))


def test_no_class_folders_names_the_folder_and_extensions(tmp_path):
    write_image(tmp_path / "loose.png")
    with pytest.raises(DataError, match=r"has no class sub-folders.*\.png") as info:
        CustomDataset(str(tmp_path))
    assert str(tmp_path) in str(info.value)


def test_missing_data_prefix_names_path_and_config_key(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match=f"data_prefix {missing} does not exist"):
        CustomDataset(str(missing))
    with pytest.raises(DataError, match=f"^data.train: data_prefix {missing} does not exist"):
        build_dataset(dict(type="CustomDataset", data_prefix=str(missing)), key="data.train")
    (tmp_path / "train").mkdir()
    (tmp_path / "trainer.txt").write_text("")  # a file is no candidate for a folder
    with pytest.raises(DataError) as info:
        CustomDataset(str(tmp_path / "trian"))
    assert info.value.hint == f"did you mean {tmp_path / 'train'}?"
    with pytest.raises(DataError) as info:
        CustomDataset(str(tmp_path / "train"), ann_file=str(tmp_path / "trainer.tx"))
    assert info.value.hint == f"did you mean {tmp_path / 'trainer.txt'}?"


def test_extensions_argument(tmp_path):
    write_tree(tmp_path, {"a": 1}, suffix=".png")
    write_image(tmp_path / "a" / "b.bmp")
    assert len(CustomDataset(str(tmp_path), extensions=(".bmp",))) == 1
    assert len(CustomDataset(str(tmp_path))) == 2


# -- annotation-file mode ------------------------------------------------------------------------


def test_ann_file_mode_splits_on_last_space(tmp_path):
    write_image(tmp_path / "imgs" / "my cat 1.png")
    write_image(tmp_path / "imgs" / "dog.png")
    ann = tmp_path / "ann.txt"
    ann.write_text("my cat 1.png 0\n\ndog.png\t1\n")
    ds = CustomDataset(str(tmp_path / "imgs"), ann_file=str(ann), classes=["cat", "dog"])
    assert [i["img_info"]["filename"] for i in ds.data_infos] == ["my cat 1.png", "dog.png"]
    assert ds.get_gt_labels().tolist() == [0, 1]
    assert ds.CLASSES == ["cat", "dog"]
    assert CustomDataset(str(tmp_path / "imgs"), ann_file=str(ann)).CLASSES is None


@pytest.mark.parametrize(
    "content, message",
    [
        ("a.png 0\nlonely\n", r"ann.txt:2: expected '<relative image path> <label>'"),
        ("a.png zero\n", r"ann.txt:1: label 'zero' is not an integer"),
        ("a.png -1\n", r"ann.txt:1: label -1 is negative"),
        ("a.png 0\na.png 5\n", r"ann.txt:2: label 5 is out of range for 2 classes"),
        ("", "lists no images"),
        ("gone.png 0\n", r"ann.txt:1: image .*gone.png does not exist"),
    ],
)
def test_ann_file_errors_name_file_and_line(tmp_path, content, message):
    write_image(tmp_path / "a.png")
    (tmp_path / "ann.txt").write_text(content)
    with pytest.raises(DataError, match=message):
        CustomDataset(str(tmp_path), ann_file=str(tmp_path / "ann.txt"), classes=["x", "y"])


def test_missing_ann_file(tmp_path):
    with pytest.raises(DataError, match="ann_file .*missing.txt does not exist"):
        CustomDataset(str(tmp_path), ann_file=str(tmp_path / "missing.txt"))


def test_check_labels_names_the_first_offending_file_and_line(tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        write_image(tmp_path / name)
    (tmp_path / "ann.txt").write_text("a.png 0\nb.png 3\nc.png 7\n")
    ds = CustomDataset(str(tmp_path), ann_file=str(tmp_path / "ann.txt"))
    check_labels(ds, 8)
    with pytest.raises(DataError, match=r"label 3 of .*b.png \(.*ann.txt:2\) is out of range for num_classes=3"):
        check_labels(ds, 3)


def test_check_labels_hints_at_num_classes_in_folder_mode(tmp_path):
    write_tree(tmp_path, {"a": 1, "b": 1, "c": 1})
    ds = CustomDataset(str(tmp_path))
    with pytest.raises(DataError, match="c/img0.png") as info:
        check_labels(RepeatDataset(ds, 2), 2)
    assert "num_classes=3" in info.value.hint


def test_check_same_classes(tmp_path):
    train = CustomDataset(str(write_tree(tmp_path / "train", {"a": 1, "b": 1, "c": 1})))
    val_missing = CustomDataset(str(write_tree(tmp_path / "val", {"a": 1, "c": 1, "d": 1})))
    check_same_classes(train, CustomDataset(str(tmp_path / "train")))
    with pytest.raises(DataError, match=r"only in training: \['b'\]; only in validation: \['d'\]"):
        check_same_classes(train, val_missing)
    reordered = CustomDataset(str(tmp_path / "train"), classes=["c", "b", "a"])
    with pytest.raises(DataError, match="another order"):
        check_same_classes(train, reordered)


# -- bad images --------------------------------------------------------------------------------


def test_corrupt_image_fails_with_its_path(tmp_path):
    write_tree(tmp_path, {"a": 1})
    bad = tmp_path / "a" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    ds = CustomDataset(str(tmp_path), pipeline=LOAD, cache_images=False)
    with pytest.raises(DataError, match=f"cannot decode image {bad}"):
        ds[0]
    with pytest.raises(DataError, match=f"cannot decode image {bad}"):  # 'auto' caching probes the first image
        CustomDataset(str(tmp_path), pipeline=LOAD)


def test_skip_bad_images_drops_them_with_one_warning(tmp_path):
    write_tree(tmp_path, {"a": 2, "b": 1})
    (tmp_path / "a" / "zero.png").write_bytes(b"")
    (tmp_path / "b" / "junk.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable image\(s\): .*zero.png.*junk.png"):
        ds = CustomDataset(str(tmp_path), pipeline=LOAD, skip_bad_images=True)
    assert len(ds) == 3 and all(ds[i]["img"].shape[0] == 3 for i in range(3))


# -- ImageNet ----------------------------------------------------------------------------------


def test_imagenet_classes_table():
    assert len(IMAGENET_CLASSES) == len(IMAGENET_WNIDS) == 1000
    assert IMAGENET_CLASSES[0] == "tench, Tinca tinca" and IMAGENET_WNIDS[0] == "n01440764"
    assert list(IMAGENET_WNIDS) == sorted(IMAGENET_WNIDS)


def test_imagenet_on_synset_folders_uses_imagenet_names(tmp_path):
    for wnid in IMAGENET_WNIDS:
        (tmp_path / wnid).mkdir()
        (tmp_path / wnid / "x.JPEG").touch()  # never decoded here
    ds = ImageNet(str(tmp_path))
    assert ds.CLASSES == list(IMAGENET_CLASSES) and len(ds) == 1000
    assert ds.data_infos[0]["img_info"]["filename"] == "n01440764/x.JPEG" and ds.get_gt_labels()[999] == 999


def test_imagenet_on_custom_folders_warns_and_uses_folder_names(tmp_path):
    write_tree(tmp_path, {"cat": 1, "dog": 1})
    with pytest.warns(UserWarning, match="not the 1000 ImageNet synsets"):
        ds = ImageNet(str(tmp_path))
    assert ds.CLASSES == ["cat", "dog"]


def test_imagenet_ann_file_mode_keeps_imagenet_classes(tmp_path):
    write_image(tmp_path / "v.png")
    (tmp_path / "val.txt").write_text("v.png 65\n")
    ds = ImageNet(str(tmp_path), ann_file=str(tmp_path / "val.txt"))
    assert len(ds.CLASSES) == 1000 and ds.get_gt_labels().tolist() == [65]


# -- CIFAR -------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["folder", "archive"])
def test_cifar10_reads_the_python_release(tmp_path, layout):
    files = cifar10_files(per_batch=4)
    if layout == "folder":
        write_cifar_folder(tmp_path, "cifar-10-batches-py", files)
    else:
        write_cifar_archive(tmp_path, "cifar-10-python.tar.gz", "cifar-10-batches-py", files)
    train = CIFAR10(str(tmp_path))
    test = CIFAR10(str(tmp_path), test_mode=True)
    assert len(train) == 20 and len(test) == 4
    assert train.CLASSES[0] == "airplane" and len(train.CLASSES) == 10
    batch1 = pickle.loads(files["data_batch_1"])
    expected_img = torch.from_numpy(batch1[b"data"][2].reshape(3, 32, 32))
    sample = train[2]
    assert torch.equal(sample["img"], expected_img)  # planes are R, G, B -> RGB CHW
    assert int(sample["gt_label"]) == batch1[b"labels"][2]
    assert train.get_gt_labels().dtype == np.int64


def test_cifar10_with_standard_pipeline_keeps_rgb(tmp_path):
    write_cifar_folder(tmp_path, "cifar-10-batches-py", cifar10_files(per_batch=2))
    mean, std = [125.307, 122.961, 113.8575], [51.5865, 50.847, 51.255]
    pipeline = [
        dict(type="RandomCrop", size=32, padding=4),
        dict(type="RandomFlip", flip_prob=0.0),
        dict(type="Normalize", mean=mean, std=std, to_rgb=False),
        dict(type="ImageToTensor", keys=["img"]),
        dict(type="ToTensor", keys=["gt_label"]),
        dict(type="Collect", keys=["img", "gt_label"]),
    ]
    raw = CIFAR10(str(tmp_path), test_mode=True)
    ds = CIFAR10(str(tmp_path), pipeline=pipeline, test_mode=True)
    out = ds[0]
    assert out["img"].shape == (3, 32, 32) and out["img"].dtype == torch.float32
    # Undo the normalisation: each pixel is either padding (0) or a shifted pixel of the RGB image.
    restored = (out["img"] * torch.tensor(std).view(3, 1, 1) + torch.tensor(mean).view(3, 1, 1)).round()
    padded = torch.nn.functional.pad(raw[0]["img"].float(), (4, 4, 4, 4))
    assert any(
        torch.equal(restored, padded[:, t : t + 32, l : l + 32]) for t in range(9) for l in range(9)
    )


def test_cifar100_fine_labels_and_meta(tmp_path):
    write_cifar_archive(tmp_path, "cifar-100-python.tar.gz", "cifar-100-python", cifar100_files(per_split=6))
    ds = CIFAR100(str(tmp_path))
    assert len(ds) == 6 and ds.CLASSES[3] == "class3" and len(ds.CLASSES) == 100
    assert len(CIFAR100.CLASSES) == 100


def test_cifar_missing_data_names_expected_paths(tmp_path):
    with pytest.raises(DataError, match="cifar-10-batches-py/ or .*cifar-10-python.tar.gz") as info:
        CIFAR10(str(tmp_path))
    assert "never downloads" in info.value.hint


def test_cifar_refuses_pickles_that_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    files = cifar10_files(per_batch=1)
    files["data_batch_1"] = pickle.dumps({b"data": Evil(), b"labels": [0]})
    write_cifar_folder(tmp_path, "cifar-10-batches-py", files)
    with pytest.raises(DataError, match="refusing to load builtins.print"):
        CIFAR10(str(tmp_path))


def test_cifar_classes_override_must_keep_the_count(tmp_path):
    write_cifar_folder(tmp_path, "cifar-10-batches-py", cifar10_files(per_batch=1))
    names = [f"c{i}" for i in range(10)]
    assert CIFAR10(str(tmp_path), classes=names).CLASSES == names
    with pytest.raises(DataError, match="classes has 2 names"):
        CIFAR10(str(tmp_path), classes=["a", "b"])


# -- builder and wrappers ----------------------------------------------------------------------


def test_build_dataset_list_concat_and_repeat(tmp_path):
    write_tree(tmp_path / "one", {"a": 1, "b": 2})
    write_tree(tmp_path / "two", {"a": 2, "b": 1})
    cfg = [dict(type="CustomDataset", data_prefix=str(tmp_path / "one")), dict(type="CustomDataset", data_prefix=str(tmp_path / "two"))]
    concat = build_dataset(cfg, dict(test_mode=True))
    assert isinstance(concat, ConcatDataset) and len(concat) == 6
    assert all(d.test_mode for d in concat.datasets)
    assert concat.get_gt_labels().tolist() == [0, 1, 1, 0, 0, 1]
    assert concat[5]["img_info"]["filename"] == "b/img0.png" and concat[4]["img_info"]["filename"] == "a/img1.png"
    explicit = build_dataset(dict(type="ConcatDataset", datasets=cfg))
    assert len(explicit) == 6
    repeat = build_dataset(dict(type="RepeatDataset", times=3, dataset=cfg[0]))
    assert isinstance(repeat, RepeatDataset) and len(repeat) == 9 and repeat.CLASSES == ["a", "b"]
    assert repeat.get_gt_labels().tolist() == [0, 1, 1] * 3
    assert repeat[4]["img_info"]["filename"] == "b/img0.png"


def test_concat_of_different_classes_is_an_error(tmp_path):
    write_tree(tmp_path / "one", {"a": 1})
    write_tree(tmp_path / "two", {"b": 1})
    with pytest.raises(DataError, match="different classes"):
        build_dataset([dict(type="CustomDataset", data_prefix=str(tmp_path / p)) for p in ("one", "two")])


def test_build_dataset_rejects_unknown_types_and_arguments(tmp_path):
    write_tree(tmp_path, {"a": 1})
    with pytest.raises(BuildError, match="did you mean 'CustomDataset'"):
        build_dataset(dict(type="CustomDatset", data_prefix=str(tmp_path)))
    with pytest.raises(BuildError, match="unexpected argument 'data_root'"):
        build_dataset(dict(type="CustomDataset", data_root=str(tmp_path)))
    with pytest.raises(BuildError, match="times"):
        build_dataset(dict(type="RepeatDataset", dataset=dict(type="CustomDataset", data_prefix=str(tmp_path)), times=0))


def test_file_client_other_than_disk_is_refused(tmp_path):
    write_tree(tmp_path, {"a": 1})
    with pytest.raises(DataError, match="petrel"):
        CustomDataset(str(tmp_path), file_client_args=dict(backend="petrel"))


def test_dataset_warnings_stay_quiet_for_plain_folders(tmp_path):
    write_tree(tmp_path, {"a": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CustomDataset(str(tmp_path), pipeline=LOAD)[0]
