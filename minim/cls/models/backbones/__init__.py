"""Backbones: torchvision architectures (generic and in mmcls 0.x spellings) and timm models."""

from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.mmcls_spellings import (
    VGG,
    ConvNeXt,
    DenseNet,
    MobileNetV2,
    MobileNetV3,
    RegNet,
    ResNet,
    ResNet_CIFAR,
    ResNeXt,
    ShuffleNetV2,
    SwinTransformer,
    VisionTransformer,
)
from minim.cls.models.backbones.timm_backbone import TIMMBackbone
from minim.cls.models.backbones.torchvision_backbone import TorchvisionBackbone

__all__ = [
    "Backbone", "TorchvisionBackbone", "TIMMBackbone", "ResNet", "ResNet_CIFAR", "ResNeXt", "MobileNetV2",
    "MobileNetV3", "VGG", "ShuffleNetV2", "RegNet", "DenseNet", "ConvNeXt", "SwinTransformer",
    "VisionTransformer",
]
