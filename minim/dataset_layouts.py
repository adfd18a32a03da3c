"""How a downloaded dataset becomes the folders the datasets of minim read: the index's ``layout``.

A layout runs in the download folder ROOT after its archives are unpacked there; it gets the entry's
``layout_options`` and returns the paths it made:

* ``extract``  nothing more (the archives already hold class folders, or CIFAR's pickle batches);
* ``idx``      MNIST-style ``idx`` files (gzipped) become PNG class folders ``ROOT/<part>/<class>/<n>.png``;
  options ``parts`` (``{"train": [images file, labels file], "test": [...]}``) and ``classes`` (the folder
  name of each label, in label order);
* ``name_lists`` image lists such as Oxford-IIIT Pets' ``annotations/trainval.txt`` (``<stem> <class id> ...``
  lines, class ids from 1, class name = the stem without its last ``_<number>``) become annotation files
  ``ROOT/<part>.txt`` (``<images>/<stem>.jpg <label>``) and ``ROOT/classes.txt``; options ``images`` (the
  image folder) and ``lists`` (``{part: list file}``);
* ``mat_labels`` labels and splits in MATLAB files, as Flowers-102 publishes them (``imagelabels.mat`` holds
  every image's label from 1, ``setid.mat`` each split's image ids from 1), become class folders
  ``ROOT/<part>/<label>/`` (labels zero-padded: ``001`` ... ``102``); options ``images`` (the image path
  pattern, e.g. ``jpg/image_{id:05d}.jpg``), ``labels`` (``[.mat file, variable]``) and ``splits``
  (``{part: [.mat file, variable]}``). Reading ``.mat`` files needs scipy (not a minim dependency): without
  it the download stops before it starts, naming the package;
* ``tiny_imagenet`` Tiny-ImageNet's tree (``train/<wnid>/images/``, ``val/images/`` with
  ``val/val_annotations.txt``) becomes class folders ``ROOT/train/<wnid>/`` and ``ROOT/val/<wnid>/``; option
  ``folder`` (the archive's top folder). Its test images have no labels and are left as they are;
* ``class_folders`` the class folders of an archive, less some (Caltech-101's ``BACKGROUND_Google`` is no
  class), become ``ROOT/<to>/<class>/``; options ``folder`` (the archive's class-folder tree), ``exclude``
  (folder names) and ``to``.

The class folders hold hard links to the extracted images (copies where the file system has no hard
links), so they take no space twice. Outputs appear by atomic rename, so an interrupted layout leaves
nothing half-written.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Callable

from minim.atomic import write_text_atomic
from minim.errors import DataError

_IDX_MAGIC = {0x00000801: 1, 0x00000803: 3}  # labels (1 dimension), images (3 dimensions)


def layout_extract(root: Path, options: dict, overwrite: bool) -> list[Path]:
    """Nothing to do: the archives are the layout."""
    return []


# -- idx ----------------------------------------------------------------------------------------------
def read_idx(path: Path):
    """The array of an idx file (gzipped or not) as numpy uint8."""
    import numpy as np

    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read idx file {path}: {exc}") from exc
    magic = int.from_bytes(data[:4], "big")
    dims = _IDX_MAGIC.get(magic)
    if dims is None:
        raise DataError(f"{path} is not an idx file of unsigned bytes (magic {magic:#010x})")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    body = data[4 + 4 * dims:]
    if len(body) != int(np.prod(shape)):
        raise DataError(f"{path} holds {len(body)} bytes of data; its header announces {shape}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def layout_idx(root: Path, options: dict, overwrite: bool) -> list[Path]:
    """PNG class folders from idx image/label files (see the module docstring)."""
    import cv2

    classes = list(options["classes"])
    made = []
    for part, (images_file, labels_file) in options["parts"].items():
        images, labels = read_idx(root / images_file), read_idx(root / labels_file)
        if images.ndim != 3 or len(images) != len(labels) or (len(labels) and labels.max() >= len(classes)):
            raise DataError(f"{root / images_file} and {root / labels_file} do not match: {images.shape} images, "
                            f"{len(labels)} labels, {len(classes)} classes")
        final = root / part
        staging = _staging(root, part)
        for name in classes:
            (staging / name).mkdir()
        for number, (image, label) in enumerate(zip(images, labels)):
            ok, png = cv2.imencode(".png", image)
            if not ok:
                raise DataError(f"cannot encode image {number} of {root / images_file} as PNG")
            (staging / classes[label] / f"{number:05d}.png").write_bytes(png.tobytes())
        made.append(_place(staging, final, overwrite))
    return made


# -- name lists -----------------------------------------------------------------------------------------
def layout_name_lists(root: Path, options: dict, overwrite: bool) -> list[Path]:
    """Annotation files and ``classes.txt`` from image-name lists (see the module docstring)."""
    images = options["images"]
    names: dict[int, str] = {}
    made = []
    for part, list_file in options["lists"].items():
        lines = []
        for stem, class_id in _read_name_list(root / list_file):
            names.setdefault(class_id, stem.rsplit("_", 1)[0])
            lines.append(f"{images}/{stem}.jpg {class_id - 1}\n")
        made.append(_write_new(root / f"{part}.txt", "".join(lines), overwrite))
    if sorted(names) != list(range(1, len(names) + 1)):
        raise DataError(f"class ids in {', '.join(options['lists'].values())} are not 1..{len(names)}")
    made.append(_write_new(root / "classes.txt", "".join(f"{names[i]}\n" for i in sorted(names)), overwrite))
    return made


def _read_name_list(path: Path) -> list[tuple[str, int]]:
    entries = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or line.startswith("#"):
            continue
        if len(fields) < 2 or not fields[1].isdigit() or int(fields[1]) < 1:
            raise DataError(f"{path}:{lineno}: expected '<image name> <class id from 1> ...', got {line!r}")
        entries.append((fields[0], int(fields[1])))
    return entries


# -- MATLAB labels ------------------------------------------------------------------------------------
def load_mat():
    """scipy's ``loadmat``, or a :class:`DataError` naming the package to install."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise DataError("this dataset's labels are MATLAB .mat files; reading them needs scipy, which is not "
                        "installed", hint="pip install scipy") from None
    return loadmat


def _mat_vector(root: Path, source: list[str]):
    """The integer vector ``variable`` of ``root/<.mat file>`` (``source = [file, variable]``)."""
    import numpy as np

    file, variable = source
    try:
        contents = load_mat()(str(root / file))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {root / file}: {exc}") from exc
    if variable not in contents:
        raise DataError(f"{root / file} has no variable {variable!r}")
    return np.asarray(contents[variable]).ravel().astype(np.int64)


def layout_mat_labels(root: Path, options: dict, overwrite: bool) -> list[Path]:
    """Class folders from labels and splits in MATLAB files (see the module docstring)."""
    labels = _mat_vector(root, options["labels"])
    width = len(str(int(labels.max()))) if len(labels) else 1
    made = []
    for part, source in options["splits"].items():
        members = []
        for image_id in _mat_vector(root, source):
            if not 1 <= image_id <= len(labels):
                raise DataError(f"{root / source[0]}: image id {image_id} of {source[1]!r} is not in 1..{len(labels)}")
            members.append((root / options["images"].format(id=image_id), f"{labels[image_id - 1]:0{width}d}"))
        made.append(_class_folders(root, part, members, overwrite))
    return made


# -- Tiny-ImageNet ----------------------------------------------------------------------------------------
def layout_tiny_imagenet(root: Path, options: dict, overwrite: bool) -> list[Path]:
    """``ROOT/train/<wnid>/`` and ``ROOT/val/<wnid>/`` from Tiny-ImageNet's tree (see the module docstring)."""
    top = root / options["folder"]
    try:
        train = [(image, folder.name) for folder in sorted(p for p in (top / "train").iterdir() if p.is_dir())
                 for image in sorted((folder / "images").iterdir())]
    except OSError as exc:
        raise DataError(f"cannot list {exc.filename}: {exc.strerror or exc}") from exc
    annotations = top / "val" / "val_annotations.txt"
    try:
        lines = annotations.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read {annotations}: {exc.strerror or exc}") from exc
    val = []
    for lineno, line in enumerate(lines, 1):
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"{annotations}:{lineno}: expected '<image>\\t<wnid>\\t...', got {line!r}")
        val.append((top / "val" / "images" / fields[0], fields[1]))
    return [_class_folders(root, "train", train, overwrite), _class_folders(root, "val", val, overwrite)]


# -- class folders, less some --------------------------------------------------------------------------
def layout_class_folders(root: Path, options: dict, overwrite: bool) -> list[Path]:
    """``ROOT/<to>/<class>/`` from an archive's class folders, less ``exclude`` (see the module docstring)."""
    tree = root / options["folder"]
    excluded = set(options.get("exclude", ()))
    try:
        members = [(image, folder.name) for folder in sorted(p for p in tree.iterdir() if p.is_dir())
                   if folder.name not in excluded for image in sorted(folder.iterdir()) if image.is_file()]
    except OSError as exc:
        raise DataError(f"cannot list {exc.filename}: {exc.strerror or exc}") from exc
    return [_class_folders(root, options["to"], members, overwrite)]


# -- helpers ------------------------------------------------------------------------------------------
def _class_folders(root: Path, part: str, members: list[tuple[Path, str]], overwrite: bool) -> Path:
    """``ROOT/<part>/<class>/<image name>`` for each ``(image, class)``: hard links (copies where links fail)."""
    staging = _staging(root, part)
    for image, name in members:
        if not image.is_file():
            shutil.rmtree(staging, ignore_errors=True)
            raise DataError(f"{image} is missing: the archive does not hold the images its labels name")
        folder = staging / name
        folder.mkdir(exist_ok=True)
        try:
            os.link(image, folder / image.name)
        except OSError:
            shutil.copyfile(image, folder / image.name)
    return _place(staging, root / part, overwrite)


def _staging(root: Path, part: str) -> Path:
    staging = root / f".minim-layout-{part}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _place(staging: Path, final: Path, overwrite: bool) -> Path:
    if os.path.lexists(final):
        if not overwrite:
            shutil.rmtree(staging, ignore_errors=True)
            raise DataError(f"{final} already exists", hint="pass --overwrite to replace it")
        shutil.rmtree(final) if final.is_dir() and not final.is_symlink() else final.unlink()
    os.replace(staging, final)
    return final


def _write_new(path: Path, text: str, overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise DataError(f"{path} already exists", hint="pass --overwrite to replace it")
    write_text_atomic(path, text)
    return path


#: layout name -> function(root, layout_options, overwrite) -> paths made
LAYOUTS: dict[str, Callable[[Path, dict, bool], list[Path]]] = {
    "extract": layout_extract,
    "idx": layout_idx,
    "name_lists": layout_name_lists,
    "mat_labels": layout_mat_labels,
    "tiny_imagenet": layout_tiny_imagenet,
    "class_folders": layout_class_folders,
}

#: what a layout needs beyond minim's dependencies: checked before anything is downloaded
LAYOUT_REQUIREMENTS: dict[str, Callable[[], object]] = {"mat_labels": load_mat}
