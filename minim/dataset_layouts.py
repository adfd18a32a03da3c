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
  image folder) and ``lists`` (``{part: list file}``).

Outputs appear by atomic rename, so an interrupted layout leaves nothing half-written.
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


# -- helpers ------------------------------------------------------------------------------------------
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
}
