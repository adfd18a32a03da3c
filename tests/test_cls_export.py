"""Self-describing exports: ONNX and TorchScript files carry class names and preprocessing, and
``minim infer cls model.onnx|model.pt IMG`` gives the ``.pth``'s predictions without a config."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from cls_tools_support import make_checkpoint

pytestmark = pytest.mark.slow  # every test uses the exported files (a checkpoint and two exports, ~8 s)

DIGITS_CONFIG = Path(__file__).resolve().parents[1] / "model_index/cls/configs/mobilenet_v2/mobilenet-v2_digits.py"
CLASSES = [str(i) for i in range(10)]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A random-weight (calibrated) narrow digits MobileNetV2, 6 digit images, and its two exports."""
    from sklearn.datasets import load_digits
    from PIL import Image

    from minim.cli.main import main

    root = tmp_path_factory.mktemp("export")
    images = root / "images"
    images.mkdir()
    for i, pixels in enumerate(load_digits().images[:6]):
        Image.fromarray((pixels * 16).clip(0, 255).astype(np.uint8)).save(images / f"{i}.png")
    config = root / "digits_narrow.py"
    config.write_text(f"_base_ = [{str(DIGITS_CONFIG)!r}]\nmodel = dict(backbone=dict(widen_factor=0.25))\n")
    checkpoint = make_checkpoint(root / "digits.pth", config, CLASSES)
    for tool, out in (("pytorch2onnx", "m.onnx"), ("pytorch2torchscript", "m.pt")):
        extra = ["--dynamic-export"] if tool == "pytorch2onnx" else []
        with pytest.raises(SystemExit) as done:
            main(["run", "cls", tool, str(config), "--checkpoint", str(checkpoint), "--output-file", str(root / out),
                  *extra])
        assert done.value.code in (0, None)
    return dict(config=config, checkpoint=checkpoint, images=images, onnx=root / "m.onnx", torchscript=root / "m.pt")


def _torchscript_description(path):
    import torch

    extra = {"minim.export": ""}
    torch.jit.load(str(path), _extra_files=extra)
    return json.loads(extra["minim.export"])


def test_both_files_describe_the_model_and_its_preprocessing(digits):
    props = {p.key: p.value for p in onnx.load(digits["onnx"]).metadata_props}
    from_onnx = json.loads(props["minim.export"])
    from_torchscript = _torchscript_description(digits["torchscript"])
    for description in (from_onnx, from_torchscript):
        assert description["format"] == "minim.export" and description["version"] == 1
        assert description["classes"] == CLASSES
        assert description["input"]["shape"] == [1, 3, 32, 32] and description["input"]["layout"] == "NCHW"
        assert description["input"]["channel_order"] == "BGR"  # the digits config normalises with to_rgb=False
        assert description["mean"] == [77.85] * 3 and description["std"] == [95.85] * 3
        assert description["resize"] == {"type": "Resize", "size": 32, "interpolation": "bilinear",
                                         "adaptive_side": "short", "backend": "cv2"}
        assert description["crop"] is None
        assert [s["type"] for s in description["test_pipeline"]] == [
            "LoadImageFromFile", "Resize", "Normalize", "ImageToTensor", "Collect"]
        assert description["output"] == {"name": "probs", "kind": "softmax"}
    assert from_onnx["input"]["dynamic_batch"] and from_onnx["input"]["name"] == "input"


def _infer(run_cli, model, images, *extra):
    result = run_cli("infer", "cls", str(model), str(images), "--json", "--topk", "10", *extra)
    assert result.exit_code == 0, result.err
    return {Path(r["file"]).name: r for r in json.loads(result.out)}


def test_infer_from_the_files_alone_matches_the_pth(run_cli, digits):
    expected = _infer(run_cli, digits["config"], digits["images"], "--checkpoint", str(digits["checkpoint"]))
    assert len({r["pred_label"] for r in expected.values()}) > 1  # the images get different answers
    for exported in (digits["onnx"], digits["torchscript"]):
        got = _infer(run_cli, exported, digits["images"])
        assert got.keys() == expected.keys()
        for name, result in got.items():
            assert result["pred_class"] == expected[name]["pred_class"]
            want = {t["label"]: t["score"] for t in expected[name]["topk"]}
            assert max(abs(t["score"] - want[t["label"]]) for t in result["topk"]) <= 1e-4


def test_init_model_loads_an_exported_file_for_inference_model(digits):
    import warnings

    from minim.cls.apis import inference_model, init_model

    from PIL import Image

    image = np.asarray(Image.open(digits["images"] / "0.png"))  # a grey H x W array
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = inference_model(init_model(str(digits["config"]), str(digits["checkpoint"])), image)
    for exported in (digits["onnx"], digits["torchscript"]):
        model = init_model(str(exported))
        assert model.CLASSES == CLASSES
        result = inference_model(model, image)
        assert result["pred_label"] == reference["pred_label"]
        np.testing.assert_allclose(result["scores"], reference["scores"], atol=1e-4)


def test_exported_file_errors_are_one_line(run_cli, digits, tmp_path, monkeypatch):
    result = run_cli("infer", "cls", str(digits["onnx"]), str(digits["images"]), "--checkpoint",
                     str(digits["checkpoint"]))
    assert result.exit_code == 2 and "--checkpoint does not apply" in result.err

    bare = tmp_path / "bare.onnx"  # another tool's export: no description
    model = onnx.load(digits["onnx"])
    del model.metadata_props[:]
    onnx.save(model, bare)
    result = run_cli("infer", "cls", str(bare), str(digits["images"]))
    assert result.exit_code == 1 and "has no 'minim.export' metadata" in result.err
    assert result.err.count("\n") == 1

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    result = run_cli("infer", "cls", str(digits["onnx"]), str(digits["images"]))
    assert result.exit_code == 1 and "needs onnxruntime" in result.err and "pip install 'minim[onnx]'" in result.err
