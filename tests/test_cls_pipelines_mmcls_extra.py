"""ToPIL, ToNumpy, Transpose, WrapFieldsToLists, img_fields, every interpolation and Albu, against mmcls 0.25.

The fixtures (``tests/fixtures/mmcls_formatting``: three small images and, per case, the keys, types,
dtypes, shapes and pixels of mmcls's results) are recorded by ``scripts/record_mmcls_formatting.py``
in a venv with the real mmcls; CI has no mmcls. Each case starts with ``LoadImageFromFile`` and
seeds Python's and numpy's generators as the recording did.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from minim.cls.datasets import PIPELINES, Compose
from minim.errors import BuildError, DataError

FIXTURES = Path(__file__).parent / "fixtures" / "mmcls_formatting"
RECORDED = json.loads((FIXTURES / "cases.json").read_text())
OUTPUTS = np.load(FIXTURES / "outputs.npz")
CASES = {case["name"]: case for case in RECORDED["cases"]}
#: minim's own result keys (channel bookkeeping, see minim.cls.datasets.pipelines._image)
MINIM_KEYS = {"channel_order", "mmcls_order"}
STALE_SHAPE = ("RandomCrop", "RandomResizedCrop")
FORMATTING = ("ToPIL", "ToNumpy", "Transpose", "Collect", "WrapFieldsToLists")


def _steps(steps: list[dict]) -> list[dict]:
    """JSON turned tuples into lists: back to tuples, as configs give them."""
    return [{k: tuple(v) if isinstance(v, list) else v for k, v in step.items()} for step in steps]


def load(image: str, folder: Path = FIXTURES, **kwargs) -> dict:
    results = {"img_prefix": str(folder), "img_info": {"filename": image}}
    return Compose([dict(type="LoadImageFromFile", **kwargs)])(results)


def run_minim(case: dict) -> dict:
    results = load(case["image"], **case.get("load", {}))
    if "second" in case:
        results["img2"] = load(case["second"])["img"]
        results["img_fields"] = ["img", "img2"]
    if case.get("seed") is not None:
        random.seed(case["seed"])
        np.random.seed(case["seed"])
    return Compose(_steps(case["steps"]))(results)


def mmcls_view(results: dict, value) -> np.ndarray:
    """A minim value as mmcls holds it: tensors of images as ``H x W x C`` in mmcls's channel order."""
    if isinstance(value, Image.Image):
        return np.asarray(value)
    if isinstance(value, torch.Tensor) and "channel_order" in results:  # an image tensor of the pipeline
        value = value.permute(1, 2, 0).numpy()
        if value.shape[2] == 3 and results["channel_order"] != results["mmcls_order"]:
            value = value[:, :, ::-1]
        return value
    return value.numpy() if isinstance(value, torch.Tensor) else value


def check_value(results: dict, value, recorded: dict, expected: np.ndarray, same_type: bool) -> None:
    """``same_type``: after a formatting step minim holds mmcls's type; after others a tensor where mmcls an array."""
    tensor_for_array = not same_type and recorded["type"] == "ndarray" and isinstance(value, torch.Tensor)
    assert type(value).__name__ == recorded["type"] or tensor_for_array
    if recorded["type"] == "list":
        return check_value(results, value[0], recorded["inner"], expected, same_type)
    if recorded["type"] == "Image":
        assert value.mode == recorded["mode"]
    ours = mmcls_view(results, value)
    assert str(ours.dtype) == recorded["dtype"] and list(ours.shape) == recorded["shape"]
    diff = np.abs(ours.astype(np.float64) - expected.astype(np.float64))
    limit = 1 if ours.dtype == np.uint8 else 1e-4  # one 8-bit level (identical here); float rounding
    assert diff.max() <= limit, diff.max()


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_mmcls(name):
    case = CASES[name]
    results = run_minim(case)
    assert set(results) - MINIM_KEYS == set(case["keys"])
    for key, recorded in case["values"].items():
        if f"{name}/{key}" in OUTPUTS:
            same_type = case["steps"][-1]["type"] in FORMATTING
            check_value(results, results[key], recorded, OUTPUTS[f"{name}/{key}"], same_type)
    if "flip" in case["values"]:
        assert results["flip"] == case["values"]["flip"]["value"]
    # mmcls's random crops leave img_shape as it was; minim's (as its other steps) give the new size.
    # A grey image's shape is (h, w, 1) in minim, (h, w) in mmcls.
    if "img_shape" in case["values"] and not any(step["type"] in STALE_SHAPE for step in case["steps"]):
        expected = case["values"]["img_shape"]["value"]
        assert list(results["img_shape"]) == (expected if len(expected) == 3 else expected + [1])


def test_topil_holds_mmcls_bgr_bytes_and_normalize_still_ends_in_rgb():
    rgb = load("a.png")["img"]
    results = run_minim(dict(image="a.png", steps=[dict(type="ToPIL")]))
    assert np.array_equal(np.asarray(results["img"]), rgb.permute(1, 2, 0).numpy()[:, :, ::-1])
    assert results["channel_order"] == results["mmcls_order"] == "bgr"
    steps = [dict(type="Normalize", mean=[0, 0, 0], std=[1, 1, 1], to_rgb=True)]
    direct = Compose(steps)(load("a.png"))["img"]
    through_pil = Compose([dict(type="ToPIL"), dict(type="RandomFlip", flip_prob=0.0), *steps])(load("a.png"))["img"]
    assert torch.equal(direct, through_pil) and torch.equal(direct, rgb.float())


def test_fields_share_one_random_window():
    """mmcls draws a new window per field; minim one for all (its first field's is mmcls's, see the fixture)."""
    for name in ("fields-randomcrop", "fields-randomresizedcrop"):
        case = dict(CASES[name], second=CASES[name]["image"])  # the same picture twice
        results = run_minim(case)
        assert torch.equal(results["img"], results["img2"])
        assert np.array_equal(mmcls_view(results, results["img"]), OUTPUTS[f"{name}/img"])


def test_img_fields_of_different_sizes_empty_or_missing():
    case = dict(CASES["fields-randomcrop"], second="c.png")
    with pytest.raises(DataError, match="same window, but 'img' is 27x41 and 'img2' is 35x30"):  # after padding=2
        run_minim(case)
    results = dict(load("a.png"), img_fields=[])
    random.seed(0)
    out = Compose([dict(type="RandomCrop", size=4), dict(type="RandomResizedCrop", size=4)])(results)
    assert out["img"].shape == (3, 23, 37) and random.random() == random.Random(0).random()  # nothing drawn
    results = load("a.png")
    results["img_fields"] = ["img", "missing"]
    with pytest.raises(DataError, match="img_fields'\\] names 'missing'"):
        Compose([dict(type="Resize", size=8)])(results)


def test_bad_arguments_are_one_line_errors():
    bad = [
        (dict(type="Transpose", keys="img", order=(2, 0, 1)), "keys must be a list"),
        (dict(type="Transpose", keys=["img"], order="hwc"), "order must be a sequence of axes"),
        (dict(type="RandomResizedCrop", size=8, interpolation="box", backend="pillow"), "use one of nearest"),
        (dict(type="CenterCrop", crop_size=8, efficientnet_style=True, interpolation="hamming"), "not offered"),
        (dict(type="Resize", size=8, interpolation="lanczos4"), "not offered with backend='cv2'"),
    ]
    for cfg, message in bad:
        with pytest.raises(BuildError, match=message) as error:
            PIPELINES.build(cfg)
        assert "\n" not in str(error.value)
    float_image = load("a.png", to_float32=True)
    with pytest.raises(DataError, match="ToPIL needs a uint8 image, got float32"):
        PIPELINES.build(dict(type="ToPIL"))(float_image)
    with pytest.raises(DataError, match="order \\(2, 0, 1\\) does not match results\\['img'\\], which has 2 axes"):
        Compose([dict(type="Transpose", keys=["img"], order=(2, 0, 1))])(load("a.png", color_type="grayscale"))
    with pytest.raises(DataError, match="results\\['img'\\] is not an array but Image; "):
        Compose([dict(type="ToPIL"), dict(type="Transpose", keys=["img"], order=(2, 0, 1))])(load("a.png"))


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp"])
def test_grayscale_loading_gives_opencvs_grey(tmp_path, suffix):
    """mmcv reads grey with OpenCV (libpng's weights for PNG, libjpeg's luma for JPEG, cvtColor's otherwise)."""
    import cv2  # a dependency of minim (mmcls's default resize backend)

    rng = np.random.default_rng(1)
    path = tmp_path / f"x{suffix}"
    Image.fromarray(np.clip(rng.normal(128, 60, (20, 30, 3)), 0, 255).astype(np.uint8)).save(path)
    ours = load(path.name, tmp_path, color_type="grayscale")["img"]
    assert np.array_equal(ours[0].numpy(), cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))


def test_wrap_fields_to_lists_wraps_every_value():
    out = PIPELINES.build(dict(type="WrapFieldsToLists"))({"img": 1, "img_metas": {"a": 2}})
    assert out == {"img": [1], "img_metas": [{"a": 2}]}


# -- Albu (optional: albumentations) -------------------------------------------------------------


def test_albu_without_albumentations_names_the_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "albumentations", None)
    with pytest.raises(BuildError, match="Albu needs albumentations.*pip install albumentations") as error:
        PIPELINES.build(dict(type="Albu", transforms=[dict(type="Blur")]))
    assert "\n" not in str(error.value)


def test_albu_gets_mmcls_array_and_keeps_the_label():
    albumentations = pytest.importorskip("albumentations")
    flip = dict(type="OneOf", transforms=[dict(type="HorizontalFlip", p=1.0)], p=1.0)
    transforms = [dict(type="ToGray", p=1.0), flip]
    results = load("a.png")
    bgr = results["img"].permute(1, 2, 0).numpy()[:, :, ::-1].copy()
    results["gt_label"] = np.array(3)
    albu = PIPELINES.build(dict(type="Albu", transforms=transforms, update_pad_shape=True))
    out = albu(results)
    reference = albumentations.Compose([albumentations.ToGray(p=1.0), albumentations.HorizontalFlip(p=1.0)])
    expected = reference(image=bgr)["image"]
    assert isinstance(out["img"], np.ndarray) and np.array_equal(out["img"], expected)  # mmcls's array, BGR
    assert out["gt_label"] == 3 and out["pad_shape"] == expected.shape and out["channel_order"] == "bgr"
    normalized = Compose([dict(type="Normalize", mean=[0, 0, 0], std=[1, 1, 1], to_rgb=True)])(out)["img"]
    assert torch.equal(normalized, torch.from_numpy(expected[:, :, ::-1].astype(np.float32).transpose(2, 0, 1).copy()))


def test_albu_bad_transforms_are_build_errors(monkeypatch):
    albumentations = pytest.importorskip("albumentations")
    monkeypatch.setattr(albumentations, "__version__", "1.3.1")
    with pytest.raises(BuildError, match="needs albumentations >= 2.0, found 1.3.1: pip install -U albumentations"):
        PIPELINES.build(dict(type="Albu", transforms=[dict(type="Blur")]))
    monkeypatch.undo()
    for cfg, message in [
        (dict(type="NoSuchTransform"), "albumentations has no transform 'NoSuchTransform'"),
        (dict(type="Blur", blur_limit="x"), "albumentations.Blur\\(blur_limit='x'\\) failed: "),
        ("Blur", "must be a dict with a 'type' key"),
    ]:
        with pytest.raises(BuildError, match=message) as error:
            PIPELINES.build(dict(type="Albu", transforms=[cfg]))
        assert "\n" not in str(error.value)
    too_large = PIPELINES.build(dict(type="Albu", transforms=[dict(type="RandomCrop", height=99, width=99)]))
    with pytest.raises(DataError, match="Albu failed on .*a.png: ") as error:
        too_large(load("a.png"))
    assert "\n" not in str(error.value)


def test_albu_draws_follow_numpys_global_seed():
    pytest.importorskip("albumentations")
    albu = PIPELINES.build(dict(type="Albu", transforms=[dict(type="RandomCrop", height=9, width=9)]))

    def crops(seed):
        np.random.seed(seed)
        return [albu(load("a.png"))["img"] for _ in range(3)]

    first, again, other = crops(0), crops(0), crops(1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    assert not np.array_equal(first[0], first[1])  # a new draw on every call
