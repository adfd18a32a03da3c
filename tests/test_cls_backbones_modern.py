"""mmcls options of the VAN, HorNet, PoolFormer, EfficientFormer, MViT and Twins backbones.

Their mmcls checkpoints and logits are checked in ``test_cls_mmcls_small.py``; these tests cover
the options: ``out_indices`` shapes, ``frozen_stages``, refused arguments, the EfficientFormer head.
"""

from __future__ import annotations

import pytest
import torch

from minim.cls.models import BACKBONES, HEADS, build_classifier
from minim.errors import BuildError

torch.set_num_threads(1)

VAN_ARCH = {"embed_dims": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "ffn_ratios": [2, 2, 2, 2]}
HORNET_ARCH = {"base_dim": 8, "depths": [1, 1, 1, 1], "orders": [2, 3, 4, 5],
               "dw_cfg": [{"type": "DW", "kernel_size": 7}] * 4}
POOLFORMER_ARCH = {"layers": [1, 1, 1, 1], "embed_dims": [8, 16, 24, 32]}
EFFICIENTFORMER_ARCH = {"layers": [1, 1, 1, 2], "embed_dims": [8, 8, 8, 16],
                        "downsamples": [False, False, False, True], "vit_num": 1}
MVIT_ARCH = {"embed_dims": 8, "num_layers": 4, "num_heads": 1, "downscale_indices": [1, 2, 3]}
TWINS_ARCH = {"embed_dims": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "num_heads": [1, 2, 2, 4],
              "patch_sizes": [4, 2, 2, 2], "strides": [4, 2, 2, 2], "mlp_ratios": [2, 2, 2, 2],
              "sr_ratios": [4, 2, 1, 1]}


def shapes(outputs):
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return [tuple(out.shape) for out in outputs]


def frozen(module) -> bool:
    return all(not p.requires_grad for p in module.parameters()) and not module.training


def trainable(module) -> bool:
    return all(p.requires_grad for p in module.parameters()) and module.training


# ----------------------------------------------------------------------------- out_indices
@pytest.mark.parametrize("cfg, size, expected", [
    (dict(type="VAN", arch=VAN_ARCH, out_indices=(0, 1, 2, 3)), 32,
     [(1, 8, 8, 8), (1, 16, 4, 4), (1, 24, 2, 2), (1, 32, 1, 1)]),
    (dict(type="HorNet", arch=HORNET_ARCH, out_indices=(1, 3)), 32, [(1, 16), (1, 64)]),
    (dict(type="HorNet", arch=HORNET_ARCH, gap_before_final_norm=False), 32, [(1, 64, 1, 1)]),
    (dict(type="PoolFormer", arch=POOLFORMER_ARCH, out_indices=[0, 2, 4, 6]), 32,
     [(1, 8, 8, 8), (1, 16, 4, 4), (1, 24, 2, 2), (1, 32, 1, 1)]),
    (dict(type="EfficientFormer", arch=EFFICIENTFORMER_ARCH), 56, [(1, 16, 49)]),
    (dict(type="EfficientFormer", arch=EFFICIENTFORMER_ARCH, out_indices=(0, 3), reshape_last_feat=True), 56,
     [(1, 8, 14, 14), (1, 16, 7, 7)]),
    (dict(type="MViT", arch=MVIT_ARCH, img_size=32, out_scales=[0, 1, 2, 3]), 32,
     [(1, 8, 8, 8), (1, 16, 4, 4), (1, 32, 2, 2), (1, 64, 1, 1)]),
    (dict(type="PCPVT", arch=TWINS_ARCH, out_indices=(0, 1, 2, 3)), 32,
     [(1, 8, 8, 8), (1, 16, 4, 4), (1, 24, 2, 2), (1, 32, 1, 1)]),
    (dict(type="SVT", arch={**TWINS_ARCH, "window_sizes": [3, 3, 2, 2]}, out_indices=(-1,)), 36,
     [(1, 32, 2, 2)]),
])
def test_outputs_have_mmcls_shapes(cfg, size, expected):
    backbone = BACKBONES.build(cfg).eval()
    with torch.no_grad():
        assert shapes(backbone(torch.randn(1, 3, size, size))) == expected
    assert backbone.feature_dim == expected[-1][1]


# ----------------------------------------------------------------------------- frozen_stages
def test_poolformer_freezes_its_stem_by_default_like_mmcls():
    backbone = BACKBONES.build(dict(type="PoolFormer", arch=POOLFORMER_ARCH)).train()
    assert frozen(backbone.patch_embed) and trainable(backbone.network[0])
    backbone = BACKBONES.build(dict(type="PoolFormer", arch=POOLFORMER_ARCH, frozen_stages=2,
                                    out_indices=[0, 6])).train()
    assert frozen(backbone.patch_embed) and frozen(backbone.network[0]) and frozen(backbone.network[1])
    assert frozen(backbone.norm0) and trainable(backbone.network[2]) and trainable(backbone.norm6)


@pytest.mark.parametrize("cfg, frozen_parts, trainable_parts", [
    (dict(type="VAN", arch=VAN_ARCH, frozen_stages=1),
     ["patch_embed1", "blocks1", "norm1", "patch_embed2", "blocks2", "norm2"], ["patch_embed3", "norm4"]),
    (dict(type="HorNet", arch=HORNET_ARCH, frozen_stages=0, out_indices=(0, 3)),
     ["downsample_layers.0", "stages.0", "norm0"], ["downsample_layers.1", "stages.1", "norm3"]),
    (dict(type="EfficientFormer", arch=EFFICIENTFORMER_ARCH, frozen_stages=1),
     ["patch_embed", "network.0"], ["network.1", "norm3"]),
])
def test_frozen_stages_freeze_what_mmcls_freezes(cfg, frozen_parts, trainable_parts):
    backbone = BACKBONES.build(cfg).train()
    assert all(frozen(backbone.get_submodule(name)) for name in frozen_parts)
    assert all(trainable(backbone.get_submodule(name)) for name in trainable_parts)


def test_van_norm_eval_keeps_batch_norms_in_eval_mode():
    backbone = BACKBONES.build(dict(type="VAN", arch=VAN_ARCH, norm_eval=True)).train()
    assert not backbone.patch_embed1.norm.training and backbone.blocks1.training


def test_hornet_with_cp_gives_the_same_features():
    torch.manual_seed(0)
    plain = BACKBONES.build(dict(type="HorNet", arch=HORNET_ARCH)).train()
    checkpointed = BACKBONES.build(dict(type="HorNet", arch=HORNET_ARCH, with_cp=True)).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(plain(x), checkpointed(x), atol=1e-6)


# ----------------------------------------------------------------------------- refused arguments
@pytest.mark.parametrize("cfg, match", [
    (dict(type="VAN", arch="b9"), "arch='b9'"),
    (dict(type="VAN", arch={"embed_dims": [8]}), "custom arch"),
    (dict(type="VAN", arch=VAN_ARCH, block_cfgs=dict(ffn_ratio=2)), "block_cfgs"),
    (dict(type="VAN", arch=VAN_ARCH, out_indices=(4,)), "out_indices"),
    (dict(type="HorNet", arch={**HORNET_ARCH, "dw_cfg": [{"type": "Conv"}] * 4}), "dw_cfg"),
    (dict(type="HorNet", arch=HORNET_ARCH, frozen_stages=4), "frozen_stages"),
    (dict(type="PoolFormer", arch=POOLFORMER_ARCH, norm_cfg=dict(type="IN")), "norm_cfg"),
    (dict(type="PoolFormer", arch={"layers": [1, 1, 1, 1]}), "embed_dims"),
    (dict(type="EfficientFormer", arch={**EFFICIENTFORMER_ARCH, "vit_num": 3}), "vit_num"),
    (dict(type="MViT", arch="huge"), "arch='huge'"),
    (dict(type="MViT", arch=MVIT_ARCH, patch_cfg=dict(norm_cfg=dict(type="LN"))), "patch_cfg"),
    (dict(type="MViT", arch=MVIT_ARCH, out_scales=4), "out_scales=4"),
    (dict(type="PCPVT", arch=TWINS_ARCH, norm_cfg=dict(type="BN")), "norm_cfg"),
    (dict(type="PCPVT", arch=TWINS_ARCH, norm_after_stage=[True]), "norm_after_stage"),
    (dict(type="SVT", arch=TWINS_ARCH), "window_sizes"),
])
def test_unsupported_arguments_raise_build_error(cfg, match):
    with pytest.raises(BuildError, match=match):
        BACKBONES.build(cfg)


# ----------------------------------------------------------------------------- EfficientFormer head
def test_efficientformer_head_averages_its_two_classifiers():
    head = HEADS.build(dict(type="EfficientFormerClsHead", num_classes=3, in_channels=4))
    x = torch.randn(2, 4)
    assert torch.allclose(head((x,)), (head.head(x) + head.dist_head(x)) / 2)
    with pytest.raises(BuildError, match="distillation=False"):
        head.forward_train(x, torch.tensor([0, 1]))
    single = HEADS.build(dict(type="EfficientFormerClsHead", num_classes=3, in_channels=4, distillation=False))
    assert not hasattr(single, "dist_head")
    assert single.forward_train(x, torch.tensor([0, 1]))["loss"].ndim == 0


def test_efficientformer_classifier_pools_tokens():
    model = build_classifier(dict(
        type="ImageClassifier", backbone=dict(type="EfficientFormer", arch=EFFICIENTFORMER_ARCH),
        neck=dict(type="GlobalAveragePooling", dim=1),
        head=dict(type="EfficientFormerClsHead", num_classes=3, in_channels=16))).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 56, 56)).shape == (2, 3)
