"""Grad-CAM: ``minim run cls cam`` and minim.cls.analysis.cam, for a CNN and a ViT."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cls_tools_support import png_size, tiny_config, write_image_tree

SWIN = ("dict(type='SwinTransformer', arch=dict(embed_dims=16, depths=[1, 1], num_heads=[2, 2]), img_size=32, "
        "window_size=4, out_indices=(1,))")
VIT = ("dict(type='VisionTransformer', arch=dict(embed_dims=32, num_layers=2, num_heads=4, feedforward_channels=48), "
       "img_size=32, patch_size=8)")


def _checkpoint(config, path):
    """Random weights with a non-zero head (ViT's head starts at zero: every Grad-CAM would be blank)."""
    from minim.cls.apis import init_model
    from minim.cls.checkpoint import save_checkpoint

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = init_model(str(config))
    with torch.no_grad():
        for param in model.head.parameters():
            param.normal_(0, 0.5)
    return save_checkpoint(path, model, meta={"CLASSES": ["cat", "dog", "fox"]})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cam")
    images = write_image_tree(root / "data", per_class=1, size=40)
    cnn = tiny_config(root / "cnn.py", images, size=64)  # ResNet-18's last stage: 2 x 2 (32 px would give 1 x 1)
    vit = tiny_config(root / "vit.py", images, backbone=VIT, in_channels=32).read_text()
    vit = vit.replace("neck=dict(type='GlobalAveragePooling'),", "")
    vit = vit.replace("'LinearClsHead'", "'VisionTransformerClsHead'")
    (root / "vit.py").write_text(vit)
    swin = tiny_config(root / "swin.py", images, backbone=SWIN, in_channels=32)
    return {"root": root, "images": images, "cnn": (cnn, _checkpoint(cnn, root / "cnn.pth")),
            "swin": (swin, _checkpoint(swin, root / "swin.pth")),
            "vit": (root / "vit.py", _checkpoint(root / "vit.py", root / "vit.pth"))}


@pytest.mark.parametrize("kind, layer, expected_layer", [
    ("cnn", None, "backbone.layer4"),
    ("vit", "backbone.layers.-2.ln1", "backbone.layers.0.ln1"),
])
def test_cam_writes_an_overlay_per_image(run_cli, setup, tmp_path, kind, layer, expected_layer):
    config, checkpoint = setup[kind]
    args = ["run", "cls", "cam", str(config), str(setup["images"] / "cat"), str(setup["images"] / "dog" / "0.png"),
            "--checkpoint", str(checkpoint), "--out-dir", str(tmp_path / "out")]
    result = run_cli(*args, *(["--target-layer", layer] if layer else []))
    assert result.exit_code == 0, result.err
    assert f"target layer: {expected_layer}" in result.out
    pngs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert pngs == ["0_cam.png", "cat/0_cam.png"]
    side = 64 if kind == "cnn" else 32
    assert png_size(tmp_path / "out" / "0_cam.png") == (side, side)  # the image the model saw (its Resize)


@pytest.fixture(scope="module")
def models(setup):
    from minim.cls.apis import init_model

    return {kind: init_model(str(setup[kind][0]), str(setup[kind][1])) for kind in ("cnn", "vit", "swin")}


@pytest.mark.parametrize("kind, layer, expected_layer", [
    ("cnn", "backbone.layer3", "backbone.layer3"),
    ("vit", None, "backbone.layers.1.ln1"),
    ("swin", None, "backbone.norm1"),  # (N, L, C) tokens of the last stage, laid back on their 4 x 4 grid
])
def test_heatmaps_are_not_blank_and_follow_the_target_class(setup, models, kind, layer, expected_layer):
    from minim.cls.analysis.cam import compute_cam

    model = models[kind]
    image = str(setup["images"] / "fox" / "0.png")
    result = compute_cam(model, image, target_layer=layer)
    assert result.target_layer == expected_layer
    assert result.heatmap.shape == result.image.shape[:2] == ((64, 64) if kind == "cnn" else (32, 32))
    assert result.heatmap.min() == 0 and result.heatmap.max() == pytest.approx(1.0)
    assert result.target_class == int(np.argmax(_scores(model, image)))
    other = (result.target_class + 1) % 3
    by_name = compute_cam(model, image, target_layer=layer, target_class=model.CLASSES[other])
    assert by_name.target_class == other and by_name.class_name == model.CLASSES[other]
    assert not np.allclose(by_name.heatmap, result.heatmap)


def _scores(model, image):
    from minim.cls.apis import inference_model

    return inference_model(model, image)["scores"]


def test_grad_cam_of_a_pooled_linear_head_is_the_class_activation_map(setup, models):
    """With global average pooling and one linear layer after the target, Grad-CAM's channel weights are
    the class's fc weights / positions: the heat map is relu(sum_k W[c, k] * A_k), scaled to 0..1."""
    from minim.cls.analysis.cam import compute_cam
    from minim.cls.apis.inference import preprocessor

    model = models["cnn"]
    image = str(setup["images"] / "cat" / "0.png")
    result = compute_cam(model, image)
    label = result.target_class
    with torch.no_grad():
        features = model.backbone(preprocessor(model)(image)[None])
        features = features[-1] if isinstance(features, tuple) else features
        cam = F.relu(torch.einsum("k,nkhw->nhw", model.head.fc.weight[label], features))[None]
        cam = F.interpolate(cam, size=(64, 64), mode="bilinear", align_corners=False)[0, 0]
    cam = (cam - cam.min()) / (cam.max() - cam.min())
    np.testing.assert_allclose(result.heatmap, cam.numpy(), atol=1e-5)


def test_an_unknown_layer_is_one_line_listing_choices(run_cli, setup, tmp_path):
    config, checkpoint = setup["cnn"]
    result = run_cli("run", "cls", "cam", str(config), str(setup["images"] / "cat"), "--checkpoint", str(checkpoint),
                     "--out-dir", str(tmp_path), "--target-layer", "backbone.layr4")
    assert result.exit_code == 2
    assert "unknown target layer 'backbone.layr4'; did you mean backbone.layer4" in result.err
    assert result.err.strip().count("\n") == 0 and not list(tmp_path.iterdir())
    nothing_near = run_cli("run", "cls", "cam", str(config), str(setup["images"] / "cat"), "--checkpoint",
                           str(checkpoint), "--out-dir", str(tmp_path), "--target-layer", "xyz")
    assert nothing_near.exit_code == 2
    assert "layers include" in nothing_near.err and "backbone.layer4" in nothing_near.err
    bad_class = run_cli("run", "cls", "cam", str(config), str(setup["images"] / "cat"), "--checkpoint",
                        str(checkpoint), "--out-dir", str(tmp_path), "--target-class", "cta")
    assert bad_class.exit_code == 2 and "did you mean 'cat'" in bad_class.err


@pytest.mark.parametrize("shape, extra, grid", [
    ((1, 1 + 4 * 6, 5), 1, (4, 6)),   # ViT: class token + a 4 x 6 grid for a 32 x 48 input
    ((1, 2 + 4 * 6, 5), 2, (4, 6)),   # DeiT: class and distillation tokens
    ((1, 4 * 6, 5), 1, (4, 6)),       # with_cls_token=False: no token to drop
    ((1, 4 * 6, 5), 0, (4, 6)),       # Swin's (N, L, C) tokens
])
def test_tokens_become_a_grid_in_row_major_order(shape, extra, grid):
    from minim.cls.analysis.cam import activation_map

    tokens = torch.arange(shape[1], dtype=torch.float32)[None, :, None].expand(shape)
    result = activation_map(tokens, (32, 48), extra)
    dropped = shape[1] - grid[0] * grid[1]
    assert result.shape == (1, 5, *grid)
    assert torch.equal(result[0, 0], torch.arange(dropped, shape[1], dtype=torch.float32).reshape(grid))


def test_channels_last_maps_are_recognised():
    from minim.cls.analysis.cam import activation_map

    nchw = torch.randn(1, 10, 4, 6)
    assert activation_map(nchw, (32, 48)) is nchw
    assert torch.equal(activation_map(nchw.permute(0, 2, 3, 1), (32, 48)), nchw)
