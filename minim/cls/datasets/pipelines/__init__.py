"""Data pipelines with mmcls 0.x transform names, implemented on torchvision (uint8 tensors until ``Normalize``)."""

from minim.cls.datasets.pipelines.color import AutoAugment, ColorJitter, RandAugment, RandomErasing, RandomGrayscale
from minim.cls.datasets.pipelines.compose import Compose, Transform, build_transform
from minim.cls.datasets.pipelines.formatting import Collect, ImageToTensor, Normalize, ToHalf, ToTensor, to_tensor
from minim.cls.datasets.pipelines.geometric import CenterCrop, Pad, RandomCrop, RandomFlip, RandomResizedCrop, Resize
from minim.cls.datasets.pipelines.loading import LoadImageFromFile, read_image, results_from_array

__all__ = [
    "AutoAugment",
    "CenterCrop",
    "Collect",
    "ColorJitter",
    "Compose",
    "ImageToTensor",
    "LoadImageFromFile",
    "Normalize",
    "Pad",
    "RandAugment",
    "RandomCrop",
    "RandomErasing",
    "RandomFlip",
    "RandomGrayscale",
    "RandomResizedCrop",
    "Resize",
    "ToHalf",
    "ToTensor",
    "Transform",
    "build_transform",
    "read_image",
    "results_from_array",
    "to_tensor",
]
