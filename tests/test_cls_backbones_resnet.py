"""The ResNet group (ResNet, ResNet_CIFAR, ResNeXt, ResNetV1c/d, SEResNet/SEResNeXt, Res2Net, ResNeSt, RegNet,
CSP nets) and the CSRA head: mmcls's options, as mmcls applies them (numerics: test_cls_mmcls_small.py)."""

from __future__ import annotations

import pytest
import torch
from timm.layers import DropPath

from minim.cls.models import build_classifier
from minim.cls.models.registry import BACKBONES, HEADS
from minim.errors import BuildError

SMALL = dict(stem_channels=8, base_channels=4)


def build(**cfg):
    return BACKBONES.build(cfg)


def frozen(module: torch.nn.Module) -> bool:
    return not module.training and not any(p.requires_grad for p in module.parameters())


def test_out_indices_give_each_stage_map_and_the_last_sets_feature_dim():
    backbone = build(type="ResNet", depth=18, out_indices=(0, 1, 2, 3), **SMALL).eval()
    shapes = [tuple(out.shape) for out in backbone(torch.randn(1, 3, 64, 64))]
    assert shapes == [(1, 4, 16, 16), (1, 8, 8, 8), (1, 16, 4, 4), (1, 32, 2, 2)]
    assert build(type="ResNet", depth=18, out_indices=(-2,), **SMALL).feature_dim == 16
    with pytest.raises(BuildError, match="out_indices"):
        build(type="ResNet", depth=18, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), **SMALL)


@pytest.mark.parametrize("cfg, stem", [
    (dict(type="ResNet", depth=18), ["conv1", "bn1"]),
    (dict(type="ResNetV1d", depth=50), ["stem"]),
    (dict(type="RegNet", arch=dict(w0=8, wa=8.0, wm=2.0, group_w=4, depth=4), strides=(2, 2, 2),
          dilations=(1, 1, 1), out_indices=(2,)), ["conv1", "bn1"]),
])
def test_frozen_stages_freeze_the_stem_and_first_stages_in_train_mode(cfg, stem):
    if cfg["type"] != "RegNet":
        cfg = dict(cfg, **SMALL)
    backbone = build(frozen_stages=1, **cfg).train()
    assert all(frozen(getattr(backbone, name)) for name in stem)
    assert frozen(backbone.layer1)
    assert backbone.layer2.training and all(p.requires_grad for p in backbone.layer2.parameters())
    with pytest.raises(BuildError, match="frozen_stages"):
        build(frozen_stages=5, **cfg)


def test_norm_eval_and_frozen_norm_parameters():
    backbone = build(type="ResNeXt", depth=50, groups=2, width_per_group=4, norm_eval=True,
                     norm_cfg=dict(type="BN", requires_grad=False), stem_channels=8, base_channels=8).train()
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training or m.weight.requires_grad for m in norms)
    assert backbone.conv1.weight.requires_grad and backbone.layer1.training


def test_resnet_variants_have_mmcls_stems_and_shortcuts():
    v1c = build(type="ResNetV1c", depth=50, **SMALL)
    assert [type(m.conv).__name__ for m in v1c.stem] == ["Conv2d"] * 3 and not hasattr(v1c, "conv1")
    assert isinstance(v1c.layer2[0].downsample[0], torch.nn.Conv2d)
    v1d = build(type="ResNetV1d", depth=50, **SMALL)
    assert isinstance(v1d.layer2[0].downsample[0], torch.nn.AvgPool2d)
    assert isinstance(v1d.layer1[0].downsample[0], torch.nn.Conv2d)  # no pool where the stage keeps its size
    res2net = build(type="Res2Net", depth=50, **SMALL)
    assert isinstance(res2net.layer1[0].downsample[0], torch.nn.AvgPool2d)  # mmcls pools every shortcut
    caffe = build(type="ResNet", depth=50, style="caffe", **SMALL)
    assert caffe.layer2[0].conv1.stride == (2, 2) and caffe.layer2[0].conv2.stride == (1, 1)
    cifar = build(type="ResNet_CIFAR", depth=18, **SMALL).eval()
    assert cifar(torch.randn(1, 3, 32, 32)).shape == (1, 32, 4, 4)


def test_drop_path_rate_reaches_the_blocks_mmcls_applies_it_in():
    resnet = build(type="ResNet", depth=18, drop_path_rate=0.2, **SMALL)
    assert [m.drop_prob for m in resnet.modules() if isinstance(m, DropPath)] == [0.2] * 8
    se = build(type="SEResNet", depth=50, drop_path_rate=0.2, stem_channels=8, base_channels=8)
    assert not [m for m in se.modules() if isinstance(m, DropPath)]  # mmcls's SE blocks have none


def test_with_cp_gives_the_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = build(type="ResNet", depth=18, zero_init_residual=False, **SMALL)
    checkpointed = build(type="ResNet", depth=18, with_cp=True, **SMALL)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    outs = [model.eval()(x).sum() for model in (plain, checkpointed)]
    grads = [torch.autograd.grad(out, x)[0] for out in outs]
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_zero_init_residual_zeroes_each_blocks_last_norm():
    backbone = build(type="ResNet", depth=50, **SMALL)
    assert all(float(block.bn3.weight.detach().abs().sum()) == 0 for block in backbone.layer1)
    backbone = build(type="ResNet", depth=50, zero_init_residual=False, **SMALL)
    assert all(float(block.bn3.weight.detach().abs().sum()) > 0 for block in backbone.layer1)


@pytest.mark.parametrize("cfg, message", [
    (dict(type="ResNet", depth=20), "18, 34, 50, 101, 152"),
    (dict(type="ResNeXt", depth=18), "50, 101, 152"),
    (dict(type="ResNet", depth=18, style="tf"), "style='tf'"),
    (dict(type="ResNet", depth=18, norm_cfg=dict(type="GN", num_groups=2)), "norm_cfg"),
    (dict(type="ResNet", depth=18, strides=(1, 2)), "strides"),
    (dict(type="ResNetV1c", depth=50, deep_stem=False), "deep_stem"),
    (dict(type="ResNet_CIFAR", depth=18, deep_stem=True), "deep_stem"),
    (dict(type="Res2Net", depth=50, scales=1), "scales"),
    (dict(type="RegNet", arch="regnetx_400mf", deep_stem=True), "deep_stem"),
    (dict(type="CSPDarkNet", depth=50), "depth=50"),
    (dict(type="CSPResNet", depth=50, out_indices=(4,)), "out_indices"),
])
def test_arguments_mmcls_rejects_are_build_errors(cfg, message):
    with pytest.raises(BuildError, match=message):
        build(**cfg)


def test_regnet_loads_torchvision_key_names():
    from minim.cls.models.backbones.regnet import torchvision_regnet_key_to_mmcls as rename

    assert rename("stem.0.weight") == "conv1.weight" and rename("stem.1.running_var") == "bn1.running_var"
    assert rename("trunk_output.block2.block2-3.f.b.0.weight") == "layer2.3.conv2.weight"
    assert rename("trunk_output.block1.block1-0.proj.1.bias") == "layer1.0.downsample.1.bias"
    assert rename("layer1.0.conv2.weight") == "layer1.0.conv2.weight"  # mmcls's own names stay


def test_csp_backbones_stage_outputs_and_freezing():
    with torch.device("meta"):
        darknet = build(type="CSPDarkNet", depth=53, out_indices=(2, 4), frozen_stages=0)
        resnext = build(type="CSPResNeXt", depth=50, deep_stem=True)
    out = darknet(torch.empty(1, 3, 64, 64, device="meta"))
    assert [tuple(o.shape) for o in out] == [(1, 256, 8, 8), (1, 1024, 2, 2)] and darknet.feature_dim == 1024
    darknet.train()
    assert frozen(darknet.stem) and frozen(darknet.stages[0]) and darknet.stages[1].training  # mmcls's count
    assert resnext(torch.empty(1, 3, 64, 64, device="meta")).shape == (1, 2048, 4, 4)  # the deep stem has no pool
    assert len(resnext.stem) == 3 and resnext.stages[1].downsample_conv.conv.groups == 32


def test_csra_head_sums_class_attention_heads():
    torch.manual_seed(0)
    head = HEADS.build(dict(type="CSRAClsHead", num_classes=3, in_channels=8, num_heads=2, lam=0.1))
    x = torch.randn(2, 8, 4, 4)
    expected = 0
    for module, temperature in zip(head.csra_heads, (1, 99)):
        weight = module.head.weight.flatten(1)
        scores = torch.einsum("kc,nchw->nkhw", weight / weight.norm(dim=1, keepdim=True), x).flatten(2)
        attended = scores.max(2).values if temperature == 99 else (scores * scores.softmax(2)).sum(2)
        expected = expected + scores.mean(2) + 0.1 * attended
    torch.testing.assert_close(head(x), expected)
    assert torch.allclose(head.simple_test(x), torch.sigmoid(expected), atol=1e-6)
    with pytest.raises(BuildError, match="num_heads=3"):
        HEADS.build(dict(type="CSRAClsHead", num_classes=3, in_channels=8, num_heads=3, lam=0.1))
    model = build_classifier(dict(type="ImageClassifier", neck=None,
                                  backbone=dict(type="ResNet", depth=18, **SMALL),
                                  head=dict(type="CSRAClsHead", num_classes=3, in_channels=32, num_heads=1, lam=0.1)))
    loss = model.forward_train(torch.randn(2, 3, 32, 32), torch.tensor([[1, 0, -1], [0, 1, 1]]))["loss"]
    assert torch.isfinite(loss)
