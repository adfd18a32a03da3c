"""Model configs for torchvision's ImageNet-1k classification architectures.

``model_config_for_arch('resnet50')`` returns the ``model=dict(...)`` config that builds
minim's classifier for that torchvision architecture, such that torchvision's checkpoint
loads into it losslessly.  The mmcls 0.x spelling (``ResNet(depth=50)``, ``MobileNetV2``,
``VGG``, ...) is used where it maps exactly onto the torchvision architecture, and the
generic ``TorchvisionBackbone(arch=...)`` otherwise.

This module imports torchvision only inside the functions that need it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import torchvision.models

from minim.errors import BuildError
from minim.suggest import did_you_mean

# Input width of the final classification layer of each torchvision architecture
# (the "pre-logits" feature dim the generic backbone outputs).  Building a config checks
# it against the built backbone (tests/test_cls_parity.py builds every arch).
TORCHVISION_FEATURE_DIMS: dict[str, int] = {
    "alexnet": 4096,
    "convnext_tiny": 768, "convnext_small": 768, "convnext_base": 1024, "convnext_large": 1536,
    "densenet121": 1024, "densenet161": 2208, "densenet169": 1664, "densenet201": 1920,
    "efficientnet_b0": 1280, "efficientnet_b1": 1280, "efficientnet_b2": 1408, "efficientnet_b3": 1536,
    "efficientnet_b4": 1792, "efficientnet_b5": 2048, "efficientnet_b6": 2304, "efficientnet_b7": 2560,
    "efficientnet_v2_s": 1280, "efficientnet_v2_m": 1280, "efficientnet_v2_l": 1280,
    "googlenet": 1024, "inception_v3": 2048, "maxvit_t": 512,
    "mnasnet0_5": 1280, "mnasnet0_75": 1280, "mnasnet1_0": 1280, "mnasnet1_3": 1280,
    "mobilenet_v2": 1280, "mobilenet_v3_large": 1280, "mobilenet_v3_small": 1024,
    "regnet_x_400mf": 400, "regnet_x_800mf": 672, "regnet_x_1_6gf": 912, "regnet_x_3_2gf": 1008,
    "regnet_x_8gf": 1920, "regnet_x_16gf": 2048, "regnet_x_32gf": 2520,
    "regnet_y_400mf": 440, "regnet_y_800mf": 784, "regnet_y_1_6gf": 888, "regnet_y_3_2gf": 1512,
    "regnet_y_8gf": 2016, "regnet_y_16gf": 3024, "regnet_y_32gf": 3712, "regnet_y_128gf": 7392,
    "resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048, "resnet152": 2048,
    "resnext50_32x4d": 2048, "resnext101_32x8d": 2048, "resnext101_64x4d": 2048,
    "wide_resnet50_2": 2048, "wide_resnet101_2": 2048,
    "shufflenet_v2_x0_5": 1024, "shufflenet_v2_x1_0": 1024, "shufflenet_v2_x1_5": 1024, "shufflenet_v2_x2_0": 2048,
    "squeezenet1_0": 512, "squeezenet1_1": 512,
    "swin_t": 768, "swin_s": 768, "swin_b": 1024, "swin_v2_t": 768, "swin_v2_s": 768, "swin_v2_b": 1024,
    "vgg11": 4096, "vgg11_bn": 4096, "vgg13": 4096, "vgg13_bn": 4096,
    "vgg16": 4096, "vgg16_bn": 4096, "vgg19": 4096, "vgg19_bn": 4096,
    "vit_b_16": 768, "vit_b_32": 768, "vit_l_16": 1024, "vit_l_32": 1024, "vit_h_14": 1280,
}

# Architectures whose classifier is a convolution: the backbone keeps its whole
# classifier (``include_top=True``) and the head only turns logits into losses/scores.
INCLUDE_TOP_ARCHS = ("squeezenet1_0", "squeezenet1_1")

# Architectures whose final Linear layer has no bias.
NO_BIAS_CLASSIFIER_ARCHS = ("maxvit_t",)

_LOSS = {"type": "CrossEntropyLoss", "loss_weight": 1.0}
_TOPK = (1, 5)

#: torchvision RegNets that are mmcls's (pycls's) architecture too; torchvision's regnet_x_400mf is not
#: (its generator rounds the last stage to 400 channels, pycls's to 384)
_REGNET_MMCLS_NAMES = {
    "regnet_x_800mf": "regnetx_800mf",
    "regnet_x_1_6gf": "regnetx_1.6gf",
    "regnet_x_3_2gf": "regnetx_3.2gf",
    "regnet_x_8gf": "regnetx_8.0gf",
}
_CONVNEXT_ARCHS = {"convnext_tiny": "tiny", "convnext_small": "small", "convnext_base": "base",
                   "convnext_large": "large"}
_SWIN_ARCHS = {"swin_t": "tiny", "swin_s": "small", "swin_b": "base"}
# torchvision's stochastic-depth rates (mmcls's drop_path_rate) for the archs spelled the mmcls way.
_DROP_PATH_RATES = {"convnext_tiny": 0.1, "convnext_small": 0.4, "convnext_base": 0.5, "convnext_large": 0.5,
                    "swin_t": 0.2, "swin_s": 0.3, "swin_b": 0.5}
_VIT_ARCHS = {"vit_b_16": ("b", 16), "vit_b_32": ("b", 32), "vit_l_16": ("l", 16), "vit_l_32": ("l", 32),
              "vit_h_14": ("h", 14)}
_RESNEXT_ARCHS = {"resnext50_32x4d": (50, 32, 4), "resnext101_32x8d": (101, 32, 8),
                  "resnext101_64x4d": (101, 64, 4)}
_MOBILENET_V3_HEADS = {"mobilenet_v3_small": ("small", 576, 1024), "mobilenet_v3_large": ("large", 960, 1280)}


def all_torchvision_archs() -> list[str]:
    """Every ImageNet-1k classification architecture torchvision provides (sorted names)."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def torchvision_weights_kwargs(arch: str, weights: str | None = None) -> dict[str, Any]:
    """Builder keyword arguments torchvision sets when it builds ``arch`` with ``weights``.

    ``weights`` is a weights-enum member name such as ``'IMAGENET1K_V1'`` (``None``: the
    arch's DEFAULT weights).  Only arguments that change the architecture are returned
    (``num_classes`` aside): ``transform_input`` for GoogLeNet/Inception-v3, ``image_size``
    for ViTs (SWAG weights use larger inputs).
    """
    try:
        enum = torchvision.models.get_model_weights(arch)
    except (ValueError, KeyError) as exc:
        raise BuildError(f"torchvision has no architecture {arch!r}",
                         hint=did_you_mean(arch, all_torchvision_archs())) from exc
    if weights is None:
        member = enum.DEFAULT
    else:
        name = weights.split(".")[-1]
        if name == "DEFAULT":
            member = enum.DEFAULT
        elif name in enum.__members__:
            member = enum[name]
        else:
            names = list(enum.__members__)
            raise BuildError(f"torchvision arch {arch!r} has no weights {weights!r}; it has: {', '.join(names)}",
                             hint=did_you_mean(name, names))
    kwargs: dict[str, Any] = {}
    if arch in ("googlenet", "inception_v3"):
        kwargs["transform_input"] = True
    if arch.startswith("vit_"):
        size = member.meta["min_size"][0]
        if size != 224:
            kwargs["image_size"] = size
    return kwargs


def model_config_for_arch(arch: str, num_classes: int = 1000, weights: str | None = None) -> dict:
    """The ``model=dict(...)`` config of minim's classifier for torchvision architecture ``arch``.

    The config builds a model into which torchvision's checkpoint for ``weights`` (a weights
    enum member name, default: the arch's DEFAULT weights) loads with equal outputs.
    """
    if arch not in TORCHVISION_FEATURE_DIMS:
        known = sorted(TORCHVISION_FEATURE_DIMS)
        if arch not in all_torchvision_archs():
            raise BuildError(f"unknown torchvision architecture {arch!r}", hint=did_you_mean(arch, known))
    if not isinstance(num_classes, int) or num_classes <= 0:
        raise BuildError(f"num_classes must be a positive int, got {num_classes!r}")
    extra = torchvision_weights_kwargs(arch, weights)
    backbone, head = _backbone_and_head(arch, num_classes, extra)
    neck = None if head["type"] in ("ClsHead", "VisionTransformerClsHead") else {"type": "GlobalAveragePooling"}
    head.setdefault("loss", copy.deepcopy(_LOSS))
    head.setdefault("topk", _TOPK)
    return {"type": "ImageClassifier", "backbone": backbone, "neck": neck, "head": head}


def _linear_head(num_classes: int, in_channels: int) -> dict:
    return {"type": "LinearClsHead", "num_classes": num_classes, "in_channels": in_channels}


def _backbone_and_head(arch: str, num_classes: int, extra: dict[str, Any]) -> tuple[dict, dict]:
    """The backbone and head configs, in the mmcls spelling where it is exact."""
    dim = TORCHVISION_FEATURE_DIMS.get(arch)
    match = re.fullmatch(r"resnet(\d+)", arch)
    if match:
        backbone = {"type": "ResNet", "depth": int(match.group(1)), "num_stages": 4, "out_indices": (3,),
                    "style": "pytorch"}
        return backbone, _linear_head(num_classes, dim)
    if arch in _RESNEXT_ARCHS:
        depth, groups, width = _RESNEXT_ARCHS[arch]
        backbone = {"type": "ResNeXt", "depth": depth, "num_stages": 4, "out_indices": (3,),
                    "groups": groups, "width_per_group": width, "style": "pytorch"}
        return backbone, _linear_head(num_classes, dim)
    if arch == "mobilenet_v2":
        return {"type": "MobileNetV2", "widen_factor": 1.0}, _linear_head(num_classes, dim)
    if arch in _MOBILENET_V3_HEADS:
        size, in_channels, mid = _MOBILENET_V3_HEADS[arch]
        head = {"type": "StackedLinearClsHead", "num_classes": num_classes, "in_channels": in_channels,
                "mid_channels": [mid], "dropout_rate": 0.2, "act_cfg": {"type": "HSwish"}}
        return {"type": "MobileNetV3", "arch": size}, head
    match = re.fullmatch(r"vgg(\d+)(_bn)?", arch)
    if match:
        backbone = {"type": "VGG", "depth": int(match.group(1)), "num_classes": num_classes}
        if match.group(2):
            backbone["norm_cfg"] = {"type": "BN"}
        return backbone, {"type": "ClsHead"}
    match = re.fullmatch(r"shufflenet_v2_x(\d)_(\d)", arch)
    if match:
        widen = float(f"{match.group(1)}.{match.group(2)}")
        return {"type": "ShuffleNetV2", "widen_factor": widen}, _linear_head(num_classes, dim)
    if arch in _REGNET_MMCLS_NAMES:
        return {"type": "RegNet", "arch": _REGNET_MMCLS_NAMES[arch]}, _linear_head(num_classes, dim)
    match = re.fullmatch(r"densenet(\d+)", arch)
    if match:
        return {"type": "DenseNet", "arch": match.group(1)}, _linear_head(num_classes, dim)
    if arch in _CONVNEXT_ARCHS:
        backbone = {"type": "ConvNeXt", "arch": _CONVNEXT_ARCHS[arch], "drop_path_rate": _DROP_PATH_RATES[arch]}
        return backbone, _linear_head(num_classes, dim)
    if arch in _SWIN_ARCHS:
        backbone = {"type": "SwinTransformer", "arch": _SWIN_ARCHS[arch], "img_size": 224,
                    "drop_path_rate": _DROP_PATH_RATES[arch]}
        return backbone, _linear_head(num_classes, dim)
    if arch in _VIT_ARCHS:
        size, patch = _VIT_ARCHS[arch]
        backbone = {"type": "VisionTransformer", "arch": size, "img_size": extra.get("image_size", 224),
                    "patch_size": patch}
        head = {"type": "VisionTransformerClsHead", "num_classes": num_classes, "in_channels": dim}
        return backbone, head
    backbone: dict[str, Any] = {"type": "TorchvisionBackbone", "arch": arch}
    backbone.update(extra)
    if arch in INCLUDE_TOP_ARCHS:
        backbone.update(include_top=True, num_classes=num_classes)
        return backbone, {"type": "ClsHead"}
    if dim is None:
        dim = _feature_dim_of_unknown_arch(arch, extra)
    head = _linear_head(num_classes, dim)
    if arch in NO_BIAS_CLASSIFIER_ARCHS:
        head["bias"] = False
    return backbone, head


def _feature_dim_of_unknown_arch(arch: str, extra: dict[str, Any]) -> int:
    """Build a torchvision arch not in the table (a newer torchvision) to read its feature dim."""
    from minim.cls.models.backbones.torchvision_backbone import (  # lazy: cycle with backbones.torchvision_backbone
        TorchvisionBackbone,
    )

    return TorchvisionBackbone(arch=arch, **extra).feature_dim
