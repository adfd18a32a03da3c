"""Datasets, pipelines and data loading of the ``cls`` engine (mmcls 0.x vocabulary on torchvision).

Images are decoded to RGB uint8 ``C x H x W`` tensors; ``Normalize`` reproduces mmcls's output
(including its BGR convention, see :mod:`minim.cls.datasets.pipelines._image`).
"""

from minim.cls.datasets import pipelines  # noqa: F401  (registers the transforms)
from minim.cls.datasets.base import CACHE_AUTO_LIMIT_BYTES, BaseDataset
from minim.cls.datasets.builder import DataLoader, build_dataloader, build_dataset, collate
from minim.cls.datasets.checks import (check_labels, check_same_classes, compare_classes, find_bad_images,
                                       sample_source)
from minim.cls.datasets.cifar import CIFAR10, CIFAR100
from minim.cls.datasets.custom import IMG_EXTENSIONS, CustomDataset
from minim.cls.datasets.digits import default_digits_root, ensure_digits
from minim.cls.datasets.imagenet import IMAGENET_CLASSES, IMAGENET_WNIDS, ImageNet
from minim.cls.datasets.paths import resolve_data_path
from minim.cls.datasets.pipelines import Compose
from minim.cls.datasets.registry import DATASETS, PIPELINES
from minim.cls.datasets.samplers import ShardedSampler
from minim.cls.datasets.wrappers import ConcatDataset, RepeatDataset

__all__ = [
    "BaseDataset",
    "CACHE_AUTO_LIMIT_BYTES",
    "CIFAR10",
    "CIFAR100",
    "Compose",
    "ConcatDataset",
    "CustomDataset",
    "DATASETS",
    "DataLoader",
    "IMAGENET_CLASSES",
    "IMAGENET_WNIDS",
    "IMG_EXTENSIONS",
    "ImageNet",
    "PIPELINES",
    "RepeatDataset",
    "ShardedSampler",
    "build_dataloader",
    "build_dataset",
    "check_labels",
    "check_same_classes",
    "compare_classes",
    "collate",
    "default_digits_root",
    "ensure_digits",
    "find_bad_images",
    "resolve_data_path",
    "sample_source",
]
