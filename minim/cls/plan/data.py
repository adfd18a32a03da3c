"""What the file system tells about a config's datasets before any is built: the folders exist, and an image-folder
dataset has as many class folders as the head has classes."""

from __future__ import annotations

import os
from typing import Any, Mapping

from minim.errors import DataError
from minim.filekinds import require_dir, require_file, visible_subfolders

#: dataset types that read images below ``data_prefix`` (nothing is downloaded or prepared for them)
FOLDER_DATASETS = ("CustomDataset", "ImageNet")
#: wrappers whose ``dataset`` key holds the dataset they repeat or re-balance
WRAPPERS = ("RepeatDataset", "ClassBalancedDataset")
#: the scheme of minim's built-in datasets (prepared on first use, so not checked here)
BUILTIN_SCHEME = "minim://"


def head_num_classes(model_cfg: Any) -> int | None:
    """``model.head.num_classes`` (or ``model.num_classes``) of a model config; None when it does not say."""
    if not isinstance(model_cfg, Mapping):
        return None
    for owner in (model_cfg.get("head"), model_cfg):
        value = owner.get("num_classes") if isinstance(owner, Mapping) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def check_split(data_cfg: Mapping[str, Any], split: str, num_classes: int | None,
                like: list[str] | None = None) -> list[str] | None:
    """``data.<split>``: its folders (and annotation file) exist; its class folders are ``num_classes``.

    Returns the class folders when they name the classes (an image-folder ``CustomDataset`` without ``classes``),
    else None. ``like``: the training set's; a split whose folders differ is left to the dataset check, which
    names the classes one side lacks."""
    dataset = _unwrapped(data_cfg.get(split))
    if dataset is None or dataset.get("type") not in FOLDER_DATASETS:
        return None
    key = f"data.{split}"
    prefix = dataset.get("data_prefix")
    if not isinstance(prefix, str) or prefix.startswith(BUILTIN_SCHEME):
        return None
    prefix = os.path.expanduser(prefix)
    require_dir(prefix, f"{key}.data_prefix")
    ann_file = dataset.get("ann_file")
    if isinstance(ann_file, str):
        require_file(os.path.expanduser(ann_file), f"{key}.ann_file")
        return None
    if dataset.get("classes") is not None or dataset.get("type") != "CustomDataset":
        return None  # named classes are matched to the folders by the dataset itself
    folders = visible_subfolders(prefix)
    if num_classes is not None and folders and len(folders) != num_classes and like in (None, folders):
        shown = ", ".join(folders[:5]) + (", ..." if len(folders) > 5 else "")
        raise DataError(
            f"{key}.data_prefix {prefix} has {len(folders)} classes (class folders {shown}) but "
            f"model.head.num_classes={num_classes}",
            hint=f"set model.head.num_classes={len(folders)} (e.g. --cfg-options model.head.num_classes={len(folders)})",
        )
    return folders


def _unwrapped(dataset: Any) -> Mapping[str, Any] | None:
    while isinstance(dataset, Mapping) and dataset.get("type") in WRAPPERS:
        dataset = dataset.get("dataset")
    return dataset if isinstance(dataset, Mapping) else None
