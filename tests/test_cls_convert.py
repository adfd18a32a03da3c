"""``minim run cls convert``: minim checkpoints to plain torchvision / timm state dicts and back, bit for bit;
``.safetensors`` wherever a checkpoint is read or published; index entries offering both files."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

import pytest
import torch

from cls_tools_support import make_checkpoint, tiny_config, write_image_tree
from index_support import entry, write_index

DIGITS_CONFIG = Path(__file__).resolve().parents[1] / "model_index/cls/configs/mobilenet_v2/mobilenet-v2_digits.py"
DIGITS = [str(i) for i in range(10)]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A narrow digits MobileNetV2 checkpoint (random, calibrated weights) and a folder of two images."""
    root = tmp_path_factory.mktemp("convert")
    images = write_image_tree(root / "images", ("a", "b"), per_class=1)
    config = root / "digits_narrow.py"
    config.write_text(f"_base_ = [{str(DIGITS_CONFIG)!r}]\nmodel = dict(backbone=dict(widen_factor=0.25))\n")
    return config, make_checkpoint(root / "digits.pth", config, DIGITS), images


def _model(config):
    from minim.cls.apis import init_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return init_model(str(config))


def _randomize(model, seed=0):
    """Every tensor random (a fresh ResNet's zero-initialised residual BNs would hide a misplaced tensor)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator) + 0.5 if "running_var" in name else \
                    torch.randn(tensor.shape, generator=generator) * 0.1
                tensor.copy_(values)
    return model


def _equal_states(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _tiny_densenet():
    """(minim config, torchvision model) of a DenseNet with one 8-channel layer per block."""
    import torchvision

    from minim.cls.models.zoo import model_config_for_arch

    config = model_config_for_arch("densenet121", num_classes=3)
    config["backbone"]["arch"] = {"growth_rate": 8, "depths": [1, 1, 1, 1], "init_channels": 16}
    config["head"]["in_channels"] = 17  # 16 + 8 -> 12 + 8 -> 10 + 8 -> 9 + 8
    return config, torchvision.models.DenseNet(8, (1, 1, 1, 1), 16, num_classes=3)


@pytest.mark.parametrize("arch", [pytest.param("resnet18", marks=pytest.mark.slow), "mobilenet_v2",
                                  "shufflenet_v2_x0_5", "mobilenet_v3_small", "densenet"])
def test_families_convert_to_torchvision_and_back_bit_for_bit(arch):
    import torchvision

    from minim.cls.analysis.convert import plain_state_dict
    from minim.cls.checkpoint import convert_state_dict
    from minim.cls.models import build_classifier
    from minim.cls.models.zoo import model_config_for_arch

    if arch == "densenet":
        config, torchvision_model = _tiny_densenet()
    else:
        config, torchvision_model = model_config_for_arch(arch, 3), torchvision.models.get_model(arch, num_classes=3)
    model = _randomize(build_classifier(config)).eval()
    image = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(image)
    plain_models = [("torchvision", torchvision_model)]
    if arch == "resnet18":
        import timm

        plain_models.append(("timm", timm.create_model(arch, num_classes=3)))
    for fmt, plain_model in plain_models:
        plain = plain_state_dict(model, fmt)
        plain_model.load_state_dict(plain)  # strict: every key in place
        with torch.no_grad():
            assert torch.equal(plain_model.eval()(image), expected), fmt
        assert _equal_states(convert_state_dict(model, plain), model.state_dict())  # what load_checkpoint does


@pytest.mark.parametrize("arch, torchvision_device", [("vgg11_bn", "meta"), ("vit_b_16", "meta"),
                                                      ("convnext_tiny", "meta"), ("swin_t", "meta"),
                                                      ("regnet_x_800mf", "cpu")])  # torchvision's RegNet needs data
def test_large_families_map_onto_torchvision_keys_and_shapes(arch, torchvision_device):
    """Built on the meta device (no memory, no compute): every plain key and shape is torchvision's, and back."""
    import torchvision

    from minim.cls.analysis.convert import plain_state_dict
    from minim.cls.checkpoint import convert_state_dict
    from minim.cls.models import build_classifier
    from minim.cls.models.zoo import model_config_for_arch

    with torch.device("meta"):
        model = build_classifier(model_config_for_arch(arch, num_classes=3))
    with torch.device(torchvision_device):
        expected = torchvision.models.get_model(arch, num_classes=3).state_dict()
    plain = plain_state_dict(model, "torchvision")
    assert {k: v.shape for k, v in plain.items()} == {k: v.shape for k, v in expected.items()}
    assert sorted(convert_state_dict(model, plain)) == sorted(model.state_dict())


@pytest.mark.slow
def test_mobilenet_v2_round_trip_through_the_cli(run_cli, tmp_path, digits):
    import torchvision

    config, checkpoint, _ = digits
    plain_file, back = tmp_path / "tv.pth", tmp_path / "back.pth"
    result = run_cli("run", "cls", "convert", str(checkpoint), str(plain_file), "--to", "torchvision")
    assert result.exit_code == 0, result.err
    assert "torchvision layout from MobileNetV2" in result.out
    plain = torch.load(plain_file, weights_only=True)
    assert "classifier.1.weight" in plain and not any(k.startswith(("backbone.", "head.")) for k in plain)
    reference = _model(config)
    reference.load_state_dict(torch.load(checkpoint, weights_only=True)["state_dict"])
    tv_model = torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10)
    tv_model.load_state_dict(plain)
    image = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(tv_model.eval()(image), reference(image))
    result = run_cli("run", "cls", "convert", str(plain_file), str(back), "--to", "minim", "--config", str(config))
    assert result.exit_code == 0, result.err
    original = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert _equal_states(torch.load(back, weights_only=True)["state_dict"], original)


def test_conversion_errors_are_one_line(run_cli, tmp_path, digits):
    from minim.cls.analysis.convert import plain_state_dict
    from minim.errors import CheckpointError

    config, checkpoint, _ = digits
    result = run_cli("run", "cls", "convert", str(checkpoint), str(tmp_path / "x.pth"), "--to", "torchvison")
    assert result.exit_code == 2 and "choose one of minim, torchvision, timm, safetensors" in result.err
    assert "did you mean 'torchvision'" in result.err and result.err.count("\n") == 1
    result = run_cli("run", "cls", "convert", str(checkpoint), str(tmp_path / "x.pth"), "--to", "timm")
    assert result.exit_code == 1 and "MobileNetV2's plain counterpart is torchvision's" in result.err
    assert "use --to torchvision" in result.err and not (tmp_path / "x.pth").exists()
    plain = tmp_path / "plain.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, plain)
    result = run_cli("run", "cls", "convert", str(plain), str(tmp_path / "y.pth"))
    assert result.exit_code == 2 and "does not hold its config: give --config" in result.err

    cifar = tiny_config(tmp_path / "cifar.py", tmp_path, backbone="dict(type='ResNet_CIFAR', depth=18)")
    with pytest.raises(CheckpointError, match="ResNet_CIFAR .as configured. has no plain torchvision/timm"):
        plain_state_dict(_model(cifar), "torchvision")  # torchvision's ResNet keys, another network


def test_safetensors_checkpoint_infer_load_and_publish(run_cli, tmp_path, digits):
    from minim.cls.checkpoint import load_checkpoint, read_checkpoint

    config, checkpoint, images = digits
    st = tmp_path / "digits.safetensors"
    result = run_cli("run", "cls", "convert", str(checkpoint), str(st), "--to", "safetensors")
    assert result.exit_code == 0, result.err
    content = read_checkpoint(st)
    assert content["meta"]["CLASSES"] == DIGITS and "rng_state" not in content["meta"]
    model = _model(config)
    assert load_checkpoint(model, st)["CLASSES"] == DIGITS  # the load_from / init_cfg path
    assert _equal_states(model.state_dict(), torch.load(checkpoint, weights_only=True)["state_dict"])

    outputs = []
    for weights in (checkpoint, st):
        result = run_cli("infer", "cls", str(config), str(images), "--checkpoint", str(weights), "--json")
        assert result.exit_code == 0, result.err
        outputs.append(json.loads(result.out))
    assert outputs[0] == outputs[1]

    names = []
    for folder in ("one", "two"):
        result = run_cli("run", "cls", "publish_model", str(checkpoint), str(tmp_path / folder / "digits.safetensors"))
        assert result.exit_code == 0, result.err
        (published,) = (tmp_path / folder).glob("*.safetensors")
        digest = hashlib.sha256(published.read_bytes()).hexdigest()
        assert published.name == f"digits-{digest[:8]}.safetensors"
        names.append(published.name)
    assert names[0] == names[1]  # the same weights give the same bytes
    assert read_checkpoint(published)["meta"]["CLASSES"] == DIGITS


def test_the_new_tools_are_listed(run_cli):
    result = run_cli("run", "cls", "--list")
    assert result.exit_code == 0 and "convert" in result.out and "pytorch2torchscript" in result.out


def test_index_entry_may_list_both_files_and_prefers_safetensors(tmp_path):
    from minim.errors import ModelIndexError
    from minim.index import read_index_file

    pth = {"url": "http://127.0.0.1:9/tiny-0123abcd.pth", "sha256": "0123abcd", "size": None, "format": "minim"}
    st = {**pth, "url": "http://127.0.0.1:9/tiny-4567abcd.safetensors", "sha256": "4567abcd"}
    _, (parsed,) = read_index_file(write_index(tmp_path, [entry("tiny", weights=[pth, st])], configs=False))
    assert parsed.weights.filename == "tiny-4567abcd.safetensors"
    assert [w.filename for w in parsed.other_weights] == ["tiny-0123abcd.pth"]
    assert parsed.to_json()["weights"] == [st, pth]
    _, (single,) = read_index_file(write_index(tmp_path / "b", [entry("tiny", weights=pth)], configs=False))
    assert single.to_json()["weights"] == pth and single.other_weights == ()
    with pytest.raises(ModelIndexError, match="empty list"):
        read_index_file(write_index(tmp_path / "c", [entry("tiny", weights=[])], configs=False))


#: tiny ConvNeXt / Swin / Swin v2 configs and their (input size, window) per format: at 64x64 with 7x7 windows the
#: first stages shift and the last ones are padded (torchvision); timm's sizes give every stage whole windows
_TINY_MODERN = {
    "convnext": ("dict(type='ConvNeXt', arch=dict(depths=[1, 1, 2, 1], channels=[8, 16, 32, 64]))", 64,
                 {"torchvision": (64, 7), "timm": (64, 7)}),
    "swin": ("dict(type='SwinTransformer', arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4]), "
             "img_size={size}, window_size={window})", 128, {"torchvision": (64, 7), "timm": (128, 4)}),
    "swin_v2": ("dict(type='SwinTransformerV2', arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], "
                "extra_norm_every_n_blocks=0), img_size={size}, window_size={window})", 128,
                {"torchvision": (64, 4), "timm": (128, 4)}),
}

def _tiny_plain_model(arch, fmt):
    """The torchvision / timm model of ``_TINY_MODERN[arch]``."""
    import timm
    from torchvision.models import convnext, swin_transformer as swin

    size, window = _TINY_MODERN[arch][2][fmt]
    swin_kwargs = dict(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), num_classes=3)
    if arch == "convnext":
        if fmt == "timm":
            return timm.create_model("convnext_tiny", depths=(1, 1, 2, 1), dims=(8, 16, 32, 64), num_classes=3)
        channels = [8, 16, 32, 64]
        stages = [convnext.CNBlockConfig(c, n, d) for c, n, d in zip(channels, channels[1:] + [None], (1, 1, 2, 1))]
        return convnext.ConvNeXt(stages, num_classes=3)
    if fmt == "timm":
        name = "swin_tiny_patch4_window7_224" if arch == "swin" else "swinv2_tiny_window8_256"
        return timm.create_model(name, img_size=size, window_size=window, **swin_kwargs)
    v2 = {"block": swin.SwinTransformerBlockV2, "downsample_layer": swin.PatchMergingV2} if arch == "swin_v2" else {}
    return swin.SwinTransformer(patch_size=[4, 4], window_size=[window, window], **v2, **swin_kwargs)


def _tiny_modern_config(tmp_path, arch, fmt="torchvision", option=""):
    backbone, width, sizes = _TINY_MODERN[arch]
    size, window = sizes[fmt]
    backbone = backbone.format(size=size, window=window)
    if option:
        backbone = backbone[:-1] + f", {option})"
    return tiny_config(tmp_path / f"{arch}.py", tmp_path, backbone=backbone, in_channels=width)


@pytest.mark.parametrize("fmt", ["torchvision", "timm"])
@pytest.mark.parametrize("arch", ["convnext", "swin", "swin_v2"])
def test_convnext_and_swin_convert_to_plain_and_back_bit_for_bit(run_cli, tmp_path, arch, fmt):
    """Through the CLI: the plain network gives minim's logits (in float64 the same up to rounding, once
    ConvNeXt's downsampling norms get mmcls's eps) and ``--to minim`` restores every tensor bit for bit."""
    from minim.cls.checkpoint import save_checkpoint
    from minim.cls.models.backbones.swin import DERIVED_BUFFERS

    size = _TINY_MODERN[arch][2][fmt][0]
    config = _tiny_modern_config(tmp_path, arch, fmt)
    model = _model(config)
    derived = {key: value.clone() for key, value in model.state_dict().items() if key.endswith(DERIVED_BUFFERS)}
    model = _randomize(model).eval()
    model.load_state_dict(derived, strict=False)  # as computed from the config (timm computes them too)
    assert fmt in model.backbone.plain_formats
    checkpoint, plain_file, back = tmp_path / "minim.pth", tmp_path / f"{fmt}.pth", tmp_path / "back.pth"
    save_checkpoint(checkpoint, model)
    result = run_cli("run", "cls", "convert", str(checkpoint), str(plain_file), "--to", fmt)
    assert result.exit_code == 0, result.err
    plain_model = _tiny_plain_model(arch, fmt).eval()
    plain_model.load_state_dict(torch.load(plain_file, weights_only=True))  # strict: every key in place
    image = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # ConvNeXt: up to 1.8e-5 measured (logits ~0.3), from the eps alone
        assert (plain_model(image) - model(image)).abs().max() <= (1e-4 if arch == "convnext" else 1e-5)
        if arch == "convnext":  # mmcls's downsampling norms: eps 1e-5 (torchvision's and timm's: 1e-6)
            norms = [module for name, module in plain_model.named_modules()
                     if re.fullmatch(r"features\.[246]\.0|stages\.[123]\.downsample\.0", name)]
            for norm in norms:
                norm.eps = 1e-5
            assert len(norms) == 3
        image = image.double()
        assert (plain_model.double()(image) - model.double()(image)).abs().max() <= 1e-12

    result = run_cli("run", "cls", "convert", str(plain_file), str(back), "--to", "minim", "--config", str(config))
    assert result.exit_code == 0, result.err
    assert _equal_states(torch.load(back, weights_only=True)["state_dict"],
                         torch.load(checkpoint, weights_only=True)["state_dict"])


@pytest.mark.parametrize("arch, option, formats", [
    ("convnext", "gap_before_final_norm=False", ()),  # normed map, then pooled
    ("convnext", "norm_cfg=dict(type='LN2d', eps=1e-5)", ()),
    ("swin", "use_abs_pos_embed=True", ()),
    ("swin", "pad_small_map=True", ()),
    ("swin", "", ("torchvision",)),  # 64x64: the first stage's 16x16 map is not whole 7x7 windows (timm's condition)
    ("swin_v2", "stage_cfgs=dict(downsample_cfg=dict(is_post_norm=False))", ()),
])
def test_convnext_and_swin_declare_only_the_plain_models_that_compute_the_same(tmp_path, arch, option, formats):
    assert _model(_tiny_modern_config(tmp_path, arch, option=option)).backbone.plain_formats == formats
