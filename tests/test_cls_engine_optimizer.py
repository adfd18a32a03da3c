"""optimizer: any torch.optim type, and paramwise_cfg with mmcv semantics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from minim.cls.engine.optimizer import build_optimizer
from minim.errors import BuildError, ConfigError


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, groups=4))
        self.head = nn.Linear(4, 2)


def settings(optimizer, model):
    """{parameter name: (lr, weight_decay)}"""
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            out[names[id(p)]] = (group["lr"], group["weight_decay"])
    return out


def test_plain_optimizer_one_group():
    model = Net()
    optimizer = build_optimizer(model, dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4))
    assert isinstance(optimizer, torch.optim.SGD) and len(optimizer.param_groups) == 1
    assert optimizer.param_groups[0]["momentum"] == 0.9


@pytest.mark.parametrize("kind", ["Adam", "AdamW", "RMSprop", "Adagrad"])
def test_any_torch_optimizer(kind):
    optimizer = build_optimizer(Net(), dict(type=kind, lr=0.01, weight_decay=0.01))
    assert type(optimizer).__name__ == kind


def test_norm_bias_and_dwconv_decay_mults():
    model = Net()
    cfg = dict(type="SGD", lr=0.1, weight_decay=1e-2,
               paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.5, dwconv_decay_mult=0.1, bias_lr_mult=2.0))
    got = settings(build_optimizer(model, cfg), model)
    assert got["backbone.0.weight"] == pytest.approx((0.1, 1e-2))
    assert got["backbone.0.bias"] == pytest.approx((0.2, 5e-3))  # bias: lr x2, decay x0.5
    assert got["backbone.1.weight"] == pytest.approx((0.1, 0.0))  # BN: no decay, lr untouched
    assert got["backbone.1.bias"] == pytest.approx((0.1, 0.0))  # BN bias: norm rule wins, no bias_lr_mult
    assert got["backbone.2.weight"] == pytest.approx((0.1, 1e-3))  # depth-wise conv
    assert got["backbone.2.bias"] == pytest.approx((0.2, 1e-3))  # dw-conv bias: dwconv decay, bias lr
    assert got["head.bias"] == pytest.approx((0.2, 5e-3))


def test_custom_keys_longest_match_wins_and_overrides_other_rules():
    model = Net()
    cfg = dict(type="SGD", lr=0.1, weight_decay=1e-2, paramwise_cfg=dict(
        norm_decay_mult=0.0,
        custom_keys={"backbone": dict(lr_mult=0.1), "backbone.1": dict(lr_mult=0.5, decay_mult=2.0), "head": dict(decay_mult=0.0)}))
    got = settings(build_optimizer(model, cfg), model)
    assert got["backbone.0.weight"] == pytest.approx((0.01, 1e-2))
    assert got["backbone.1.weight"] == pytest.approx((0.05, 2e-2))  # custom key beats norm_decay_mult
    assert got["head.weight"] == pytest.approx((0.1, 0.0))


def test_equal_settings_share_a_group():
    model = Net()
    optimizer = build_optimizer(model, dict(type="SGD", lr=0.1, weight_decay=1e-2, paramwise_cfg=dict(norm_decay_mult=0.0)))
    assert len(optimizer.param_groups) == 2
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


def test_frozen_parameters_stay_in_optimizer_without_settings():
    model = Net()
    model.backbone[0].weight.requires_grad_(False)
    optimizer = build_optimizer(model, dict(type="SGD", lr=0.1, weight_decay=1e-2, paramwise_cfg=dict(bias_decay_mult=0.0)))
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


@pytest.mark.parametrize(
    "cfg, error, words",
    [
        (dict(type="SDG", lr=0.1), BuildError, "did you mean 'SGD'"),
        (dict(type="SGD", lr=0.1, momentun=0.9), BuildError, "momentun"),
        (dict(type="SGD"), ConfigError, "needs an 'lr'"),
        (dict(lr=0.1), ConfigError, "no 'type'"),
        (dict(type="SGD", lr=0.1, weight_decay=1e-4, paramwise_cfg=dict(norm_decay=0.0)), ConfigError, "norm_decay"),
        (dict(type="SGD", lr=0.1, paramwise_cfg=dict(norm_decay_mult=0.0)), ConfigError, "no weight_decay"),
        (dict(type="SGD", lr=0.1, paramwise_cfg=dict(custom_keys={"head": dict(lr=2)})), ConfigError, "lr_mult"),
        (dict(type="SGD", lr="abc"), ConfigError, "optimizer.lr='abc' must be a number"),
        (dict(type="SGD", lr=0.1, momentum=None), ConfigError, "optimizer.momentum=None must be a number"),
    ],
)
def test_bad_optimizer_configs(cfg, error, words):
    with pytest.raises(error, match=words):
        build_optimizer(Net(), cfg)


def test_misspelt_type_and_paramwise_cfg_are_suggested():
    for typo, meant in (("typ", "type"), ("paramwise_cgf", "paramwise_cfg")):
        with pytest.raises(BuildError) as error:
            build_optimizer(Net(), {"type": "SGD", "lr": 0.1, typo: None})
        assert error.value.hint == f"did you mean {meant!r}?"


def test_vit_custom_keys_match_torchvision_spellings_and_unmatched_keys_warn():
    """deit/vit configs exempt '.cls_token' and '.pos_embed' from weight decay; torchvision calls them
    class_token and pos_embedding. A key that matches nothing is a warning, not silence."""
    from minim.cls.models import build_classifier

    model = build_classifier(dict(type="ImageClassifier",
                                  backbone=dict(type="TorchvisionBackbone", arch="vit_b_16", image_size=32),
                                  neck=None, head=dict(type="VisionTransformerClsHead", num_classes=3,
                                                       in_channels=768)))
    cfg = dict(type="AdamW", lr=1e-3, weight_decay=0.05, paramwise_cfg=dict(
        custom_keys={".cls_token": dict(decay_mult=0.0), ".pos_embed": dict(decay_mult=0.0)}))
    optimizer = build_optimizer(model, cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay = {names[id(p)] for g in optimizer.param_groups if g["weight_decay"] == 0.0 for p in g["params"]}
    assert no_decay == {"backbone.class_token", "backbone.encoder.pos_embedding"}
    with pytest.warns(UserWarning, match=r"custom_keys\['\.dist_token'\] matches no parameter"):
        build_optimizer(model, {**cfg, "paramwise_cfg": dict(custom_keys={".dist_token": dict(decay_mult=0.0)})})
