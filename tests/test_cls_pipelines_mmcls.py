"""minim's transforms, metrics and CLASSES against values recorded from the real mmcls 0.25 / mmcv 1.7.

The fixtures (``tests/fixtures/mmcls_pipelines``: two tiny images, mmcls's output of each case, its
metric values and ``CLASSES`` types) are recorded by
``scripts/check_mmcls_pipelines.py --mmcls-python ... --record-fixtures tests/fixtures/mmcls_pipelines``;
CI has no mmcls. Each case starts with ``LoadImageFromFile``; random cases seed Python's ``random``
(which mmcls and minim both draw from) the same way.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from minim.cls.datasets import CustomDataset, ImageNet
from minim.cls.datasets.pipelines import Compose
from minim.cls.metrics import evaluate
from minim.errors import BuildError, ConfigValueError

FIXTURES = Path(__file__).parent / "fixtures" / "mmcls_pipelines"
RECORDED = json.loads((FIXTURES / "cases.json").read_text())
OUTPUTS = np.load(FIXTURES / "outputs.npz")
CASES = {case["name"]: case for case in RECORDED["cases"]}


def _steps(steps: list[dict]) -> list[dict]:
    """JSON turned tuples into lists: sizes back to tuples, as configs give them."""
    return [{k: tuple(v) if isinstance(v, list) else v for k, v in step.items()} for step in steps]


def run_minim(case: dict) -> np.ndarray:
    """minim's output of ``case`` as mmcls holds it (``H x W x C``, mmcls's channel order)."""
    if case.get("seed") is not None:
        random.seed(case["seed"])
        np.random.seed(case["seed"])
    pipeline = Compose([dict(type="LoadImageFromFile", to_float32=case.get("to_float32", False)),
                        *_steps(case["steps"])])
    results = pipeline({"img_prefix": str(FIXTURES), "img_info": {"filename": case["image"]}})
    img = results["img"].permute(1, 2, 0).numpy()
    if img.shape[2] == 3 and results["channel_order"] != results["mmcls_order"]:
        img = img[:, :, ::-1]
    assert tuple(results["img_shape"]) == img.shape
    return img


@pytest.mark.parametrize("name", sorted(CASES))
def test_transform_matches_mmcls(name):
    expected = OUTPUTS[name]
    if expected.ndim == 2:
        expected = expected[:, :, None]
    ours = run_minim(CASES[name])
    assert ours.shape == expected.shape and ours.dtype == expected.dtype
    diff = np.abs(ours.astype(np.float64) - expected.astype(np.float64))
    if expected.dtype == np.uint8:
        # identical here; at most one level on a CPU whose OpenCV picks other SIMD kernels
        assert diff.max() <= 1 and diff.mean() <= 0.02, (diff.max(), diff.mean())
    else:
        assert diff.max() <= 1e-3, diff.max()


def test_cv2_and_pillow_backends_differ_on_downscales():
    """The two backends are not interchangeable: cv2 does not anti-alias (the reason minim follows ``backend``)."""
    cv2_out, pillow_out = OUTPUTS["resize-cv2-bilinear-13x17"], OUTPUTS["resize-pillow-bilinear-13x17"]
    assert np.abs(cv2_out.astype(int) - pillow_out.astype(int)).max() > 1
    assert np.array_equal(run_minim(CASES["resize-cv2-bilinear-13x17"]), cv2_out)


def test_center_crop_larger_than_the_image_keeps_it_uncropped():
    assert run_minim(CASES["centercrop-both-larger"]).shape == (23, 37, 3)
    assert run_minim(CASES["centercrop-larger-than-image"]).shape == (23, 30, 3)


def test_scalar_pad_val_fills_mmcls_first_channel_only():
    padded = run_minim(CASES["pad-scalar"])  # mmcls's BGR view
    assert padded[-1, -1].tolist() == [128, 0, 0]


def test_cv2_backend_without_opencv_is_a_build_error(monkeypatch):
    from minim.cls.datasets.pipelines import _resize

    _resize.cv2_module.cache_clear()
    monkeypatch.setitem(sys.modules, "cv2", None)
    try:
        with pytest.raises(BuildError, match="opencv-python-headless"):
            Compose([dict(type="Resize", size=8)])
        Compose([dict(type="Resize", size=8, backend="pillow")])
    finally:
        _resize.cv2_module.cache_clear()


@pytest.mark.parametrize("index", range(len(RECORDED["metrics"])))
def test_metrics_match_mmcls(index):
    scores, labels, metric, options = RECORDED["metric_cases"][index]
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    ours = evaluate(np.array(scores, dtype=np.float32), labels, metric, options)
    expected = RECORDED["metrics"][index]
    assert list(ours) == list(expected)
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_top1_ties_rank_as_torch_topk():
    result = evaluate(np.full((1, 4), 0.25), [2], ["accuracy", "precision", "recall"], dict(topk=1))
    assert result == {"accuracy": 100.0, "precision": 25.0, "recall": 25.0}
    _, index = torch.topk(torch.full((1, 4), 0.25), k=1)
    assert int(index) == 2


def test_evaluate_with_a_metric_in_place_of_the_labels_is_a_clear_error():
    with pytest.raises(ConfigValueError, match="third argument") as info:
        evaluate(np.full((2, 3), 1 / 3), "other")
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="unknown metric 'other'"):
        evaluate(np.full((2, 3), 1 / 3), [0, 1], "other")


def test_classes_types_match_mmcls(tmp_path):
    names = tmp_path / "classes.txt"
    names.write_text("b\na\n")
    ours = {"file": CustomDataset.get_classes(str(names)), "list": CustomDataset.get_classes(["a"]),
            "tuple": CustomDataset.get_classes(("a",)), "default": ImageNet.get_classes()}
    assert {k: type(v).__name__ for k, v in ours.items()} == RECORDED["classes"]
    assert ours["file"] == ["b", "a"]
