"""minim.cls.models.zoo: the model config of every torchvision ImageNet-1k architecture."""

from __future__ import annotations

import pytest

from minim.cls.models.zoo import (
    TORCHVISION_FEATURE_DIMS,
    all_torchvision_archs,
    model_config_for_arch,
    torchvision_weights_kwargs,
)
from minim.errors import BuildError


def test_all_torchvision_archs_are_known():
    archs = all_torchvision_archs()
    assert len(archs) >= 80 and archs == sorted(archs)
    assert set(TORCHVISION_FEATURE_DIMS) <= set(archs)
    assert {"resnet18", "mobilenet_v2", "vit_h_14", "squeezenet1_0", "maxvit_t"} <= set(archs)


@pytest.mark.parametrize("arch", sorted(TORCHVISION_FEATURE_DIMS))
def test_every_arch_has_a_complete_config(arch):
    cfg = model_config_for_arch(arch, num_classes=10)
    assert cfg["type"] == "ImageClassifier" and set(cfg) == {"type", "backbone", "neck", "head"}
    head = cfg["head"]
    assert head["loss"] == {"type": "CrossEntropyLoss", "loss_weight": 1.0} and head["topk"] == (1, 5)
    if head["type"] == "ClsHead":
        assert cfg["backbone"]["num_classes"] == 10 and cfg["neck"] is None
    else:
        assert head["num_classes"] == 10 and isinstance(head["in_channels"], int)


@pytest.mark.parametrize("arch, backbone", [
    ("resnet50", dict(type="ResNet", depth=50, num_stages=4, out_indices=(3,), style="pytorch")),
    ("resnext101_32x8d", dict(type="ResNeXt", depth=101, num_stages=4, out_indices=(3,), groups=32,
                              width_per_group=8, style="pytorch")),
    ("mobilenet_v2", dict(type="MobileNetV2", widen_factor=1.0)),
    ("mobilenet_v3_large", dict(type="MobileNetV3", arch="large")),
    ("shufflenet_v2_x1_5", dict(type="ShuffleNetV2", widen_factor=1.5)),
    ("vgg16_bn", dict(type="VGG", depth=16, num_classes=1000, norm_cfg=dict(type="BN"))),
    ("regnet_x_1_6gf", dict(type="RegNet", arch="regnetx_1.6gf")),
    ("densenet161", dict(type="DenseNet", arch="161")),
    ("convnext_tiny", dict(type="ConvNeXt", arch="tiny", drop_path_rate=0.1)),
    ("swin_s", dict(type="SwinTransformer", arch="small", img_size=224, drop_path_rate=0.3)),
    ("vit_b_16", dict(type="VisionTransformer", arch="b", img_size=224, patch_size=16)),
    ("efficientnet_b3", dict(type="TorchvisionBackbone", arch="efficientnet_b3")),
    ("googlenet", dict(type="TorchvisionBackbone", arch="googlenet", transform_input=True)),
    ("inception_v3", dict(type="TorchvisionBackbone", arch="inception_v3", transform_input=True)),
    ("squeezenet1_0", dict(type="TorchvisionBackbone", arch="squeezenet1_0", include_top=True, num_classes=1000)),
    ("regnet_y_400mf", dict(type="TorchvisionBackbone", arch="regnet_y_400mf")),
])
def test_mmcls_spelling_where_exact(arch, backbone):
    assert model_config_for_arch(arch)["backbone"] == backbone


def test_heads_of_special_archs():
    mbv3 = model_config_for_arch("mobilenet_v3_small")["head"]
    assert mbv3["type"] == "StackedLinearClsHead" and mbv3["in_channels"] == 576 and mbv3["mid_channels"] == [1024]
    assert mbv3["act_cfg"] == {"type": "HSwish"} and mbv3["dropout_rate"] == 0.2
    vit = model_config_for_arch("vit_l_32")
    assert vit["head"]["type"] == "VisionTransformerClsHead" and vit["head"]["in_channels"] == 1024
    assert vit["neck"] is None
    assert model_config_for_arch("maxvit_t")["head"]["bias"] is False
    assert model_config_for_arch("resnet18")["head"]["in_channels"] == 512


def test_weights_change_the_architecture_where_torchvision_does():
    assert torchvision_weights_kwargs("vit_b_16") == {}
    assert torchvision_weights_kwargs("vit_b_16", "IMAGENET1K_SWAG_E2E_V1") == {"image_size": 384}
    assert torchvision_weights_kwargs("vit_h_14") == {"image_size": 518}  # DEFAULT is SWAG E2E
    assert torchvision_weights_kwargs("vit_h_14", "ViT_H_14_Weights.IMAGENET1K_SWAG_LINEAR_V1") == {}
    assert model_config_for_arch("vit_l_16", weights="IMAGENET1K_SWAG_E2E_V1")["backbone"]["img_size"] == 512
    assert torchvision_weights_kwargs("resnet50", "IMAGENET1K_V2") == {}


def test_bad_inputs_are_build_errors():
    with pytest.raises(BuildError, match="resnet5") as info:
        model_config_for_arch("resnet5")
    assert "resnet" in info.value.hint
    with pytest.raises(BuildError, match="num_classes"):
        model_config_for_arch("resnet18", num_classes=0)
    with pytest.raises(BuildError, match="IMAGENET1K_V3") as info:
        model_config_for_arch("resnet50", weights="IMAGENET1K_V3")
    assert "IMAGENET1K_V2" in info.value.message
