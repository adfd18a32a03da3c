"""Model side of the cls engine: registries, backbones, heads, losses, augments, classifier API."""

from __future__ import annotations

import warnings

import pytest
import torch

from minim.cls.models import BACKBONES, CLASSIFIERS, HEADS, LOSSES, NECKS, build_classifier
from minim.cls.models.zoo import model_config_for_arch
from minim.errors import BuildError

torch.set_num_threads(1)


def resnet18_cfg(num_classes=10, **head):
    head_cfg = dict(type="LinearClsHead", num_classes=num_classes, in_channels=512,
                    loss=dict(type="CrossEntropyLoss", loss_weight=1.0), topk=(1, 5))
    head_cfg.update(head)
    return dict(type="ImageClassifier",
                backbone=dict(type="ResNet", depth=18, num_stages=4, out_indices=(3,), style="pytorch"),
                neck=dict(type="GlobalAveragePooling"), head=head_cfg)


def small_input(n=2, size=32):
    return torch.randn(n, 3, size, size)


# ----------------------------------------------------------------------------- registries / errors
def test_registries_hold_the_mmcls_names():
    for name in ("ResNet", "ResNet_CIFAR", "ResNeXt", "MobileNetV2", "MobileNetV3", "VGG", "ShuffleNetV2",
                 "RegNet", "DenseNet", "ConvNeXt", "SwinTransformer", "VisionTransformer", "TorchvisionBackbone",
                 "TIMMBackbone"):
        assert name in BACKBONES
    assert "GlobalAveragePooling" in NECKS
    for name in ("ClsHead", "LinearClsHead", "StackedLinearClsHead", "VisionTransformerClsHead"):
        assert name in HEADS
    assert {"CrossEntropyLoss", "LabelSmoothLoss"} <= set(LOSSES.names())
    assert "ImageClassifier" in CLASSIFIERS


def test_unknown_backbone_type_lists_registered_and_suggests():
    cfg = resnet18_cfg()
    cfg["backbone"] = dict(type="ResNett", depth=18)
    with pytest.raises(BuildError) as info:
        build_classifier(cfg)
    assert "ResNet" in str(info.value) and "MobileNetV2" in info.value.message
    assert "ResNet" in (info.value.hint or "")


def test_unsupported_mmcls_argument_value_is_named():
    cfg = resnet18_cfg()
    cfg["backbone"]["style"] = "tensorflow"
    with pytest.raises(BuildError, match="style='tensorflow'"):
        build_classifier(cfg)
    cfg = resnet18_cfg()
    cfg["backbone"].update(type="ResNet_CIFAR", deep_stem=True)
    with pytest.raises(BuildError, match="deep_stem"):
        build_classifier(cfg)


def test_unknown_argument_is_named_with_suggestion():
    cfg = resnet18_cfg()
    cfg["backbone"]["frozen_stage"] = 1
    with pytest.raises(BuildError, match="frozen_stage") as info:
        build_classifier(cfg)
    assert "frozen_stages" in (info.value.hint or "")


def test_an_architecture_option_minim_lacks_is_refused_not_ignored():
    with pytest.raises(BuildError, match="act_cfg=.*ReLU.* is not supported"):
        BACKBONES.build(dict(type="ConvNeXt", arch="tiny", act_cfg=dict(type="ReLU")))


def test_mmcls_wide_resnet_is_torchvisions_wide_resnet():
    import torchvision

    with torch.device("meta"):
        wide = BACKBONES.build(dict(type="ResNet", depth=50, base_channels=128, expansion=2))
        reference = torchvision.models.wide_resnet50_2()
    ours = {k: tuple(v.shape) for k, v in wide.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    assert ours == theirs  # same names and shapes: mmcls and torchvision wide-ResNet checkpoints load
    assert BACKBONES.build(dict(type="ResNet", depth=18, expansion=1)).depth == 18  # the default, spelt out
    assert BACKBONES.build(dict(type="ResNet", depth=50, base_channels=128)).feature_dim == 4096  # mmcls's rule


def test_bad_depth_lists_the_depths():
    with pytest.raises(BuildError, match="18, 34, 50, 101, 152"):
        BACKBONES.build(dict(type="ResNet", depth=20))


def test_head_in_channels_must_fit_backbone():
    cfg = dict(type="ImageClassifier", backbone=dict(type="MobileNetV2", widen_factor=1.0),
               neck=dict(type="GlobalAveragePooling"),
               head=dict(type="LinearClsHead", num_classes=10, in_channels=320))
    with pytest.raises(BuildError, match="in_channels=320") as info:
        build_classifier(cfg)
    assert "1280" in info.value.hint


def test_num_classes_must_be_positive():
    with pytest.raises(BuildError, match="num_classes"):
        build_classifier(resnet18_cfg(num_classes=0))


def test_build_classifier_accepts_a_config_object():
    from minim.config import Config

    cfg = Config.from_dict({"model": resnet18_cfg()})
    model = build_classifier(cfg.model)
    assert model.num_classes == 10


# ----------------------------------------------------------------------------- classifier API
def test_classifier_api():
    torch.manual_seed(0)
    model = build_classifier(resnet18_cfg(num_classes=7))
    assert model.num_classes == 7 and model.CLASSES is None and model.head.topk == (1, 5)
    img = small_input()
    logits = model(img)
    assert logits.shape == (2, 7)
    losses = model.forward_train(img, torch.tensor([1, 3]))
    assert set(losses) == {"loss"} and losses["loss"].dim() == 0
    losses["loss"].backward()
    model.eval()
    with torch.no_grad():
        scores = model.forward_test(img)
    assert scores.shape == (2, 7)
    assert torch.allclose(scores.sum(dim=1), torch.ones(2))
    assert torch.allclose(scores, torch.softmax(model(img), dim=1))
    assert model.extract_feat(img).shape == (2, 512)
    assert model.extract_feat(img, stage="backbone").shape == (2, 512, 1, 1)  # mmcls's feature map
    with pytest.raises(ValueError):
        model.extract_feat(img, stage="nope")


def test_state_dict_keys_follow_mmcls_layout():
    keys = list(build_classifier(resnet18_cfg()).state_dict())
    assert keys[0] == "backbone.conv1.weight"
    assert keys[-2:] == ["head.fc.weight", "head.fc.bias"]
    assert not any(k.startswith("backbone.fc") for k in keys)


def test_topk_above_the_class_count_is_dropped_not_a_crash():
    # the metrics warn once about it (tests/test_cls_metrics.py); the head follows the same rule quietly
    model = build_classifier(resnet18_cfg(num_classes=3, cal_acc=True))
    out = model.forward_train(small_input(), torch.tensor([0, 2]))
    assert model.head.topk == (1,)
    assert set(out["accuracy"]) == {"top-1"}


def test_topk_is_dropped_for_a_logits_head():
    model = build_classifier(model_config_for_arch("squeezenet1_1", num_classes=2))
    assert model.head.topk == (1,) and model.num_classes == 2


def test_cal_acc_reports_percentages():
    model = build_classifier(resnet18_cfg(num_classes=10, cal_acc=True, topk=(1, 5)))
    out = model.forward_train(small_input(), torch.tensor([0, 1]))
    assert set(out["accuracy"]) == {"top-1", "top-5"}
    assert 0 <= float(out["accuracy"]["top-5"]) <= 100


def test_bad_topk_is_a_build_error():
    with pytest.raises(BuildError, match="topk"):
        build_classifier(resnet18_cfg(topk=(0,)))


# ----------------------------------------------------------------------------- backbones
def test_resnet_frozen_stages_and_norm_eval():
    cfg = resnet18_cfg()
    cfg["backbone"].update(frozen_stages=1, norm_eval=True)
    model = build_classifier(cfg)
    model.train()
    backbone = model.backbone
    assert not backbone.conv1.weight.requires_grad and not backbone.layer1[0].conv1.weight.requires_grad
    assert backbone.layer2[0].conv1.weight.requires_grad
    assert not backbone.bn1.training and not backbone.layer1[0].bn1.training
    assert not backbone.layer4[0].bn1.training  # norm_eval keeps every BN in eval mode
    assert backbone.layer4[0].conv1.training


def test_resnet_frozen_stages_out_of_range():
    cfg = resnet18_cfg()
    cfg["backbone"]["frozen_stages"] = 5
    with pytest.raises(BuildError, match="frozen_stages"):
        build_classifier(cfg)


def test_mobilenet_v2_frozen_stages_follow_mmcls_stages():
    backbone = BACKBONES.build(dict(type="MobileNetV2", frozen_stages=2))
    backbone.train()
    for index in (0, 1, 2, 3):  # conv1, layer1 (features.1), layer2 (features.2-3)
        assert not any(p.requires_grad for p in backbone.features[index].parameters())
        assert not backbone.features[index].training
    assert all(p.requires_grad for p in backbone.features[4].parameters())
    assert backbone.features[4].training


def test_mmcls_mobilenet_v2_has_no_dropout_unlike_torchvisions_classifier():
    backbone = BACKBONES.build(dict(type="MobileNetV2"))
    assert not [m for m in backbone.modules() if isinstance(m, torch.nn.Dropout)]
    torchvision_arch = BACKBONES.build(dict(type="TorchvisionBackbone", arch="mobilenet_v2"))
    assert [m.p for m in torchvision_arch.modules() if isinstance(m, torch.nn.Dropout)] == [0.2]


def test_norm_cfg_requires_grad_false_freezes_bn():
    backbone = BACKBONES.build(dict(type="ResNet", depth=18, norm_cfg=dict(type="BN", requires_grad=False)))
    assert not backbone.bn1.weight.requires_grad and backbone.conv1.weight.requires_grad


def test_resnet_cifar_has_small_stem():
    backbone = BACKBONES.build(dict(type="ResNet_CIFAR", depth=18))
    assert backbone.conv1.kernel_size == (3, 3) and backbone.conv1.stride == (1, 1)
    assert backbone(small_input(1, 32)).shape == (1, 512, 4, 4)


def test_resnext_matches_torchvision_resnext50():
    import torchvision

    ours = BACKBONES.build(dict(type="ResNeXt", depth=50, groups=32, width_per_group=4))
    ref = torchvision.models.resnext50_32x4d()
    ref_shapes = {k: v.shape for k, v in ref.state_dict().items() if not k.startswith("fc.")}
    assert {k: v.shape for k, v in ours.state_dict().items()} == ref_shapes


def test_torchvision_backbone_records_final_layer():
    backbone = BACKBONES.build(dict(type="TorchvisionBackbone", arch="convnext_tiny"))
    assert backbone.final_layer == "classifier.2" and backbone.feature_dim == 768
    assert backbone.head_layers == ("classifier.2",)
    assert backbone(small_input(1)).shape == (1, 768)


def test_torchvision_backbone_unknown_arch_suggests():
    with pytest.raises(BuildError, match="resnet51") as info:
        BACKBONES.build(dict(type="TorchvisionBackbone", arch="resnet51"))
    assert "resnet" in info.value.hint


def test_torchvision_backbone_rejects_weights_and_bad_kwargs():
    with pytest.raises(BuildError, match="weights"):
        BACKBONES.build(dict(type="TorchvisionBackbone", arch="resnet18", weights="DEFAULT"))
    with pytest.raises(BuildError, match="frozen_stages"):
        BACKBONES.build(dict(type="TorchvisionBackbone", arch="resnet18", frozen_stages=1))


def test_include_top_backbone_pairs_with_cls_head():
    model = build_classifier(model_config_for_arch("squeezenet1_0", num_classes=10))
    assert model.num_classes == 10 and model.backbone.feature_dim is None
    assert model(small_input(1)).shape == (1, 10)
    wrong = model_config_for_arch("squeezenet1_0", num_classes=10)
    wrong["head"] = dict(type="LinearClsHead", num_classes=10, in_channels=512)
    with pytest.raises(BuildError, match="ClsHead"):
        build_classifier(wrong)


def test_vgg_with_and_without_classifier():
    top = BACKBONES.build(dict(type="VGG", depth=11, num_classes=4))
    assert top.num_classes == 4 and top(small_input(1)).shape == (1, 4)
    trunk = BACKBONES.build(dict(type="VGG", depth=11, norm_cfg=dict(type="BN")))
    assert hasattr(trunk.features[0], "bn") and trunk(small_input(1, 64)).shape == (1, 512, 2, 2)


def test_mobilenet_v3_with_stacked_head():
    model = build_classifier(model_config_for_arch("mobilenet_v3_small", num_classes=5)).eval()
    assert [k for k in model.state_dict() if k.startswith("head.")] == [
        "head.layers.0.fc.weight", "head.layers.0.fc.bias", "head.layers.1.fc.weight", "head.layers.1.fc.bias"]
    assert model(small_input(1)).shape == (1, 5)
    assert model.extract_feat(small_input(1), stage="pre_logits").shape == (1, 1024)


def test_wrapped_backbone_moves_and_copies_with_its_tensors():
    import copy

    backbone = BACKBONES.build(dict(type="TorchvisionBackbone", arch="vit_b_16", image_size=32))
    clone = copy.deepcopy(backbone)
    assert clone.class_token is clone.wrapped_model.class_token
    assert clone.class_token is not backbone.class_token
    backbone.double()
    assert backbone.wrapped_model.class_token.dtype == torch.float64
    assert backbone(small_input(1).double()).shape == (1, 768)


def test_swin_drop_path_rate_rises_linearly_over_the_blocks():
    from timm.layers import DropPath

    backbone = BACKBONES.build(dict(type="SwinTransformer", arch="tiny", drop_path_rate=0.3))
    probs = [m.drop_prob for m in backbone.modules() if isinstance(m, DropPath)]
    assert probs[0] == pytest.approx(0.3 / 11) and probs[-1] == pytest.approx(0.3)  # block 0 has none


def test_timm_backbone_builds_timm_model_without_its_classifier():
    backbone = BACKBONES.build(dict(type="TIMMBackbone", model_name="resnet18")).eval()
    assert backbone.head_layers == ("fc",) and backbone.feature_dim == 512
    assert backbone(small_input(1)).shape == (1, 512)


# ----------------------------------------------------------------------------- neck / heads
def test_global_average_pooling():
    neck = NECKS.build(dict(type="GlobalAveragePooling"))
    x = torch.randn(2, 8, 4, 4)
    assert torch.allclose(neck(x), x.mean(dim=(2, 3)))
    v = torch.randn(2, 8)
    assert neck(v) is v
    pooled = neck((x, x))
    assert isinstance(pooled, tuple) and pooled[1].shape == (2, 8)


def test_stacked_head_blocks_and_keys():
    head = HEADS.build(dict(type="StackedLinearClsHead", num_classes=3, in_channels=8, mid_channels=[6, 4],
                            dropout_rate=0.1, norm_cfg=dict(type="BN1d"), act_cfg=dict(type="HSwish")))
    keys = [k for k in head.state_dict() if k.endswith("weight")]
    assert keys == ["layers.0.fc.weight", "layers.0.norm.weight", "layers.1.fc.weight", "layers.1.norm.weight",
                    "layers.2.fc.weight"]
    head.eval()
    assert head(torch.randn(2, 8)).shape == (2, 3)
    assert isinstance(head.layers[0].act, torch.nn.Hardswish)


def test_vit_head_keys():
    head = HEADS.build(dict(type="VisionTransformerClsHead", num_classes=3, in_channels=8, hidden_dim=4))
    assert head.linear_layer_paths() == ["layers.pre_logits", "layers.head"]
    assert head(torch.randn(2, 8)).shape == (2, 3)


# ----------------------------------------------------------------------------- losses
def test_cross_entropy_hard_soft_sigmoid():
    torch.manual_seed(0)
    score = torch.randn(4, 5)
    label = torch.tensor([0, 1, 2, 3])
    ce = LOSSES.build(dict(type="CrossEntropyLoss", loss_weight=2.0))
    assert torch.allclose(ce(score, label), 2 * torch.nn.functional.cross_entropy(score, label))
    one_hot = torch.nn.functional.one_hot(label, 5).float()
    assert torch.allclose(ce(score, one_hot), ce(score, label))  # soft targets just work
    soft = LOSSES.build(dict(type="CrossEntropyLoss", use_soft=True))
    assert torch.allclose(soft(score, label), ce(score, label) / 2)
    sig = LOSSES.build(dict(type="CrossEntropyLoss", use_sigmoid=True))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(score, one_hot)
    assert torch.allclose(sig(score, label), expected)
    weighted = LOSSES.build(dict(type="CrossEntropyLoss", class_weight=[1, 2, 1, 1, 1]))
    per_sample = torch.nn.functional.cross_entropy(score, label, reduction="none") * torch.tensor([1, 2, 1, 1.])
    assert torch.allclose(weighted(score, label), per_sample.mean())
    smooth = LOSSES.build(dict(type="CrossEntropyLoss", label_smoothing=0.1))
    assert torch.allclose(smooth(score, label),
                          torch.nn.functional.cross_entropy(score, label, label_smoothing=0.1))
    with pytest.raises(BuildError):
        LOSSES.build(dict(type="CrossEntropyLoss", use_sigmoid=True, use_soft=True))


def test_label_smooth_loss_modes():
    torch.manual_seed(0)
    score = torch.randn(3, 4)
    label = torch.tensor([0, 1, 3])
    original = LOSSES.build(dict(type="LabelSmoothLoss", label_smooth_val=0.1, mode="original"))
    assert torch.allclose(original(score, label),
                          torch.nn.functional.cross_entropy(score, label, label_smoothing=0.1))
    classy = LOSSES.build(dict(type="LabelSmoothLoss", label_smooth_val=0.1, mode="classy_vision"))
    eps = 0.1 / 1.1
    assert torch.allclose(classy(score, label),
                          torch.nn.functional.cross_entropy(score, label, label_smoothing=eps))
    target = original.smooth_label(torch.tensor([1]), 4)
    assert torch.allclose(target, torch.tensor([[0.025, 0.925, 0.025, 0.025]]))
    multi = LOSSES.build(dict(type="LabelSmoothLoss", label_smooth_val=0.2, mode="multi_label"))
    assert torch.allclose(multi.smooth_label(torch.tensor([2]), 3), torch.tensor([[0.2, 0.2, 0.8]]))
    assert multi(score[:, :3], torch.tensor([0, 1, 2])).dim() == 0
    with pytest.raises(BuildError, match="mode"):
        LOSSES.build(dict(type="LabelSmoothLoss", label_smooth_val=0.1, mode="bogus"))
    with pytest.raises(BuildError, match="label_smooth_val"):
        LOSSES.build(dict(type="LabelSmoothLoss", label_smooth_val=1.5))
    fixed = LOSSES.build(dict(type="LabelSmoothLoss", label_smooth_val=0.1, num_classes=5))
    with pytest.raises(ValueError, match="num_classes"):
        fixed(score, label)


# ----------------------------------------------------------------------------- batch augments
def _mixing_cfg(augments):
    cfg = resnet18_cfg(num_classes=4, loss=dict(type="CrossEntropyLoss", loss_weight=1.0, use_soft=True), topk=(1,))
    cfg["train_cfg"] = dict(augments=augments)
    return cfg


def test_mixup_and_cutmix_produce_soft_labels():
    import numpy as np

    np.random.seed(0)
    torch.manual_seed(0)
    from minim.cls.models import AUGMENTS

    img = torch.randn(4, 3, 16, 16)
    label = torch.tensor([0, 1, 2, 3])
    for name in ("BatchMixup", "Mixup", "BatchCutMix", "CutMix"):
        aug = AUGMENTS.build(dict(type=name, alpha=1.0, num_classes=4))
        mixed, soft = aug(img, label)
        assert mixed.shape == img.shape and soft.shape == (4, 4)
        assert torch.allclose(soft.sum(dim=1), torch.ones(4))


def test_cutmix_lambda_matches_pasted_area():
    import numpy as np

    from minim.cls.models import AUGMENTS

    np.random.seed(3)
    torch.manual_seed(3)
    img = torch.zeros(2, 1, 10, 10)
    img[1] = 1.0
    aug = AUGMENTS.build(dict(type="BatchCutMix", alpha=1.0, num_classes=2))
    mixed, soft = aug(img, torch.tensor([0, 1]))
    pasted_into_first = float(mixed[0].mean())
    # the first image's label keeps (1 - pasted area) of class 0 unless it was paired with itself
    if soft[0, 1] > 0:
        assert soft[0, 1] == pytest.approx(pasted_into_first)


def test_train_cfg_augments_drive_forward_train():
    model = build_classifier(_mixing_cfg([dict(type="BatchMixup", alpha=0.8, num_classes=4, prob=0.5),
                                          dict(type="BatchCutMix", alpha=1.0, num_classes=4, prob=0.5)]))
    assert model.augments is not None and model.augments.identity_prob == 0
    loss = model.forward_train(small_input(4), torch.tensor([0, 1, 2, 3]))["loss"]
    assert torch.isfinite(loss)


def test_augment_probs_must_sum_to_at_most_one():
    with pytest.raises(BuildError, match="sum"):
        build_classifier(_mixing_cfg([dict(type="BatchMixup", alpha=0.8, num_classes=4, prob=0.7),
                                      dict(type="BatchCutMix", alpha=1.0, num_classes=4, prob=0.7)]))


def test_augment_num_classes_must_match_head():
    with pytest.raises(BuildError, match="num_classes=1000"):
        build_classifier(_mixing_cfg(dict(type="BatchMixup", alpha=0.8, num_classes=1000, prob=1.0)))


def test_augments_without_probs_pick_uniformly_and_default_num_classes():
    model = build_classifier(_mixing_cfg([dict(type="Mixup", alpha=0.8), dict(type="CutMix", alpha=1.0)]))
    assert model.augments.probs == [0.5, 0.5]
    assert all(aug.num_classes == 4 for aug in model.augments.augments)


def test_unknown_train_cfg_key_is_rejected():
    cfg = resnet18_cfg()
    cfg["train_cfg"] = dict(mixup=dict(alpha=0.2))
    with pytest.raises(BuildError, match="mixup"):
        build_classifier(cfg)


def test_identity_branch_returns_one_hot_labels():
    from minim.cls.models.augments import BatchAugments, BatchMixup

    augments = BatchAugments([BatchMixup(alpha=1.0, num_classes=3, prob=0.0)])
    img = torch.randn(2, 3, 4, 4)
    out_img, out_label = augments(img, torch.tensor([2, 0]))
    assert out_img is img
    assert torch.equal(out_label, torch.tensor([[0, 0, 1.0], [1.0, 0, 0]]))


# mmcls 0.25.0's RegNetX configs: arch -> head.in_channels
MMCLS_REGNETX_IN_CHANNELS = {"regnetx_400mf": 384, "regnetx_800mf": 672, "regnetx_1.6gf": 912, "regnetx_3.2gf": 1008,
                             "regnetx_4.0gf": 1360, "regnetx_6.4gf": 1624, "regnetx_8.0gf": 1920, "regnetx_12gf": 2240}


def test_regnet_widths_follow_pycls_and_mmcls():
    from minim.cls.models.backbones.regnet import _PYCLS_REGNETX, regnet_stages

    for arch, params in _PYCLS_REGNETX.items():
        assert regnet_stages(**params)[1][-1] == MMCLS_REGNETX_IN_CHANNELS[arch], arch
    # RegNetX-400MF as published: stages of 1, 2, 7, 12 blocks, 32..384 wide, 5.16 M parameters
    assert regnet_stages(**_PYCLS_REGNETX["regnetx_400mf"]) == ([1, 2, 7, 12], [32, 64, 160, 384], [16] * 4)
    model = build_classifier(dict(type="ImageClassifier", backbone=dict(type="RegNet", arch="regnetx_400mf"),
                                  neck=dict(type="GlobalAveragePooling"),
                                  head=dict(type="LinearClsHead", num_classes=1000, in_channels=384)))
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == 5.16
    assert model.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_regnet_arch_dicts_and_bad_archs():
    backbone = BACKBONES.build(dict(type="RegNet", arch=dict(w0=24, wa=24.48, wm=2.54, group_w=16, depth=22)))
    assert backbone.feature_dim == 384
    with pytest.raises(BuildError, match="unknown arch 'regnetx_400m'") as error:
        BACKBONES.build(dict(type="RegNet", arch="regnetx_400m"))
    assert "regnetx_400mf" in error.value.hint
    with pytest.raises(BuildError, match="missing group_w"):
        BACKBONES.build(dict(type="RegNet", arch=dict(w0=24, wa=24.48, wm=2.54, depth=22)))
    with pytest.raises(BuildError, match="w0 > 0 divisible by 8"):
        BACKBONES.build(dict(type="RegNet", arch=dict(w0=20, wa=24.48, wm=2.54, group_w=16, depth=22)))


def test_multi_label_linear_head_of_mmcls_mixup_configs():
    """resnet50_8xb32-mixup_in1k's head: soft-label CE on Mixup's targets, sigmoid scores at test time."""
    torch.manual_seed(0)
    cfg = resnet18_cfg(num_classes=4)
    cfg["head"] = dict(type="MultiLabelLinearClsHead", num_classes=4, in_channels=512,
                       loss=dict(type="CrossEntropyLoss", loss_weight=1.0, use_soft=True))
    cfg["train_cfg"] = dict(augments=dict(type="BatchMixup", alpha=0.2, num_classes=4, prob=1.0))
    model = build_classifier(cfg)
    assert list(model.state_dict())[-2:] == ["head.fc.weight", "head.fc.bias"]
    images, labels = small_input(4), torch.tensor([0, 1, 2, 3])
    loss = model.forward_train(images, labels)["loss"]
    assert torch.isfinite(loss) and loss.requires_grad
    logits = model.head(model.extract_feat(images))
    expected = -(torch.nn.functional.one_hot(labels, 4) * logits.log_softmax(1)).sum(1).mean().detach()  # one-hot
    assert float(model.head.loss(logits, labels)["loss"].detach()) == pytest.approx(float(expected), rel=1e-5)
    model.eval()
    with torch.no_grad():
        scores = model.forward_test(images)
        torch.testing.assert_close(scores, torch.sigmoid(model.head(model.extract_feat(images))))
