"""``minim run cls convert``: minim checkpoints to plain torchvision / timm state dicts and back, bit for bit;
``.safetensors`` wherever a checkpoint is read or published; index entries offering both files."""

from __future__ import annotations

import hashlib
import json
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
