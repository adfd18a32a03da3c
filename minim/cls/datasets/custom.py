"""``CustomDataset``: an image-folder tree (``data_prefix/<class>/**/<image>``) or an annotation file.

Differences from mmcls 0.x, each fixing a trap users hit:

- a ``classes`` list in folder mode must name exactly the class folders (as a set, error listing
  the differences) and the labels follow the order of ``classes`` (mmcls checked only the count
  and kept the sorted-folder order);
- an empty class folder, an empty tree or a missing path is a :class:`DataError` before training;
- hidden folders and files (``.ipynb_checkpoints``, macOS ``._x.jpg``) are skipped;
- ``skip_bad_images=True`` drops unreadable images at construction, with one warning listing them.

minim extension: ``split=dict(val=0.2, seed=0)`` takes one part of a stratified, seeded split of the
tree (``part``: train, or val for ``test_mode`` datasets), see :mod:`minim.cls.datasets.split`.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np

from minim.errors import DataError
from minim.filekinds import visible_subfolders
from minim.cls.datasets.base import BaseDataset
from minim.cls.datasets.checks import find_bad_images
from minim.cls.datasets.paths import require_dir, require_file
from minim.cls.datasets.registry import DATASETS
from minim.cls.datasets.split import SplitSpec, select_part, split_parts, split_record

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def find_images(folder: str, extensions: Sequence[str]) -> list[str]:
    """Image files below ``folder`` (recursively, symlinks followed), relative to it, sorted as mmcls does."""
    suffixes = tuple(ext.lower() for ext in extensions)
    by_root = []
    for root, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # pruned while walking: never entered
        relative_root = os.path.relpath(root, folder)
        names = [name if relative_root == "." else os.path.join(relative_root, name) for name in sorted(filenames)
                 if not name.startswith(".") and name.lower().endswith(suffixes)]
        by_root.append((root, names))
    return [name for _, names in sorted(by_root) for name in names]


def parse_ann_file(path: str) -> list[tuple[str, int, int]]:
    """``(relative path, label, line number)`` per line ``relative/path label`` (split on the last whitespace)."""
    entries = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2:
                raise DataError(f"{path}:{lineno}: expected '<relative image path> <label>', got {line!r}")
            try:
                label = int(parts[1])
            except ValueError:
                raise DataError(f"{path}:{lineno}: label {parts[1]!r} is not an integer") from None
            if label < 0:
                raise DataError(f"{path}:{lineno}: label {label} is negative")
            entries.append((parts[0], label, lineno))
    return entries


def _describe_difference(listed: Sequence[str], folders: Sequence[str]) -> str:
    missing = sorted(set(listed) - set(folders))
    extra = sorted(set(folders) - set(listed))
    parts = []
    if missing:
        parts.append(f"no folder for {missing}")
    if extra:
        parts.append(f"folders not in classes: {extra}")
    return "; ".join(parts)


@DATASETS.register()
class CustomDataset(BaseDataset):
    """Images in class folders (``ann_file=None``) or listed in ``ann_file`` as ``path label`` lines.

    Folder mode: classes are the sorted class-folder names unless ``classes`` (list, or a file with
    one name a line) gives them, in which case labels follow its order. Annotation mode: labels come
    from the file; ``classes`` names them (else ``CLASSES`` is the class default, None here).
    ``cache_images`` defaults to ``'auto'``: small datasets keep their decoded images in memory
    (see :class:`~minim.cls.datasets.base.BaseDataset`).
    """

    def __init__(
        self,
        data_prefix: str,
        pipeline: Sequence[Any] = (),
        classes: Any = None,
        ann_file: str | None = None,
        extensions: Sequence[str] = IMG_EXTENSIONS,
        test_mode: bool = False,
        file_client_args: dict | None = None,
        cache_images: bool | str = "auto",
        skip_bad_images: bool = False,
        split: dict | None = None,
    ):
        backend = (file_client_args or {}).get("backend", "disk")
        if backend != "disk":
            raise DataError(f"file_client_args backend {backend!r} is not supported; minim reads local files only")
        if isinstance(extensions, str):
            extensions = (extensions,)
        self.extensions = tuple(extensions)
        self._classes_given = classes is not None
        super().__init__(data_prefix, pipeline, classes, ann_file, test_mode, cache_images=False)
        #: ``split.json``'s contents when this dataset is a part of a declared split, else None
        self.split_record: dict | None = None
        if split is not None:
            self._apply_split(split)
        if skip_bad_images:
            self._drop_bad_images()
        self._init_cache(cache_images)

    def load_annotations(self) -> list[dict]:
        require_dir(self.data_prefix, "data_prefix")
        if self.ann_file is None:
            return self._load_folders()
        return self._load_ann_file()

    # -- folder mode ---------------------------------------------------------------------------

    def folder_classes(self, folders: list[str]) -> tuple[list[str], list[str]]:
        """``(folder of each label, class names)`` when ``classes`` was not given (a list, as mmcls)."""
        return folders, list(folders)

    def _load_folders(self) -> list[dict]:
        folders = visible_subfolders(self.data_prefix)  # sorted as plain strings: mmcls's label order
        if not folders:
            raise DataError(
                f"data_prefix {self.data_prefix} has no class sub-folders "
                f"(expected data_prefix/<class name>/<image>, with extensions {', '.join(self.extensions)})",
                hint="or give ann_file with '<path> <label>' lines",
            )
        if self._classes_given:
            label_folders = list(self.CLASSES)
            self._check_folder_classes(label_folders, folders)
        else:
            label_folders, self.CLASSES = self.folder_classes(folders)
        label_of = {folder: label for label, folder in enumerate(label_folders)}
        infos = []
        for folder in folders:
            label = label_of[folder]
            images = find_images(os.path.join(self.data_prefix, folder), self.extensions)
            if not images:
                raise DataError(
                    f"class folder {os.path.join(self.data_prefix, folder)} has no images "
                    f"(looked for {', '.join(self.extensions)})",
                    hint="add images or remove the folder",
                )
            infos.extend(self._info(os.path.join(folder, name), label) for name in images)
        return infos

    def _check_folder_classes(self, listed: list[str], folders: list[str]) -> None:
        duplicates = sorted({name for name in listed if listed.count(name) > 1})
        if duplicates:
            raise DataError(f"classes lists {duplicates} more than once")
        present = set(folders)
        if present - set(listed):
            hint = None
            if not present & set(listed):  # e.g. a base config's classes, inherited by a child for other data
                hint = ("the classes come from the dataset's classes=... (a base config's, if the child does not "
                        "set them): set classes=None to take them from the folder names")
            raise DataError(
                f"classes do not match the class folders of {self.data_prefix}: {_describe_difference(listed, folders)}",
                hint=hint,
            )
        missing = [name for name in listed if name not in present]
        if missing:  # a listed class may lack images here (a small val set); its label stays reserved
            warnings.warn(f"{self.data_prefix} has no folder for the classes {missing}: no images of them here",
                          stacklevel=4)

    # -- annotation-file mode ------------------------------------------------------------------

    def _load_ann_file(self) -> list[dict]:
        require_file(self.ann_file, "ann_file")
        entries = parse_ann_file(self.ann_file)
        if not entries:
            raise DataError(f"ann_file {self.ann_file} lists no images")
        if self.CLASSES is not None:
            for _, label, lineno in entries:
                if label >= len(self.CLASSES):
                    raise DataError(
                        f"{self.ann_file}:{lineno}: label {label} is out of range for {len(self.CLASSES)} classes"
                    )
        for relative, _, lineno in (entries[0], entries[-1]):
            if not os.path.isfile(os.path.join(self.data_prefix, relative)):
                raise DataError(
                    f"{self.ann_file}:{lineno}: image {os.path.join(self.data_prefix, relative)} does not exist",
                    hint="paths in ann_file are relative to data_prefix",
                )
        return [dict(self._info(relative, label), ann_lineno=lineno) for relative, label, lineno in entries]

    def _info(self, relative: str, label: int) -> dict:
        return {"img_prefix": self.data_prefix, "img_info": {"filename": relative}, "gt_label": np.int64(label)}

    # -- declared split ------------------------------------------------------------------------

    def _apply_split(self, split: dict) -> None:
        spec = SplitSpec(split, self.test_mode)
        filenames = [info["img_info"]["filename"] for info in self.data_infos]
        parts = split_parts(filenames, [int(info["gt_label"]) for info in self.data_infos], spec)
        self.split_record = split_record(self.data_prefix, spec, self.CLASSES or (), parts)
        self.data_infos = select_part(self.data_infos, parts, spec, self.data_prefix)
        if not self.data_infos:
            raise DataError(f"the {spec.part} part of {self.data_prefix} ({spec.describe()}) has no images",
                            hint="hold out a larger fraction, or add images")

    # -- unreadable images ---------------------------------------------------------------------

    def _drop_bad_images(self) -> None:
        bad = find_bad_images(self)
        if not bad:
            return
        bad_indices = {idx for idx, _, _ in bad}
        self.data_infos = [info for i, info in enumerate(self.data_infos) if i not in bad_indices]
        listing = "; ".join(f"{path} ({reason})" for _, path, reason in bad[:20])
        more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
        warnings.warn(f"skipped {len(bad)} unreadable image(s): {listing}{more}", stacklevel=3)
        if not self.data_infos:
            raise DataError(f"data_prefix {self.data_prefix}: no readable images left")
