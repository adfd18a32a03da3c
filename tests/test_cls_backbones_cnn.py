"""mmcls's mobile and classic CNN backbones: EfficientNet, VGG, DenseNet, MobileNetV3, ShuffleNetV1/V2, LeNet5.

Their logits against the real mmcls are checked by ``test_cls_mmcls_small.py`` (recorded fixtures)
and ``scripts/check_mmcls_parity.py``; here: the options mmcls accepts (out_indices,
frozen_stages, norm_eval, with_cp, drop_path_rate) and the arguments minim refuses.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from minim.cls.models import BACKBONES, build_classifier
from minim.errors import BuildError

torch.set_num_threads(1)

SMALL_DENSENET = dict(type="DenseNet", arch=dict(growth_rate=8, depths=[2, 2, 2], init_channels=16))
SMALL_SHUFFLENET_V1 = dict(type="ShuffleNetV1", groups=2, widen_factor=0.25)


def frozen(module: nn.Module) -> bool:
    return not module.training and not any(p.requires_grad for p in module.parameters())


def trainable(module: nn.Module) -> bool:
    return module.training and all(p.requires_grad for p in module.parameters())


@pytest.mark.parametrize("cfg, shapes", [
    (dict(type="EfficientNet", arch="b0", out_indices=(2, 6)), [(24, 16), (1280, 2)]),
    (dict(type="EfficientNet", arch="es", act_cfg=dict(type="ReLU"), out_indices=(-1,)), [(1280, 2)]),
    (dict(type="MobileNetV3", arch="large", out_indices=(0, 16)), [(16, 32), (960, 2)]),
    (dict(SMALL_DENSENET, out_indices=(0, -1)), [(16, 8), (32, 4)]),
    (dict(type="ShuffleNetV2", widen_factor=0.5, out_indices=(0, 1, 2, 3)), [(48, 8), (96, 4), (192, 2), (1024, 2)]),
    (dict(SMALL_SHUFFLENET_V1, out_indices=(0, 2)), [(48, 8), (200, 2)]),
    (dict(type="VGG", depth=11, num_stages=3, dilations=(1, 1, 1), out_indices=(1, 2)), [(128, 16), (256, 8)]),
])
def test_out_indices_give_those_feature_maps(cfg, shapes):
    backbone = BACKBONES.build(cfg).eval()
    with torch.no_grad():
        outs = backbone(torch.randn(1, 3, 64, 64))
    outs = outs if isinstance(outs, tuple) else (outs,)
    assert [(o.shape[1], o.shape[2]) for o in outs] == shapes
    assert backbone.feature_dim == shapes[-1][0]


def test_vgg_with_classifier_outputs_logits_last_and_loads_torchvision_names():
    backbone = BACKBONES.build(dict(type="VGG", depth=11, num_classes=4, out_indices=(4,))).eval()
    features, logits = backbone(torch.randn(1, 3, 32, 32))
    assert features.shape == (1, 512, 1, 1) and logits.shape == (1, 4)
    assert backbone.num_classes == 4 and backbone.feature_dim is None
    assert backbone.plain_key_to_own("features.3.weight") == "features.2.conv.weight"  # conv, ReLU, pool, conv
    assert backbone.plain_key_to_own("classifier.6.bias") == "classifier.6.bias"
    assert backbone.plain_key_to_own("features.2.conv.weight") == "features.2.conv.weight"  # own keys stay


def test_lenet5_keeps_the_batch_dimension_of_a_single_image():
    model = build_classifier(dict(type="ImageClassifier", backbone=dict(type="LeNet5", num_classes=10),
                                  head=dict(type="ClsHead"))).eval()
    assert model(torch.randn(1, 1, 32, 32)).shape == (1, 10)  # mmcls's squeeze() would drop it
    assert BACKBONES.build(dict(type="LeNet5"))(torch.randn(2, 1, 32, 32)).shape == (2, 120, 1, 1)


@pytest.mark.parametrize("cfg, frozen_parts, trainable_parts", [
    (dict(type="VGG", depth=11, num_stages=3, dilations=(1, 1, 1), frozen_stages=2),
     lambda b: b.features[:4], lambda b: b.features[4:]),  # stages 0 and 1: conv, pool, conv, pool
    (dict(SMALL_DENSENET, frozen_stages=1), lambda b: [b.stages[0], b.transitions[0]],
     lambda b: [b.stem, b.stages[1], b.transitions[1]]),
    (dict(type="MobileNetV3", arch="small", frozen_stages=1), lambda b: [b.layer0, b.layer1],
     lambda b: [b.layer2, b.layer12]),
    (dict(type="EfficientNet", arch="b0", frozen_stages=2), lambda b: b.layers[:2], lambda b: b.layers[2:]),
    (dict(type="ShuffleNetV2", widen_factor=0.5, frozen_stages=1), lambda b: b.layers[:1], lambda b: b.layers[1:]),
    (dict(SMALL_SHUFFLENET_V1, frozen_stages=2), lambda b: b.layers[:2], lambda b: b.layers[2:]),
])
def test_frozen_stages_freeze_what_mmcls_freezes(cfg, frozen_parts, trainable_parts):
    backbone = BACKBONES.build(cfg).train()
    assert all(frozen(m) for m in frozen_parts(backbone))
    assert all(trainable(m) for m in trainable_parts(backbone))


@pytest.mark.parametrize("cfg", [dict(type="ShuffleNetV2", widen_factor=0.5), SMALL_SHUFFLENET_V1])
def test_shufflenet_frozen_stages_freeze_the_stem_weights_but_not_its_statistics(cfg):
    backbone = BACKBONES.build(dict(cfg, frozen_stages=0)).train()
    assert not any(p.requires_grad for p in backbone.conv1.parameters()) and backbone.conv1.training
    assert trainable(backbone.layers[0])


def test_norm_eval_keeps_batch_norms_in_eval_mode():
    backbone = BACKBONES.build(dict(type="MobileNetV3", arch="small", norm_eval=True)).train()
    norms = [m for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms) and backbone.layer1.training


@pytest.mark.parametrize("cfg", [dict(SMALL_SHUFFLENET_V1, with_cp=True),
                                 dict(type="ShuffleNetV2", widen_factor=0.5, with_cp=True),
                                 dict(SMALL_DENSENET, memory_efficient=True)])
def test_checkpointing_gives_the_same_gradients(cfg):
    torch.manual_seed(0)
    checkpointed = BACKBONES.build(cfg)
    plain = BACKBONES.build({k: v for k, v in cfg.items() if k not in ("with_cp", "memory_efficient")})
    plain.load_state_dict(checkpointed.state_dict())
    img = torch.randn(2, 3, 32, 32)
    grads = []
    for model in (checkpointed, plain):
        model.eval()
        model(img).sum().backward()
        grads.append([p.grad for p in model.parameters()])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))


def test_efficientnet_drop_path_grows_to_the_rate_and_pads_the_tensorflow_way():
    from timm.layers import Conv2dSame, DropPath

    backbone = BACKBONES.build(dict(type="EfficientNet", arch="b0", drop_path_rate=0.2))
    rates = [m.drop_prob for m in backbone.modules() if isinstance(m, DropPath)]
    assert rates[-1] == pytest.approx(0.2) and rates == sorted(rates)
    assert isinstance(backbone.layers[0].conv, Conv2dSame)
    plain = BACKBONES.build(dict(type="EfficientNet", arch="b0", conv_cfg=None))
    assert type(plain.layers[0].conv) is nn.Conv2d and plain.layers[0].conv.padding == (1, 1)


@pytest.mark.parametrize("arch, blocks, widths", [
    ("b0", [1, 2, 2, 6, 5], [16, 24, 40, 112, 320]),  # as mmcls 0.25 builds them
    ("b3", [2, 3, 3, 10, 8], [24, 32, 48, 136, 384]),
    ("b8", [4, 8, 8, 22, 19], [32, 56, 88, 248, 704]),
    ("em", [2, 3, 5, 11, 3], [24, 32, 48, 144, 192]),
    ("el", [2, 3, 6, 13, 3], [32, 40, 56, 176, 232]),
])
def test_efficientnet_compound_scaling_matches_mmcls(arch, blocks, widths):
    from minim.cls.models.backbones.efficientnet import scaled_layers

    layers = scaled_layers(arch)[1:-1]
    assert [len(layer) for layer in layers] == blocks
    assert [layer[-1][1] for layer in layers] == widths


@pytest.mark.parametrize("cfg, message", [
    (dict(type="EfficientNet", arch="b9"), "arch='b9'"),
    (dict(type="EfficientNet", depth=50), "depth"),
    (dict(type="EfficientNet", conv_cfg=dict(type="DCN")), "conv_cfg"),
    (dict(type="EfficientNet", out_indices=(7,)), "out_indices"),
    (dict(type="EfficientNet", frozen_stages=8), "frozen_stages"),
    (dict(type="VGG", depth=12), "depth 12"),
    (dict(type="VGG", depth=11, num_stages=3), "num_stages"),
    (dict(type="VGG", depth=11, out_indices=(5,)), "out_indices"),
    (dict(type="DenseNet", arch="100"), "arch='100'"),
    (dict(type="DenseNet", arch=dict(depths=[2])), "custom arch"),
    (dict(type="DenseNet", act_cfg=dict(type="PReLU")), "act_cfg"),
    (dict(type="MobileNetV3", arch="medium"), "arch='medium'"),
    (dict(type="MobileNetV3", out_indices=(13,)), "out_indices"),
    (dict(type="MobileNetV3", frozen_stages=13), "frozen_stages"),
    (dict(type="ShuffleNetV2", widen_factor=0.75), "widen_factor"),
    (dict(type="ShuffleNetV2", frozen_stages=4), "frozen_stages"),
    (dict(type="ShuffleNetV1", groups=5), "groups=5"),
    (dict(type="ShuffleNetV1", out_indices=(3,)), "out_indices"),
    (dict(type="ShuffleNetV1", norm_cfg=dict(type="XN")), "XN"),
])
def test_bad_arguments_are_build_errors(cfg, message):
    with pytest.raises(BuildError, match=message):
        BACKBONES.build(cfg)


@pytest.mark.parametrize("arch", ["vgg11_bn", "densenet121", "mobilenet_v3_small", "shufflenet_v2_x0_5"])
def test_minim_checkpoints_with_torchvision_names_still_load(arch):
    """Before these backbones used mmcls's names, minim saved torchvision's under ``backbone.``."""
    import torchvision

    from minim.cls.checkpoint import convert_state_dict
    from minim.cls.models.zoo import model_config_for_arch

    with torch.device("meta"):
        model = build_classifier(model_config_for_arch(arch))
        reference = torchvision.models.get_model(arch).state_dict()
    own = convert_state_dict(model, reference)  # a plain torchvision checkpoint
    head = {key: value for key, value in own.items() if key.startswith("head.")}
    earlier = {f"backbone.{key}": value for key, value in reference.items()
               if f"backbone.{model.backbone.plain_key_to_own(key)}" in own}
    assert sorted(convert_state_dict(model, {**earlier, **head})) == sorted(own) == sorted(model.state_dict())
