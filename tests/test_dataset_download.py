"""``minim download cls --dataset``: the dataset index, verified resumable downloads from 127.0.0.1, safe
unpacking of hostile archives, the layouts, offline mode and a ready config that trains."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from minim.archive import extract
from minim.errors import ChecksumError, DataError, ModelIndexError, OfflineError

ORIGIN = "https://datasets.example.org/pub"


# -- archives in the real layouts, built here -----------------------------------------------------------
def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def cifar10_archive(per_batch: int = 2) -> bytes:
    """cifar-10-python.tar.gz in miniature: five train batches, a test batch, batches.meta."""
    rng = np.random.default_rng(0)

    def batch(n):
        return pickle.dumps({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                             b"labels": [int(i % 10) for i in range(n)]})

    members = {f"cifar-10-batches-py/data_batch_{i}": batch(per_batch) for i in range(1, 6)}
    members["cifar-10-batches-py/test_batch"] = batch(per_batch)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({b"label_names": [f"c{i}" for i in range(10)]})
    return tar_gz(members)


def png(value: int) -> bytes:
    import cv2

    return cv2.imencode(".png", np.full((8, 8), value, dtype=np.uint8))[1].tobytes()


def image_folder_zip() -> bytes:
    """An ImageFolder-style zip: tiny/train/<0..9>/*.png (2 each) and tiny/val/<0..9>/*.png (1 each)."""
    members = {}
    for label in range(10):
        for k in range(2):
            members[f"tiny/train/{label}/{k}.png"] = png(20 * label + k)
        members[f"tiny/val/{label}/0.png"] = png(20 * label)
    return zip_bytes(members)


def idx(array: np.ndarray) -> bytes:
    magic = 0x803 if array.ndim == 3 else 0x801
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


# -- a private dataset index served on 127.0.0.1 -------------------------------------------------------
def serve(server, name: str, body: bytes, **route) -> str:
    server.add(f"/pub/{name}", body=body, **route)
    return server.url(f"/pub/{name}")


def file_entry(url: str, body: bytes, unpack, checksum: str = "sha256") -> dict:
    return {"url": url, checksum: hashlib.new(checksum, body).hexdigest(), "size": len(body), "unpack": unpack}


def write_index(tmp_path: Path, monkeypatch, datasets: list[dict], template: str = "data = dict()\n") -> Path:
    folder = tmp_path / "private_index"
    folder.mkdir(exist_ok=True)
    for entry in datasets:
        entry.setdefault("config", f"{entry['name']}.py")
        entry.setdefault("layout", "extract")
        (folder / entry["config"]).write_text(template)
    (folder / "datasets.json").write_text(json.dumps({"codebase": "cls", "datasets": datasets}))
    monkeypatch.setenv("MINIM_INDEX_PATH", str(folder))
    return folder


def digits_template() -> str:
    """The digits recipe, flattened, reading {data_root}/tiny (the ImageFolder zip's layout)."""
    from minim.config import load_config
    from minim.resources import model_index_dir

    text = load_config(model_index_dir() / "cls/configs/mobilenet_v2/mobilenet-v2_digits.py").dump()
    return text.replace("minim://digits/train", "{data_root}/tiny/train").replace("minim://digits/val",
                                                                                 "{data_root}/tiny/val")


def get_entry(name: str):
    from minim.index.datasets import load_dataset_index

    return load_dataset_index("cls").resolve(name)


def download(name: str, dest: Path, **kwargs) -> Path:
    from minim.dataset_download import download_dataset

    return download_dataset(get_entry(name), dest, progress="none", **kwargs)


# -- the built-in index -------------------------------------------------------------------------------
def test_builtin_entries_have_checksums_and_configs_that_point_at_the_download(tmp_path):
    from minim.dataset_download import render_config
    from minim.index.datasets import load_dataset_index

    index = load_dataset_index("cls")
    assert {"cifar10", "cifar100", "mnist", "fashion-mnist", "imagenette-160", "oxford-iiit-pet", "flowers-102",
            "tiny-imagenet", "caltech-101"} <= {e.name for e in index}
    assert index.resolve("CIFAR-10").name == "cifar10"
    for entry in index:
        assert all(f.sha256 or f.md5 for f in entry.files) and entry.checksums_from
        text = render_config(entry, tmp_path / "data")
        assert "{data_root}" not in text and f"data_prefix='{tmp_path / 'data'}" in text, entry.name


@pytest.mark.slow  # imports torch and builds the dataset
def test_builtin_cifar10_config_reads_the_extracted_archive(tmp_path):
    from minim.cls.datasets.builder import build_dataset
    from minim.config import Config
    from minim.dataset_download import render_config

    (tmp_path / "cifar-10-python.tar.gz").write_bytes(cifar10_archive())
    extract(tmp_path / "cifar-10-python.tar.gz", tmp_path, progress="none")
    config = Config.fromstring(render_config(get_entry("cifar10"), tmp_path), ".py")
    train, test = build_dataset(config.data.train), build_dataset(config.data.test)
    assert (len(train), len(test)) == (10, 2) and train.CLASSES[3] == "c3"


# -- download, verify, unpack, lay out, config ------------------------------------------------------------
def test_download_resumes_a_cut_connection_unpacks_and_writes_the_config(loopback_server, tmp_path, monkeypatch):
    body = cifar10_archive(per_batch=40)  # ~600 kB: the connection drops after 200 kB
    url = serve(loopback_server, "cifar-10-python.tar.gz", body, drop_after=200_000)
    write_index(tmp_path, monkeypatch, [{"name": "tiny-cifar", "files": [file_entry(url, body, "tar.gz", "md5")]}],
                template="data = dict(train=dict(type='CIFAR10', data_prefix='{data_root}'))\n")
    dest = tmp_path / "data"
    config = download("tiny-cifar", dest)
    first, second = loopback_server.requests_for("/pub/cifar-10-python.tar.gz")
    assert first.range is None and second.range == "bytes=200000-"
    assert (dest / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert config == dest / "tiny-cifar.py" and f"data_prefix='{dest}'" in config.read_text()
    assert download("tiny-cifar", dest) == config  # ready: nothing fetched again
    assert loopback_server.hits("/pub/cifar-10-python.tar.gz") == 2


def test_a_part_file_of_an_earlier_run_is_resumed_through_the_mirror(loopback_server, tmp_path, monkeypatch):
    body = image_folder_zip()
    serve(loopback_server, "tiny.zip", body)
    write_index(tmp_path, monkeypatch, [{"name": "tiny", "files": [file_entry(f"{ORIGIN}/tiny.zip", body, "zip")]}])
    monkeypatch.setenv("MINIM_MIRROR", f"{ORIGIN}={loopback_server.url('/pub')}")
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "tiny.zip.part").write_bytes(body[:1000])
    download("tiny", dest)
    assert loopback_server.requests_for("/pub/tiny.zip")[0].range == "bytes=1000-"
    assert sorted(p.name for p in (dest / "tiny" / "train").iterdir()) == [str(i) for i in range(10)]


@pytest.mark.parametrize("checksum", ["md5", "sha256"])
def test_a_checksum_mismatch_deletes_the_file(loopback_server, tmp_path, monkeypatch, checksum):
    body = image_folder_zip()
    url = serve(loopback_server, "tiny.zip", body)
    wrong = file_entry(url, body + b"x", "zip", checksum)
    wrong["size"] = len(body)
    write_index(tmp_path, monkeypatch, [{"name": "tiny", "files": [wrong]}])
    with pytest.raises(ChecksumError, match=f"expected {checksum}"):
        download("tiny", tmp_path / "data")
    assert sorted(os.listdir(tmp_path / "data")) == []


def test_a_damaged_file_in_dest_is_downloaded_again(loopback_server, tmp_path, monkeypatch):
    body = image_folder_zip()
    url = serve(loopback_server, "tiny.zip", body)
    write_index(tmp_path, monkeypatch, [{"name": "tiny", "files": [file_entry(url, body, "zip", "md5")]}])
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tiny.zip").write_bytes(b"not the archive")
    download("tiny", tmp_path / "data")
    assert (tmp_path / "data" / "tiny.zip").read_bytes() == body


def test_offline_uses_only_files_already_in_dest(loopback_server, tmp_path, monkeypatch, run_cli):
    body = image_folder_zip()
    url = serve(loopback_server, "tiny.zip", body)
    write_index(tmp_path, monkeypatch, [{"name": "tiny", "files": [file_entry(url, body, "zip")]}])
    monkeypatch.setenv("MINIM_OFFLINE", "1")
    with pytest.raises(OfflineError, match="tiny.zip is not in"):
        download("tiny", tmp_path / "data")
    (tmp_path / "data" / "tiny.zip").write_bytes(body)
    result = run_cli("download", "cls", "--dataset", "tiny", "--dest", str(tmp_path / "data"))
    assert result.exit_code == 0, result.err
    assert "already present (checksum verified)" in result.err and (tmp_path / "data" / "tiny" / "val").is_dir()
    assert loopback_server.hits("/pub/tiny.zip") == 0


def test_progress_lines_for_download_and_extraction(loopback_server, tmp_path, monkeypatch, capsys):
    from minim.dataset_download import download_dataset

    body = image_folder_zip()
    write_index(tmp_path, monkeypatch, [{"name": "tiny", "files": [
        file_entry(serve(loopback_server, "tiny.zip", body), body, "zip")]}])
    download_dataset(get_entry("tiny"), tmp_path / "data", progress="lines")
    err = capsys.readouterr().err
    assert "downloading tiny.zip" in err and "extracting tiny.zip" in err and "tiny.zip: extracted" in err


def test_a_half_prepared_dest_needs_overwrite(loopback_server, tmp_path, monkeypatch):
    body = image_folder_zip()
    write_index(tmp_path, monkeypatch, [{"name": "tiny", "files": [
        file_entry(serve(loopback_server, "tiny.zip", body), body, "zip")]}])
    download("tiny", tmp_path / "data")
    (tmp_path / "data" / ".minim-dataset-tiny.json").unlink()  # as if the run had stopped before the end
    with pytest.raises(DataError, match="tiny already exists.*--overwrite"):
        download("tiny", tmp_path / "data")
    assert download("tiny", tmp_path / "data", overwrite=True).is_file()
    assert loopback_server.hits("/pub/tiny.zip") == 1


def test_idx_layout_writes_png_class_folders(loopback_server, tmp_path, monkeypatch):
    import cv2

    images = np.arange(4 * 5 * 5).reshape(4, 5, 5) % 256
    labels = np.array([2, 0, 2, 1])
    files = {"img.gz": idx(images), "lab.gz": idx(labels)}
    write_index(tmp_path, monkeypatch, [{
        "name": "tiny-idx", "layout": "idx", "files": [file_entry(serve(loopback_server, n, b), b, None)
                                                       for n, b in files.items()],
        "layout_options": {"parts": {"train": ["img.gz", "lab.gz"]}, "classes": ["zero", "one", "two"]}}])
    download("tiny-idx", tmp_path)
    made = sorted(str(p.relative_to(tmp_path / "train")) for p in (tmp_path / "train").rglob("*.png"))
    assert made == ["one/00003.png", "two/00000.png", "two/00002.png", "zero/00001.png"]
    assert (cv2.imread(str(tmp_path / "train/two/00002.png"), cv2.IMREAD_GRAYSCALE) == images[2]).all()


def test_name_lists_layout_writes_annotation_files(loopback_server, tmp_path, monkeypatch):
    images = tar_gz({f"images/{n}.jpg": b"jpeg" for n in ("Abyssinian_1", "Abyssinian_2", "great_pyrenees_7")})
    lists = tar_gz({"annotations/trainval.txt": b"#comment\nAbyssinian_1 1 1 1\ngreat_pyrenees_7 2 2 3\n",
                    "annotations/test.txt": b"Abyssinian_2 1 1 1\n"})
    write_index(tmp_path, monkeypatch, [{
        "name": "tiny-pets", "layout": "name_lists",
        "files": [file_entry(serve(loopback_server, n, b), b, "tar.gz") for n, b in
                  (("images.tar.gz", images), ("annotations.tar.gz", lists))],
        "layout_options": {"images": "images", "lists": {"trainval": "annotations/trainval.txt",
                                                         "test": "annotations/test.txt"}}}])
    download("tiny-pets", tmp_path)
    assert (tmp_path / "trainval.txt").read_text() == "images/Abyssinian_1.jpg 0\nimages/great_pyrenees_7.jpg 1\n"
    assert (tmp_path / "test.txt").read_text() == "images/Abyssinian_2.jpg 0\n"
    assert (tmp_path / "classes.txt").read_text() == "Abyssinian\ngreat_pyrenees\n"


def jpeg(value: int) -> bytes:
    import cv2

    return cv2.imencode(".jpg", np.full((8, 8, 3), value, dtype=np.uint8))[1].tobytes()


def mat(variables: dict) -> bytes:
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, variables)
    return buffer.getvalue()


def miniature_of(name: str, server, bodies: dict[str, bytes]) -> dict:
    """The built-in entry ``name`` (its layout and its config) as a private entry ``mini-<name>`` whose files,
    of the same names, are ``bodies`` served on 127.0.0.1."""
    from minim.config import load_config

    builtin = get_entry(name)
    files = [file_entry(serve(server, f.filename, bodies[f.filename]), bodies[f.filename], f.unpack, "md5")
             for f in builtin.files]
    return {"name": f"mini-{name}", "files": files, "layout": builtin.layout,
            "layout_options": builtin.layout_options,
            "template": load_config(builtin.config_path, confine_to=builtin.index_file.parent).dump()}


def write_miniature_index(tmp_path: Path, monkeypatch, entry: dict) -> None:
    write_index(tmp_path, monkeypatch, [entry], template=entry.pop("template"))


def flowers_files() -> dict[str, bytes]:
    """Flowers-102 in miniature: jpg/image_0000<n>.jpg (6 images), their labels (1, 2, 1, 2, 2, 1) and splits
    train 1-2, val 3-4, test 5-6, in MATLAB files as the publisher's (1 x N arrays)."""
    images = tar_gz({f"jpg/image_{n:05d}.jpg": jpeg(20 * n) for n in range(1, 7)})
    splits = {"trnid": np.array([[1, 2]], np.uint16), "valid": np.array([[3, 4]], np.uint16),
              "tstid": np.array([[6, 5]], np.uint16)}
    return {"102flowers.tgz": images, "imagelabels.mat": mat({"labels": np.array([[1, 2, 1, 2, 2, 1]], np.uint8)}),
            "setid.mat": mat(splits)}


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_flowers_102_becomes_class_folders_of_links(loopback_server, tmp_path, monkeypatch, run_cli):
    pytest.importorskip("scipy")
    write_miniature_index(tmp_path, monkeypatch, miniature_of("flowers-102", loopback_server, flowers_files()))
    dest = tmp_path / "data"
    result = run_cli("download", "cls", "--dataset", "mini-flowers-102", "--dest", str(dest))
    assert result.exit_code == 0, result.err
    assert tree(dest / "train") == ["1/image_00001.jpg", "2/image_00002.jpg"]  # labels below 10: one digit
    assert tree(dest / "val") == ["1/image_00003.jpg", "2/image_00004.jpg"]
    assert tree(dest / "test") == ["1/image_00006.jpg", "2/image_00005.jpg"]
    assert (dest / "test/2/image_00005.jpg").samefile(dest / "jpg/image_00005.jpg")  # a link, not a copy
    config = (dest / "mini-flowers-102.py").read_text()
    assert f"data_prefix='{dest}/test'" in config and "num_classes=102" in config


def test_flowers_102_without_scipy_names_the_package_before_downloading(loopback_server, tmp_path, monkeypatch,
                                                                       run_cli):
    pytest.importorskip("scipy")  # the miniature's .mat files are written with scipy
    write_miniature_index(tmp_path, monkeypatch, miniature_of("flowers-102", loopback_server, flowers_files()))
    monkeypatch.setitem(sys.modules, "scipy.io", None)  # import scipy.io fails as when scipy is not installed
    result = run_cli("download", "cls", "--dataset", "mini-flowers-102", "--dest", str(tmp_path / "data"))
    assert result.exit_code == 1 and result.err.count("\n") == 1
    assert "needs scipy, which is not installed" in result.err and "pip install scipy" in result.err
    assert loopback_server.hits("/pub/102flowers.tgz") == 0


def test_labels_above_nine_are_zero_padded_class_folders(tmp_path):
    from minim.dataset_layouts import layout_mat_labels

    pytest.importorskip("scipy")
    (tmp_path / "img").mkdir()
    for n in (1, 2):
        (tmp_path / f"img/{n}.jpg").write_bytes(jpeg(n))
    (tmp_path / "labels.mat").write_bytes(mat({"labels": np.array([[7, 102]])}))
    (tmp_path / "splits.mat").write_bytes(mat({"all": np.array([[1, 2]])}))
    layout_mat_labels(tmp_path, {"images": "img/{id}.jpg", "labels": ["labels.mat", "labels"],
                                 "splits": {"train": ["splits.mat", "all"]}}, overwrite=False)
    assert tree(tmp_path / "train") == ["007/1.jpg", "102/2.jpg"]  # the folders sort in label order


def tiny_imagenet_zip() -> bytes:
    """tiny-imagenet-200.zip in miniature: 2 classes, 2 train images each (with the boxes file), 3 val images
    labelled in val_annotations.txt, 1 unlabelled test image."""
    top = "tiny-imagenet-200"
    members = {f"{top}/wnids.txt": b"n0001\nn0002\n", f"{top}/words.txt": b"n0001\tgoldfish\nn0002\tjellyfish\n"}
    for wnid in ("n0001", "n0002"):
        members[f"{top}/train/{wnid}/{wnid}_boxes.txt"] = f"{wnid}_0.JPEG\t0\t0\t7\t7\n".encode()
        for k in range(2):
            members[f"{top}/train/{wnid}/images/{wnid}_{k}.JPEG"] = jpeg(10 * k)
    for k in range(3):
        members[f"{top}/val/images/val_{k}.JPEG"] = jpeg(30 * k)
    members[f"{top}/val/val_annotations.txt"] = b"val_0.JPEG\tn0002\t0\t0\t7\t7\nval_1.JPEG\tn0001\t1\t1\t6\t6\n" \
        b"val_2.JPEG\tn0002\t0\t0\t7\t7\n"
    members[f"{top}/test/images/test_0.JPEG"] = jpeg(5)
    return zip_bytes(members)


def test_tiny_imagenet_train_and_val_become_class_folders(loopback_server, tmp_path, monkeypatch, run_cli):
    write_miniature_index(tmp_path, monkeypatch, miniature_of(
        "tiny-imagenet", loopback_server, {"tiny-imagenet-200.zip": tiny_imagenet_zip()}))
    dest = tmp_path / "data"
    result = run_cli("download", "cls", "--dataset", "mini-tiny-imagenet", "--dest", str(dest))
    assert result.exit_code == 0, result.err
    assert tree(dest / "train") == ["n0001/n0001_0.JPEG", "n0001/n0001_1.JPEG", "n0002/n0002_0.JPEG",
                                    "n0002/n0002_1.JPEG"]
    assert tree(dest / "val") == ["n0001/val_1.JPEG", "n0002/val_0.JPEG", "n0002/val_2.JPEG"]
    assert (dest / "val/n0001/val_1.JPEG").samefile(dest / "tiny-imagenet-200/val/images/val_1.JPEG")
    assert f"data_prefix='{dest}/val'" in (dest / "mini-tiny-imagenet.py").read_text()


def caltech_101_archive() -> bytes:
    """caltech_101.tgz in miniature: 101_ObjectCategories/ with 3 classes of 5 images, and BACKGROUND_Google."""
    members = {"101_ObjectCategories/BACKGROUND_Google/image_0001.jpg": jpeg(0),
               "101_ObjectCategories/BACKGROUND_Google/tmp": b""}
    for index, name in enumerate(("Faces", "accordion", "airplanes")):
        for k in range(1, 6):
            members[f"101_ObjectCategories/{name}/image_{k:04d}.jpg"] = jpeg(80 * index + k)
    return tar_gz(members)


@pytest.mark.slow  # builds the datasets of the ready config (imports torch)
def test_caltech_101_leaves_the_background_out_and_its_config_splits_the_classes(loopback_server, tmp_path,
                                                                                 monkeypatch, run_cli):
    from minim.cls.datasets.builder import build_dataset
    from minim.config import Config

    write_miniature_index(tmp_path, monkeypatch, miniature_of(
        "caltech-101", loopback_server, {"caltech_101.tgz": caltech_101_archive()}))
    dest = tmp_path / "data"
    result = run_cli("download", "cls", "--dataset", "mini-caltech-101", "--dest", str(dest))
    assert result.exit_code == 0, result.err
    assert sorted(p.name for p in (dest / "images").iterdir()) == ["Faces", "accordion", "airplanes"]
    config = Config.fromfile(str(dest / "mini-caltech-101.py"))
    train, val = build_dataset(config.data.train), build_dataset(config.data.val, dict(test_mode=True))
    assert (len(train), len(val)) == (12, 3) and val.CLASSES == ["Faces", "accordion", "airplanes"]
    assert sorted(info["gt_label"] for info in val.data_infos) == [0, 1, 2]  # stratified: one of each class


# -- hostile archives ---------------------------------------------------------------------------------
def hostile_tar(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        ok = tarfile.TarInfo("data/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        info = tarfile.TarInfo({"dotdot": "data/../../evil.txt", "absolute": "/tmp/evil.txt"}.get(kind, "data/bad"))
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "../../outside"
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "../outside"
        elif kind == "device":
            info.type = tarfile.CHRTYPE
        if info.isreg():
            info.size = 4
        tar.addfile(info, io.BytesIO(b"evil") if info.isreg() else None)
    return buffer.getvalue()


@pytest.mark.parametrize("kind, why", [("dotdot", r"its path leaves the destination \('\.\.'\)"),
                                       ("absolute", "absolute path"), ("symlink", "symbolic link to '../../outside'"),
                                       ("hardlink", "hard link to '../outside'"), ("device", "device, FIFO or other special file")])
def test_hostile_tar_members_are_refused_and_nothing_is_kept(tmp_path, kind, why):
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(hostile_tar(kind))
    dest = tmp_path / "dest" / "inner"
    with pytest.raises(DataError, match=f"refusing member .*: {why}"):
        extract(archive, dest, progress="none")
    assert os.listdir(dest) == [] and sorted(os.listdir(tmp_path)) == ["bad.tar.gz", "dest"]


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "C:/evil.txt"])
def test_hostile_zip_members_are_refused(tmp_path, name):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(zip_bytes({"ok.txt": b"ok", name: b"evil"}))
    with pytest.raises(DataError, match=f"refusing member '{name}'"):
        extract(archive, tmp_path / "dest", progress="none")
    assert os.listdir(tmp_path / "dest") == []


def test_links_inside_the_destination_are_kept(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, link in (("a/file.txt", tarfile.REGTYPE, ""), ("a/sym", tarfile.SYMTYPE, "file.txt"),
                                 ("b/hard", tarfile.LNKTYPE, "a/file.txt")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, link, 4 if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(b"data") if kind == tarfile.REGTYPE else None)
    (tmp_path / "ok.tar").write_bytes(buffer.getvalue())
    extract(tmp_path / "ok.tar", tmp_path / "dest", progress="none")
    assert os.readlink(tmp_path / "dest/a/sym") == "file.txt"
    assert (tmp_path / "dest/b/hard").read_text() == "data" and not (tmp_path / "dest/b/hard").is_symlink()


def test_cli_reports_a_hostile_archive_in_one_line(loopback_server, tmp_path, monkeypatch, run_cli):
    body = hostile_tar("symlink")
    write_index(tmp_path, monkeypatch, [{"name": "bad", "files": [
        file_entry(serve(loopback_server, "bad.tar.gz", body), body, "tar.gz")]}])
    result = run_cli("download", "cls", "--dataset", "bad", "--dest", str(tmp_path / "data"), "-q")
    assert result.exit_code == 1
    assert result.err.count("\n") == 1 and "refusing member 'data/bad': symbolic link" in result.err


# -- index validation and listing -------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    ({"md5": "abc"}, "bad md5 'abc'"), ({"md5": None}, "needs 'sha256'"), ({"unpack": "rar"}, "bad unpack 'rar'"),
    ({"url": "ftp://host/x.zip"}, "bad url")])
def test_bad_dataset_entries_name_the_file_and_the_dataset(tmp_path, monkeypatch, change, message):
    entry = {"url": "https://host/x.zip", "md5": "0" * 32, "unpack": "zip"}
    entry.update(change)
    folder = write_index(tmp_path, monkeypatch, [{"name": "broken", "files": [entry]}])
    with pytest.raises(ModelIndexError, match=f"{folder / 'datasets.json'}: dataset 'broken': .*{message}"):
        get_entry("broken")


def test_a_private_dataset_index_leaves_the_model_index_working(tmp_path, monkeypatch, run_cli):
    write_index(tmp_path, monkeypatch, [{"name": "mine", "aliases": ["MINE"], "description": "my set",
                                         "files": [{"url": "https://host/x.zip", "md5": "0" * 32}]}])
    listed = run_cli("search", "cls", "--dataset-index", "--json")
    assert listed.exit_code == 0 and "mine" in [d["name"] for d in json.loads(listed.out)]
    assert "cifar10" in run_cli("search", "cls", "--dataset-index").out
    assert run_cli("search", "cls", "--model", "mobilenet-v2_digits").exit_code == 0
    unknown = run_cli("download", "cls", "--dataset", "mien")
    assert unknown.exit_code == 1 and "did you mean 'mine'" in unknown.err


# -- the ready config trains ---------------------------------------------------------------------------
@pytest.mark.slow
def test_the_ready_config_trains_one_epoch(loopback_server, tmp_path, monkeypatch, run_cli):
    body = image_folder_zip()
    write_index(tmp_path, monkeypatch, [{"name": "tiny", "files": [
        file_entry(serve(loopback_server, "tiny.zip", body), body, "zip")]}], template=digits_template())
    result = run_cli("download", "cls", "--dataset", "tiny", "--dest", str(tmp_path / "data"))
    assert result.exit_code == 0, result.err
    assert f"minim train cls {tmp_path / 'data' / 'tiny.py'}" in result.err
    trained = run_cli("train", "cls", str(tmp_path / "data" / "tiny.py"), "--work-dir", str(tmp_path / "work"),
                      "--cfg-options", "runner.max_epochs=1", "channels_last=False")  # no speed probe
    assert trained.exit_code == 0, trained.err
    assert (tmp_path / "work" / "epoch_1.pth").is_file()


def test_class_folders_are_copies_where_the_file_system_has_no_hard_links(tmp_path, monkeypatch):
    import errno

    from minim.dataset_layouts import layout_class_folders

    for name in ("cat", "dog"):
        (tmp_path / "tree" / name).mkdir(parents=True)
        (tmp_path / "tree" / name / f"{name}.jpg").write_bytes(name.encode())

    def no_links(source, target):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)  # as across file systems
    (images,) = layout_class_folders(tmp_path, {"folder": "tree", "to": "images"}, overwrite=False)
    copies = sorted(p.relative_to(images).as_posix() for p in images.rglob("*.jpg"))
    assert copies == ["cat/cat.jpg", "dog/dog.jpg"] and (images / "dog" / "dog.jpg").read_bytes() == b"dog"
    assert (images / "cat" / "cat.jpg").stat().st_nlink == 1  # a copy, not a link
