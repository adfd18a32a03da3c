"""mmcls options of SwinTransformer, SwinTransformerV2 and ConvNeXt, and the torchvision checkpoints
they load (mmcls's own checkpoints: tests/test_cls_mmcls_small.py)."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import swin_transformer as tv_swin
from torchvision.models.convnext import CNBlockConfig, ConvNeXt as TorchvisionConvNeXt

from minim.cls.checkpoint import convert_state_dict, load_checkpoint
from minim.cls.models import build_classifier
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

torch.set_num_threads(2)

SMALL_SWIN = {"embed_dims": 8, "depths": [2, 2, 2], "num_heads": [1, 2, 2]}
SMALL_SWIN_V2 = dict(SMALL_SWIN, extra_norm_every_n_blocks=0)
SMALL_CONVNEXT = {"depths": [1, 1, 1, 1], "channels": [8, 16, 24, 32]}


def swin(**kwargs):
    return BACKBONES.build(dict(dict(type="SwinTransformer", arch=SMALL_SWIN, window_size=4, out_indices=(2,)),
                                **kwargs))


def convnext(**kwargs):
    return BACKBONES.build(dict(dict(type="ConvNeXt", arch=SMALL_CONVNEXT), **kwargs))


def frozen_parameter_names(module) -> set[str]:
    return {name for name, param in module.named_parameters() if not param.requires_grad}


# ----------------------------------------------------------------------------- outputs
def test_swin_out_indices_give_one_normed_map_per_stage():
    backbone = swin(out_indices=(0, 1, 2)).eval()
    outs = backbone(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 8, 16, 16), (1, 16, 8, 8), (1, 32, 4, 4)]
    assert backbone.feature_dim == 32
    after = swin(out_indices=(0, 1), out_after_downsample=True).eval()(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in after] == [(1, 16, 8, 8), (1, 32, 4, 4)]
    assert swin().eval()(torch.randn(1, 3, 64, 64)).shape == (1, 32, 4, 4)  # one index: a tensor


def test_swin_v2_merges_before_its_stages():
    backbone = BACKBONES.build(dict(type="SwinTransformerV2", arch=SMALL_SWIN_V2, window_size=[4, 4, 2],
                                    out_indices=(0, 2))).eval()
    assert backbone.stages[0].downsample is None and backbone.stages[1].downsample.post_norm
    outs = backbone(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 8, 16, 16), (1, 32, 4, 4)]


def test_convnext_outputs_pooled_vectors_or_maps():
    assert convnext().eval()(torch.randn(2, 3, 64, 64)).shape == (2, 32)
    maps = convnext(out_indices=(1, -1), gap_before_final_norm=False).eval()(torch.randn(2, 3, 64, 64))
    assert [tuple(m.shape) for m in maps] == [(2, 16, 8, 8), (2, 32, 2, 2)]


def test_swin_with_cp_gives_the_same_output_and_gradients():
    torch.manual_seed(0)
    plain = swin(drop_path_rate=0.0).train()
    checkpointed = swin(drop_path_rate=0.0, with_cp=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    img = torch.randn(1, 3, 32, 32)
    plain(img).sum().backward()
    checkpointed(img).sum().backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


# ----------------------------------------------------------------------------- freezing
def test_swin_frozen_stages_freeze_the_patch_embedding_stages_and_their_norms():
    backbone = swin(frozen_stages=1, out_indices=(0, 2)).train()
    frozen = frozen_parameter_names(backbone)
    assert {n for n in frozen if n.startswith(("patch_embed.", "stages.0.", "stages.1.", "norm0."))} == frozen
    assert not any(n.startswith(("stages.2.", "norm2.")) for n in frozen)
    assert "stages.1.downsample.norm.weight" in frozen
    assert not backbone.stages[1].training and backbone.stages[2].training
    with pytest.raises(BuildError, match="frozen_stages"):
        swin(frozen_stages=3)


def test_convnext_frozen_stages_counts_like_mmcls():
    assert frozen_parameter_names(convnext()) == set()  # mmcls's default 0 freezes nothing
    backbone = convnext(frozen_stages=2).train()
    frozen = frozen_parameter_names(backbone)
    assert {n.split(".")[0] + "." + n.split(".")[1] for n in frozen} == {
        "downsample_layers.0", "downsample_layers.1", "stages.0", "stages.1"}
    assert not backbone.stages[1].training and backbone.stages[2].training


# ----------------------------------------------------------------------------- refused arguments
@pytest.mark.parametrize("kwargs, match", [
    (dict(window_size=[4, 4, 4]), "window_size must be an int"),
    (dict(arch={"embed_dims": 8, "depths": [2]}), "custom arch"),
    (dict(arch="huge"), "arch='huge'"),
    (dict(out_indices=(3,)), "out_indices"),
    (dict(stage_cfgs=dict(depth=2)), "stage_cfgs key"),
    (dict(stage_cfgs=dict(block_cfgs=dict(shift=True))), "block_cfgs key"),
    (dict(patch_cfg=dict(kernel_size=3)), "patch_cfg"),
    (dict(norm_cfg=dict(type="BN")), "norm_cfg"),
])
def test_swin_unsupported_arguments_are_build_errors(kwargs, match):
    with pytest.raises(BuildError, match=match):
        swin(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(window_size=[4, 4]), "window_size"),
    (dict(pretrained_window_sizes=[0, 0]), "pretrained_window_sizes"),
    (dict(stage_cfgs=dict(downsample_cfg=dict(kernel_size=3))), "downsample_cfg key"),
    (dict(out_after_downsample=True), "out_after_downsample"),
])
def test_swin_v2_unsupported_arguments_are_build_errors(kwargs, match):
    with pytest.raises((BuildError, TypeError), match=match):
        BACKBONES.build(dict(dict(type="SwinTransformerV2", arch=SMALL_SWIN_V2, out_indices=(2,)), **kwargs))


@pytest.mark.parametrize("kwargs, match", [
    (dict(arch="huge"), "arch='huge'"), (dict(out_indices=4), "out_indices"),
    (dict(norm_cfg=dict(type="BN")), "norm_cfg"), (dict(frozen_stages=5), "frozen_stages"),
])
def test_convnext_unsupported_arguments_are_build_errors(kwargs, match):
    with pytest.raises(BuildError, match=match):
        convnext(**kwargs)


# ----------------------------------------------------------------------------- checkpoints
def classifier(backbone: dict, in_channels: int):
    return build_classifier(dict(type="ImageClassifier", backbone=backbone, neck=dict(type="GlobalAveragePooling"),
                                 head=dict(type="LinearClsHead", num_classes=7, in_channels=in_channels))).eval()


def perturbed(model):
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return model.eval()


@pytest.mark.parametrize("version", [1, 2])
def test_torchvision_swin_checkpoints_load_with_equal_logits(version, tmp_path):
    block, merging = ((tv_swin.SwinTransformerBlock, tv_swin.PatchMerging) if version == 1
                      else (tv_swin.SwinTransformerBlockV2, tv_swin.PatchMergingV2))
    reference = perturbed(tv_swin.SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2, 2],
                                                  num_heads=[1, 2, 2], window_size=[4, 4], num_classes=7,
                                                  block=block, downsample_layer=merging))
    arch = SMALL_SWIN if version == 1 else SMALL_SWIN_V2
    model = classifier(dict(type="SwinTransformer" if version == 1 else "SwinTransformerV2", arch=arch,
                            window_size=4, out_indices=(2,)), 32)
    torch.save(reference.state_dict(), tmp_path / "tv.pth")
    load_checkpoint(model, tmp_path / "tv.pth")
    img = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (model(img) - reference(img)).abs().max() <= 1e-5 * max(1.0, reference(img).abs().max())


def test_torchvision_convnext_checkpoint_and_minims_older_layout_load(tmp_path):
    settings = [CNBlockConfig(8, 16, 1), CNBlockConfig(16, 24, 1), CNBlockConfig(24, 32, 1), CNBlockConfig(32, None, 1)]
    reference = perturbed(TorchvisionConvNeXt(settings, num_classes=7))
    for downsample in (2, 4, 6):  # mmcls's downsampling norms use eps 1e-5
        reference.features[downsample][0].eps = 1e-5
    model = classifier(dict(type="ConvNeXt", arch=SMALL_CONVNEXT), 32)
    state = reference.state_dict()
    torch.save(state, tmp_path / "tv.pth")
    load_checkpoint(model, tmp_path / "tv.pth")
    img = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (model(img) - reference(img)).abs().max() <= 1e-5
    older = {("head.fc." + k[len("classifier.2."):] if k.startswith("classifier.2.") else "backbone." + k): v
             for k, v in state.items()}  # minim's checkpoints of the torchvision-based ConvNeXt
    assert convert_state_dict(model, older).keys() == model.state_dict().keys()


def test_swin_accepts_mmcls_legacy_keys_and_v2_rebuilds_missing_derived_buffers():
    backbone = swin(out_indices=(2,))
    own = backbone.state_dict()
    legacy = {("norm." + k[len("norm2."):] if k.startswith("norm2.") else k): v for k, v in own.items()}
    legacy["stages.0.blocks.1.attn.attn_mask"] = torch.zeros(1)
    assert backbone.convert_mmcls_state(legacy).keys() == own.keys()
    assert backbone.convert_mmcls_state(own) == own
    v2 = BACKBONES.build(dict(type="SwinTransformerV2", arch=SMALL_SWIN_V2, window_size=4, out_indices=(2,)))
    state = {k: v for k, v in v2.state_dict().items() if "relative_" not in k}
    assert v2.convert_mmcls_state(state).keys() == v2.state_dict().keys()


def test_window_bias_index_is_torchvisions():
    from minim.cls.models.backbones.swin import relative_position_index

    reference = tv_swin.ShiftedWindowAttention(8, [7, 7], [0, 0], num_heads=1).relative_position_index
    assert torch.equal(relative_position_index((7, 7)).flatten(), reference)
