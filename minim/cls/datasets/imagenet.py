"""``ImageNet``: ``CustomDataset`` with the 1000 ImageNet class names as default ``CLASSES``."""

from __future__ import annotations

import warnings

from minim.cls.datasets.custom import CustomDataset
from minim.cls.datasets.imagenet_classes import imagenet_table
from minim.cls.datasets.registry import DATASETS

IMAGENET_WNIDS, IMAGENET_CLASSES = imagenet_table()


@DATASETS.register()
class ImageNet(CustomDataset):
    """ImageNet layouts (synset folders or ``ann_file``); class names default to the 1000 ImageNet names.

    On a folder tree whose sub-folders are not the 1000 synsets (a custom dataset declared as
    ``ImageNet``, mmcls trap #4), the folder names become the classes, with a warning.
    """

    CLASSES = list(IMAGENET_CLASSES)

    def folder_classes(self, folders: list[str]) -> tuple[list[str], list[str]]:
        if set(folders) == set(IMAGENET_WNIDS):
            return list(IMAGENET_WNIDS), list(IMAGENET_CLASSES)
        warnings.warn(
            f"ImageNet dataset at {self.data_prefix}: its {len(folders)} class folders are not the 1000 ImageNet "
            "synsets, so the folder names are used as classes (use type='CustomDataset' to silence this)",
            stacklevel=4,
        )
        return folders, list(folders)
