"""RepVGG, RepMLPNet, HRNet (+ HRFuseScales) and ConvMixer: options mmcls has, beyond checkpoint parity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from minim.cls.models import build_classifier
from minim.cls.models.registry import BACKBONES, NECKS
from minim.errors import BuildError

SMALL_REPVGG = {"num_blocks": [1, 2, 3, 1], "width_factor": [1, 1, 1, 1], "group_layer_map": {3: 2, 5: 4},
                "se_cfg": None}
SMALL_REPMLP = {"channels": [8, 16, 16, 32], "depths": [1, 1, 1, 1], "sharesets_nums": [1, 2, 4, 8]}
SMALL_HRNET = {
    "stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK", "num_blocks": (1,), "num_channels": (8,)},
    "stage2": {"num_modules": 1, "num_branches": 2, "block": "BASIC", "num_blocks": (1, 1), "num_channels": (4, 8)},
    "stage3": {"num_modules": 1, "num_branches": 3, "block": "BASIC", "num_blocks": (1, 1, 1),
               "num_channels": (4, 8, 16)},
    "stage4": {"num_modules": 2, "num_branches": 4, "block": "BASIC", "num_blocks": (1, 1, 1, 1),
               "num_channels": (4, 8, 16, 32)},
}
SMALL_CONVMIXER = {"embed_dims": 8, "depth": 4, "patch_size": 4, "kernel_size": 3}


def _perturb_norms(model: nn.Module) -> None:
    """Non-trivial BN statistics and affine parameters, so a wrong fusion cannot hide."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            for tensor in (module.weight, module.bias, module.running_mean):
                tensor.data = torch.randn(tensor.shape, generator=generator) * 0.5
            module.running_var.data = torch.rand(module.running_var.shape, generator=generator) + 0.5


def _assert_switches_to_deploy(type_name: str, x: torch.Tensor, **kwargs) -> None:
    model = BACKBONES.build({"type": type_name, **kwargs}).eval()
    _perturb_norms(model)
    with torch.no_grad():
        expected = model(x)
        model.switch_to_deploy()
        fused = model(x)
    assert torch.allclose(fused, expected, atol=1e-5, rtol=1e-4)
    deployed = BACKBONES.build({"type": type_name, **kwargs, "deploy": True})
    deployed.load_state_dict(model.state_dict())  # the same keys and shapes as mmcls's deploy form
    assert model.deploy


# ---------------------------------------------------------------------------------------- RepVGG
def test_repvgg_switch_to_deploy_keeps_outputs_and_matches_deploy_form():
    _assert_switches_to_deploy("RepVGG", torch.randn(2, 3, 32, 32), arch=SMALL_REPVGG, base_channels=8,
                               strides=(2, 2, 2, 1), dilations=(1, 1, 2, 2), add_ppf=True)


def test_repvgg_deploy_form_has_one_conv_per_block():
    model = BACKBONES.build({"type": "RepVGG", "arch": SMALL_REPVGG, "base_channels": 8, "deploy": True})
    keys = set(model.state_dict())
    assert "stage_3.1.branch_reparam.bias" in keys
    assert not any("branch_3x3" in key or "branch_norm" in key for key in keys)


def test_repvgg_d2se_has_mmcls_se_layers():
    model = BACKBONES.build({"type": "RepVGG", "arch": "D2se"})
    assert model.stage_1[0].se_layer.conv1.conv.weight.shape == (10, 160, 1, 1)  # 160 // 16, divisor 1
    assert sum(len(getattr(model, f"stage_{i}")) for i in range(1, 5)) == 8 + 14 + 24 + 1


def test_repvgg_grouped_blocks_follow_the_group_layer_map():
    model = BACKBONES.build({"type": "RepVGG", "arch": "B1g4", "base_channels": 8})
    assert model.stem.branch_3x3.conv.groups == 1
    assert [block.groups for block in model.stage_1] == [1, 4, 1, 4]  # blocks 1..4 counted from the stem


def test_repvgg_out_indices_and_feature_dim():
    model = BACKBONES.build({"type": "RepVGG", "arch": SMALL_REPVGG, "base_channels": 8, "out_indices": (1, 3)})
    outs = model.eval()(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 4, 4), (1, 64, 1, 1)]
    single = BACKBONES.build({"type": "RepVGG", "arch": SMALL_REPVGG, "base_channels": 8, "out_indices": (2,)})
    assert single.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 32, 2, 2)
    assert single.feature_dim == 32


def test_repvgg_frozen_stages_freeze_stem_and_first_stages():
    model = BACKBONES.build({"type": "RepVGG", "arch": SMALL_REPVGG, "base_channels": 8, "frozen_stages": 1})
    model.train()
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.stage_1.parameters())
    assert all(p.requires_grad for p in model.stage_2.parameters())
    assert not model.stage_1[0].branch_3x3.norm.training
    assert model.stage_2[0].branch_3x3.norm.training


def test_repvgg_norm_eval_keeps_batch_norms_in_eval_mode():
    model = BACKBONES.build({"type": "RepVGG", "arch": SMALL_REPVGG, "base_channels": 8, "norm_eval": True})
    model.train()
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def test_repvgg_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = BACKBONES.build({"type": "RepVGG", "arch": SMALL_REPVGG, "base_channels": 8})
    checkpointed = BACKBONES.build({"type": "RepVGG", "arch": SMALL_REPVGG, "base_channels": 8, "with_cp": True})
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32)
    for model in (plain, checkpointed):
        model.train()(x.requires_grad_()).sum().backward()
    assert torch.allclose(plain.stem.branch_3x3.conv.weight.grad, checkpointed.stem.branch_3x3.conv.weight.grad,
                          atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"arch": "C9"}, "arch"),
    ({"arch": SMALL_REPVGG, "conv_cfg": {"type": "DCN"}}, "conv_cfg"),
    ({"arch": SMALL_REPVGG, "out_indices": (4,)}, "out_indices"),
    ({"arch": SMALL_REPVGG, "frozen_stages": 5}, "frozen_stages"),
    ({"arch": SMALL_REPVGG, "strides": (2, 2, 2)}, "strides"),
    ({"arch": SMALL_REPVGG, "norm_cfg": {"type": "GN"}}, "norm"),
])
def test_repvgg_bad_arguments_are_build_errors(kwargs, message):
    with pytest.raises(BuildError, match=message):
        BACKBONES.build({"type": "RepVGG", **kwargs})


# ---------------------------------------------------------------------------------------- RepMLPNet
@pytest.mark.parametrize("kernels", [(3,), (1, 3, 5), None])
def test_repmlp_switch_to_deploy_keeps_outputs_and_matches_deploy_form(kernels):
    _assert_switches_to_deploy("RepMLPNet", torch.randn(2, 3, 32, 32), arch=SMALL_REPMLP, img_size=32,
                               reparam_conv_kernels=kernels)


def test_repmlp_takes_only_its_image_size():
    model = BACKBONES.build({"type": "RepMLPNet", "arch": SMALL_REPMLP, "img_size": 32}).eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 32, 1, 1)
    with pytest.raises(ValueError, match="img_size"):
        model(torch.randn(1, 3, 64, 64))


def test_repmlp_out_indices_are_taken_after_downsampling():
    model = BACKBONES.build({"type": "RepMLPNet", "arch": SMALL_REPMLP, "img_size": 32, "out_indices": (0, 3)})
    outs = model.eval()(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 4, 4), (1, 32, 1, 1)]


@pytest.mark.parametrize("kwargs, message", [
    ({"arch": "large"}, "arch"),
    ({"arch": {"channels": [8]}}, "keys"),
    ({"arch": SMALL_REPMLP, "patch_cfg": {"bias": True}}, "patch_cfg"),
    ({"arch": SMALL_REPMLP, "out_indices": (7,)}, "out_indices"),
])
def test_repmlp_bad_arguments_are_build_errors(kwargs, message):
    with pytest.raises(BuildError, match=message):
        BACKBONES.build({"type": "RepMLPNet", **kwargs})


# ---------------------------------------------------------------------------------------- HRNet
def test_hrnet_outputs_every_scale_or_the_finest():
    model = BACKBONES.build({"type": "HRNet", "extra": SMALL_HRNET}).eval()
    single = BACKBONES.build({"type": "HRNet", "extra": SMALL_HRNET, "multiscale_output": False}).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert [tuple(o.shape) for o in model(x)] == [(1, 4, 8, 8), (1, 8, 4, 4), (1, 16, 2, 2), (1, 32, 1, 1)]
        assert [tuple(o.shape) for o in single(x)] == [(1, 4, 8, 8)]
    assert len(single.stage4[1].fuse_layers) == 1 and len(single.stage4[0].fuse_layers) == 4


def test_hrnet_presets_have_mmcls_widths():
    model = BACKBONES.build({"type": "HRNet", "arch": "w18"})
    assert [m.conv1.out_channels for m in (b[0] for b in model.stage4[0].branches)] == [18, 36, 72, 144]
    assert len(model.stage3) == 4 and len(model.stage4) == 3


def test_hrnet_norm_eval_with_cp_and_zero_init_residual():
    model = BACKBONES.build({"type": "HRNet", "extra": SMALL_HRNET, "norm_eval": True, "with_cp": True,
                             "zero_init_residual": True})
    model.train()
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert not model.stage2[0].branches[0][0].bn2.weight.any()
    model(torch.randn(1, 3, 32, 32, requires_grad=True))[0].sum().backward()
    assert model.stage2[0].branches[0][0].conv1.weight.grad is not None


@pytest.mark.parametrize("kwargs, message", [
    ({"arch": "w99"}, "arch"),
    ({"extra": {**SMALL_HRNET, "stage2": {**SMALL_HRNET["stage2"], "num_blocks": (1,)}}}, "stage2"),
    ({"extra": {**SMALL_HRNET, "stage3": {**SMALL_HRNET["stage3"], "block": "WIDE"}}}, "block"),
    ({"conv_cfg": {"type": "DCN"}}, "conv_cfg"),
])
def test_hrnet_bad_arguments_are_build_errors(kwargs, message):
    with pytest.raises(BuildError, match=message):
        BACKBONES.build({"type": "HRNet", **kwargs})


def test_hrnet_classifier_chains_a_list_of_necks_with_mmcls_keys():
    model = build_classifier({
        "type": "ImageClassifier", "backbone": {"type": "HRNet", "extra": SMALL_HRNET},
        "neck": [{"type": "HRFuseScales", "in_channels": (4, 8, 16, 32), "out_channels": 64},
                 {"type": "GlobalAveragePooling"}],
        "head": {"type": "LinearClsHead", "num_classes": 3, "in_channels": 64}}).eval()
    keys = set(model.state_dict())
    assert {"neck.0.increase_layers.0.0.downsample.0.weight", "neck.0.downsample_layers.2.conv.weight",
            "neck.0.final_layer.bn.running_var"} <= keys
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def test_hrfusescales_needs_four_scales():
    with pytest.raises(BuildError, match="in_channels"):
        NECKS.build({"type": "HRFuseScales", "in_channels": (4, 8, 16)})


# ---------------------------------------------------------------------------------------- ConvMixer
def test_convmixer_frozen_stages_freeze_the_first_blocks_only():
    model = BACKBONES.build({"type": "ConvMixer", "arch": SMALL_CONVMIXER, "frozen_stages": 2}).train()
    assert all(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.stages[:2].parameters())
    assert all(p.requires_grad for p in model.stages[2:].parameters())
    assert not model.stages[1][3].training and model.stages[2][3].training


def test_convmixer_out_indices():
    model = BACKBONES.build({"type": "ConvMixer", "arch": SMALL_CONVMIXER, "out_indices": (0, -1)}).eval()
    outs = model(torch.randn(1, 3, 32, 32))
    assert len(outs) == 2 and all(o.shape == (1, 8, 8, 8) for o in outs)


@pytest.mark.parametrize("kwargs, message", [
    ({"arch": "512/12"}, "arch"),
    ({"arch": {"embed_dims": 8}}, "keys"),
    ({"arch": SMALL_CONVMIXER, "out_indices": 4}, "out_indices"),
    ({"arch": SMALL_CONVMIXER, "frozen_stages": 5}, "frozen_stages"),
])
def test_convmixer_bad_arguments_are_build_errors(kwargs, message):
    with pytest.raises(BuildError, match=message):
        BACKBONES.build({"type": "ConvMixer", **kwargs})
