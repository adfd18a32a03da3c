"""``minim run cls pytorch2onnx``: ONNX export with softmax scores out, checked and verified."""

from __future__ import annotations

import importlib.util
import sys
import warnings

import numpy as np
import onnx
import pytest
import torch

from cls_tools_support import make_checkpoint, tiny_shufflenet_config, write_image_tree

HAS_ORT = importlib.util.find_spec("onnxruntime") is not None


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    data = write_image_tree(root / "data", ("a", "b", "c"), per_class=1)
    config = tiny_shufflenet_config(root / "tiny.py", data)
    return config, make_checkpoint(root / "ckpt.pth", config, ("a", "b", "c"))


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def _torch_scores(config, checkpoint, images):
    from minim.cls.apis import init_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = init_model(str(config), str(checkpoint))
    with torch.no_grad():
        return model.forward_test(torch.from_numpy(images)).numpy()


def test_export_checks_and_verifies(run_cli, tmp_path, model_files):
    config, checkpoint = model_files
    out = tmp_path / "deploy" / "model.onnx"
    result = run_cli("run", "cls", "pytorch2onnx", str(config), "--checkpoint", str(checkpoint),
                     "--output-file", str(out), "--shape", "32", "--dynamic-export", "--verify")
    assert result.exit_code == 0, result.err
    assert "input 'input' 1x3x32x32, output 'probs'" in result.out
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == ["probs"]
    assert _dims(model.graph.input[0])[0] == "batch" and _dims(model.graph.output[0]) == ["batch", 3]
    assert not list(out.parent.glob(".*"))
    if HAS_ORT:
        assert "the ONNX and PyTorch scores match" in result.out
        import onnxruntime

        images = np.random.default_rng(1).standard_normal((4, 3, 32, 32)).astype(np.float32)
        session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        (probs,) = session.run(["probs"], {"input": images})
        expected = _torch_scores(config, checkpoint, images)
        np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
        assert len(set(probs.argmax(axis=1))) > 1 or probs.max() > 0.5  # non-trivial scores were compared
    else:
        assert "verification skipped" in result.err and "pip install onnxruntime" in result.err


def test_verify_without_onnxruntime_says_how_to_enable_it(run_cli, tmp_path, model_files, monkeypatch):
    config, checkpoint = model_files
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    result = run_cli("run", "cls", "pytorch2onnx", str(config), "--checkpoint", str(checkpoint),
                     "--output-file", str(tmp_path / "m.onnx"), "--shape", "32", "--verify", "--opset-version", "13")
    assert result.exit_code == 0, result.err
    assert "verification skipped: onnxruntime is not installed" in result.err
    assert "pip install onnxruntime" in result.err and "opset 13" in result.out
    assert onnx.load(tmp_path / "m.onnx").opset_import[0].version == 13


@pytest.mark.skipif(importlib.util.find_spec("onnxscript") is None, reason="the dynamo exporter needs onnxscript")
def test_dynamo_exporter(run_cli, tmp_path, model_files):
    config, checkpoint = model_files
    result = run_cli("run", "cls", "pytorch2onnx", str(config), "--checkpoint", str(checkpoint), "--exporter", "dynamo",
                     "--output-file", str(tmp_path / "m.onnx"), "--shape", "32", "--dynamic-export", "--verify")
    assert result.exit_code == 0, result.err and "dynamo exporter" in result.out
    onnx.checker.check_model(onnx.load(tmp_path / "m.onnx"))


def test_bad_arguments(run_cli, tmp_path, model_files):
    config, checkpoint = model_files
    result = run_cli("run", "cls", "pytorch2onnx", str(config), "--checkpoint", str(checkpoint),
                     "--output-file", str(tmp_path / "m.pb"))
    assert result.exit_code == 2 and "must end with .onnx" in result.err and not (tmp_path / "m.pb").exists()
    result = run_cli("run", "cls", "pytorch2onnx", str(config), "--checkpoint", str(tmp_path / "none.pth"),
                     "--output-file", str(tmp_path / "m.onnx"))
    assert result.exit_code == 1 and "none.pth" in result.err and not (tmp_path / "m.onnx").exists()


@pytest.mark.slow
def test_a_failed_export_is_one_line_with_nothing_on_stdout(tmp_path, model_files):
    """torch's C++ prints the IR graph of a failed export to file descriptor 1; the user sees one line."""
    from conftest import minim_subprocess

    config, checkpoint = model_files
    done = minim_subprocess("run", "cls", "pytorch2onnx", str(config), "--checkpoint", str(checkpoint),
                            "--output-file", str(tmp_path / "m.onnx"), "--shape", "32", "--opset-version", "99",
                            "--exporter", "legacy")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("minim: error: ONNX export (legacy exporter, opset 99) failed")
    assert done.stderr.count("\n") == 1 and not (tmp_path / "m.onnx").exists()
