"""The ViT family of mmcls 0.x backbones (VisionTransformer, DeiT, T2T-ViT, TNT, Conformer, MLP-Mixer):
outputs, options and checkpoint layouts (mmcls parity itself: tests/test_cls_mmcls_small.py)."""

from __future__ import annotations

import pytest
import torch
from timm.layers import DropPath

from minim.cls.checkpoint import convert_state_dict, load_checkpoint
from minim.cls.models import build_classifier
from minim.cls.models.registry import BACKBONES, HEADS
from minim.errors import BuildError

torch.set_num_threads(2)

VIT_ARCH = {"embed_dims": 32, "num_layers": 3, "num_heads": 2, "feedforward_channels": 48}


def vit(**kwargs):
    return BACKBONES.build(dict(type="VisionTransformer", arch=VIT_ARCH, img_size=32, patch_size=8, **kwargs)).eval()


def image(size: int = 32, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_vit_outputs_patch_map_and_class_token_per_out_index():
    outs = vit(out_indices=[0, -1])(image())
    assert len(outs) == 2
    for patches, cls_token in outs:
        assert patches.shape == (2, 32, 4, 4) and cls_token.shape == (2, 32)
    only_map = vit(output_cls_token=False)(image())
    assert len(only_map) == 1 and only_map[0].shape == (2, 32, 4, 4)
    no_token = vit(with_cls_token=False, output_cls_token=False)(image())
    assert no_token[0].shape == (2, 32, 4, 4)


def test_vit_takes_other_input_sizes_and_resizes_checkpoint_position_embeddings(tmp_path):
    small = vit()
    assert small(image(48))[0][0].shape == (2, 32, 6, 6)
    cfg = dict(type="ImageClassifier", backbone=dict(type="VisionTransformer", arch=VIT_ARCH, img_size=32,
                                                     patch_size=8),
               neck=None, head=dict(type="VisionTransformerClsHead", num_classes=3, in_channels=32))
    path = tmp_path / "vit32.pth"
    torch.save({"state_dict": build_classifier(cfg).state_dict()}, path)
    large = build_classifier({**cfg, "backbone": {**cfg["backbone"], "img_size": 48}})
    load_checkpoint(large, path, skip_mismatched_head=False)
    assert large.backbone.pos_embed.shape == (1, 37, 32)


def test_vit_drop_path_rate_rises_linearly_and_is_off_in_eval():
    backbone = vit(drop_path_rate=0.2)
    rates = [m.drop_prob for m in backbone.modules() if isinstance(m, DropPath)]
    assert rates == pytest.approx([0.1, 0.1, 0.2, 0.2])  # layers 1 and 2 (attention and FFN each)
    x = image()
    assert torch.equal(backbone(x)[0][1], backbone(x)[0][1])
    backbone.train()
    torch.manual_seed(0)
    first = backbone(x)[0][1]
    assert not torch.equal(first, backbone(x)[0][1])


def test_torchvision_vit_checkpoint_loads_with_torchvision_outputs(tmp_path):
    from torchvision.models.vision_transformer import VisionTransformer as TorchvisionViT

    torch.manual_seed(0)
    reference = TorchvisionViT(image_size=32, patch_size=8, num_layers=3, num_heads=2, hidden_dim=32, mlp_dim=48,
                               num_classes=3).eval()
    with torch.no_grad():
        for param in reference.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    path = tmp_path / "tv.pth"
    torch.save(reference.state_dict(), path)
    model = build_classifier(dict(type="ImageClassifier", neck=None,
                                  backbone=dict(type="VisionTransformer", arch=VIT_ARCH, img_size=32, patch_size=8),
                                  head=dict(type="VisionTransformerClsHead", num_classes=3, in_channels=32))).eval()
    load_checkpoint(model, path, skip_mismatched_head=False)
    with torch.no_grad():
        assert torch.allclose(model(image()), reference(image()), atol=1e-5)
    # minim's checkpoints of the former torchvision-based layout ("backbone." + torchvision keys) load too
    old_layout = {f"backbone.{k}": v for k, v in reference.state_dict().items() if not k.startswith("heads.")}
    converted = convert_state_dict(model, old_layout)
    assert set(converted) == {k for k in model.state_dict() if k.startswith("backbone.")}


def test_distilled_vit_head_averages_class_and_distillation_classifiers():
    model = build_classifier(dict(type="ImageClassifier", neck=None,
                                  backbone=dict(type="DistilledVisionTransformer", arch=VIT_ARCH, img_size=32,
                                                patch_size=8),
                                  head=dict(type="DeiTClsHead", num_classes=3, in_channels=32,
                                            init_cfg=dict(type="Normal", layer="Linear", std=0.1)))).eval()
    feats = model.backbone(image())
    patches, cls_token, dist_token = feats[-1]
    assert patches.shape == (2, 32, 4, 4) and model.backbone.pos_embed.shape == (1, 18, 32)
    expected = (model.head.layers.head(cls_token) + model.head.layers.head_dist(dist_token)) / 2
    assert torch.allclose(model(image()), expected)
    assert model.head.linear_layer_paths() == ["layers.head", "layers.head_dist"]
    assert set(model.head.forward_train(feats, torch.tensor([0, 2]))) == {"loss"}


def test_t2t_vit_outputs_and_sinusoid_table():
    backbone = BACKBONES.build(dict(type="T2T_ViT", img_size=32, embed_dims=32, num_layers=2, out_indices=(0, 1),
                                    t2t_cfg=dict(token_dims=8),
                                    layer_cfgs=dict(num_heads=2, feedforward_channels=48))).eval()
    outs = backbone(image())
    assert [o[0].shape for o in outs] == [(2, 32, 2, 2)] * 2
    assert "pos_embed" in backbone.state_dict() and not backbone.pos_embed.requires_grad
    assert backbone.pos_embed[0, 0, :2].tolist() == [0.0, 1.0]  # sin(0), cos(0)


def test_tnt_outputs_class_token_and_checks_input_size():
    backbone = BACKBONES.build(dict(type="TNT", arch=dict(embed_dims_outer=32, embed_dims_inner=8, num_layers=1,
                                                          num_heads_outer=2, num_heads_inner=2),
                                    img_size=32, patch_size=16)).eval()
    (token,) = backbone(image())
    assert token.shape == (2, 32)
    assert backbone.layers[0].inner_block.attn.attn.in_proj_bias is None  # qkv_bias=False
    with pytest.raises(ValueError, match="img_size"):
        backbone(image(48))


def test_conformer_outputs_both_branches_and_head_averages_branch_losses():
    model = build_classifier(dict(type="ImageClassifier", neck=None,
                                  backbone=dict(type="Conformer", arch=dict(embed_dims=32, channel_ratio=1,
                                                                            num_heads=2, depths=3),
                                                base_channels=16, out_indices=[2, -1]),
                                  head=dict(type="ConformerHead", num_classes=3, in_channels=[64, 32])))
    feats = model.backbone(image(56))
    assert [[tuple(t.shape) for t in out] for out in feats] == [[(2, 32), (2, 32)], [(2, 64), (2, 32)]]
    head = model.head
    label = torch.tensor([0, 1])
    conv_score, trans_score = head.branch_scores(feats)
    expected = (head.compute_loss(conv_score, label, avg_factor=2) + head.compute_loss(trans_score, label,
                                                                                        avg_factor=2)) / 2
    assert torch.allclose(head.forward_train(feats, label)["loss"], expected)
    assert torch.allclose(head(feats), conv_score + trans_score)


def test_mlp_mixer_outputs_token_channels_and_checks_input_size():
    backbone = BACKBONES.build(dict(type="MlpMixer", arch=dict(embed_dims=32, num_layers=2, tokens_mlp_dims=16,
                                                               channels_mlp_dims=48),
                                    img_size=32, patch_size=8, out_indices=[-2, -1])).eval()
    outs = backbone(image())
    assert [tuple(o.shape) for o in outs] == [(2, 32, 16)] * 2
    with pytest.raises(ValueError, match="img_size"):
        backbone(image(48))


@pytest.mark.parametrize("cfg, word", [
    (dict(type="VisionTransformer", arch="xl"), "arch"),
    (dict(type="VisionTransformer", arch=VIT_ARCH, out_indices=3), "out_indices"),
    (dict(type="VisionTransformer", arch=VIT_ARCH, with_cls_token=False), "output_cls_token"),
    (dict(type="VisionTransformer", arch=VIT_ARCH, norm_cfg=dict(type="BN")), "norm_cfg"),
    (dict(type="VisionTransformer", arch=VIT_ARCH, patch_cfg=dict(conv_type="Conv3d")), "conv_type"),
    (dict(type="T2T_ViT", t2t_cfg=dict(use_performer=True)), "use_performer"),
    (dict(type="TNT", arch="s", act_cfg=dict(type="ReLU")), "act_cfg"),
    (dict(type="Conformer", out_indices=1), "out_indices"),
    (dict(type="MlpMixer", arch="s", out_indices=0), "out_indices"),
])
def test_unsupported_arguments_are_build_errors(cfg, word):
    with pytest.raises(BuildError, match=word):
        BACKBONES.build(cfg)


def test_conformer_head_needs_two_widths():
    with pytest.raises((BuildError, ValueError), match="in_channels"):
        HEADS.build(dict(type="ConformerHead", num_classes=3, in_channels=64))
