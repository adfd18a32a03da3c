"""AutoAugment, RandAugment, their 14 ops and ColorJitter against pixels and random draws recorded from mmcls 0.25.

The fixture (``tests/fixtures/mmcls_augment``) is recorded by ``scripts/record_mmcls_augment.py`` with
the real mmcls; CI has no mmcls. Every case seeds Python's ``random`` and numpy (as minim seeds each
training sample), runs ``LoadImageFromFile`` and the case's steps (``order == 'rgb'``: from an RGB
array, as mmcls's CIFAR), and must give mmcls's pixels (within one 8-bit level) and leave both
generators where mmcls left them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from minim.cls.datasets import PIPELINES
from minim.cls.datasets.pipelines import Compose, read_image
from minim.errors import BuildError, DataError

FIXTURES = Path(__file__).parent / "fixtures" / "mmcls_augment"
RECORDED = json.loads((FIXTURES / "cases.json").read_text())
OUTPUTS = np.load(FIXTURES / "outputs.npz")
CASES = {case["name"]: case for case in RECORDED["cases"]}


def expected(name: str) -> np.ndarray:
    return cv2.imdecode(OUTPUTS[name], cv2.IMREAD_UNCHANGED)


def _steps(case: dict) -> list[dict]:
    """The case's steps, a policy named by the fixture replaced by mmcls's list (as configs give it)."""
    steps = [dict(step) for step in case["steps"]]
    for step in steps:
        if isinstance(step.get("policies"), str):
            step["policies"] = RECORDED["policies"][step["policies"]]
    return steps


def run_minim(case: dict) -> np.ndarray:
    """minim's output of ``case`` as mmcls holds it (``H x W x C``, mmcls's channel order)."""
    random.seed(case["seed"])  # as minim's sampler seeds each training sample
    np.random.seed(case["seed"])
    if case["order"] == "bgr":
        results = Compose([dict(type="LoadImageFromFile"), *_steps(case)])(
            {"img_prefix": str(FIXTURES), "img_info": {"filename": case["image"]}}
        )
    else:
        img = read_image(FIXTURES / case["image"])
        results = Compose(_steps(case))({"img": img, "channel_order": "rgb", "mmcls_order": "rgb"})
    img = results["img"].permute(1, 2, 0).numpy()
    if results["channel_order"] != results["mmcls_order"]:
        img = img[:, :, ::-1]
    return img


@pytest.mark.parametrize("name", sorted(CASES))
def test_pixels_and_random_draws_match_mmcls(name):
    case = CASES[name]
    ours = run_minim(case)
    diff = np.abs(ours.astype(np.int16) - expected(name).astype(np.int16))
    assert diff.max() <= 1, f"{name}: max |diff| {diff.max()}, mean {diff.mean():.5f}"
    assert (np.random.rand(), random.random()) == (case["next_numpy"], case["next_python"]), "draws differ from mmcls"


def test_all_ops_and_both_signs_are_recorded():
    ops = {step["type"] for case in CASES.values() for step in case["steps"]}
    assert len(ops - {"AutoAugment", "RandAugment", "ColorJitter"}) == 14
    assert {"Shear+@scene.png", "Shear-@scene.jpg", "Sharpness-@scene.png", "Contrast+@rgb-array"} <= set(CASES)


def test_the_imagenet_name_is_mmcls_policy_imagenet():
    auto = PIPELINES.build(dict(type="AutoAugment", policies="imagenet"))
    recorded = [[dict(op, pad_val=128) if op["type"] in ("Rotate", "Shear") else op for op in sub]
                for sub in RECORDED["policies"]["policy_imagenet"]]
    assert auto.policies == recorded  # hparams' default pad_val=128 reached the ops that take it


def test_hparams_fill_only_what_a_policy_leaves_unset():
    auto = PIPELINES.build(dict(type="AutoAugment", hparams=dict(pad_val=[1, 2, 3], interpolation="bilinear"),
                                policies=[[dict(type="Rotate", angle=10.0, pad_val=7), dict(type="Invert")]]))
    assert auto.policies == [[dict(type="Rotate", angle=10.0, pad_val=7, interpolation="bilinear"),
                              dict(type="Invert")]]


def test_uint8_checks_and_pad_val_channel_count_name_the_op():
    results = {"img": torch.zeros(3, 4, 4, dtype=torch.float32)}
    with pytest.raises(DataError, match="Equalize needs a uint8 image"):
        PIPELINES.build(dict(type="Equalize", prob=1.0))(results)
    gray = {"img": torch.zeros(1, 4, 4, dtype=torch.uint8)}
    with pytest.raises(DataError, match="Shear pad_val"):
        PIPELINES.build(dict(type="Shear", magnitude=0.1, prob=1.0))(gray)


def test_every_image_field_gets_the_same_draw():
    img = torch.arange(3 * 8 * 8, dtype=torch.uint8).reshape(3, 8, 8)
    results = {"img": img, "mask": img.clone(), "img_fields": ["img", "mask"]}
    out = PIPELINES.build(dict(type="Rotate", angle=30.0, prob=1.0))(results)
    assert not torch.equal(out["img"], img) and torch.equal(out["img"], out["mask"])


def test_a_skipped_op_draws_once_and_leaves_the_image():
    img = torch.arange(48, dtype=torch.uint8).reshape(3, 4, 4)
    np.random.seed(3)
    out = PIPELINES.build(dict(type="Brightness", magnitude=0.5, prob=0.0))({"img": img})
    after = np.random.rand()
    np.random.seed(3)
    np.random.rand()
    assert out["img"] is img and after == np.random.rand()


@pytest.mark.parametrize(
    ("cfg", "words"),
    [
        (dict(type="AutoAugment", policies="cifar10"), "AutoAugment policies must be a list of op lists or one of 'imagenet'"),
        (dict(type="AutoAugment", policies=[]), "AutoAugment policies must be a non-empty list"),
        (dict(type="AutoAugment", policies=[[dict(angle=3.0)]]), "every op must be a dict with a 'type' key"),
        (dict(type="AutoAugment", policies=[[dict(type="Invert")]], hparams=[1]), "AutoAugment hparams must be a dict"),
        (dict(type="RandAugment", policies=[dict(type="Invert")], num_policies=0, magnitude_level=9), "num_policies"),
        (dict(type="RandAugment", policies=[dict(type="Invert")], num_policies=2, magnitude_level=-1), "magnitude_level"),
        (dict(type="RandAugment", policies=[dict(type="Invert")], num_policies=2, magnitude_level=9, total_level=0),
         "total_level"),
        (dict(type="RandAugment", policies=[dict(type="Invert")], num_policies=2, magnitude_level=9,
              magnitude_std="wide"), "magnitude_std"),
        (dict(type="RandAugment", policies=[dict(type="Rotate", magnitude_key="angle")], num_policies=1,
              magnitude_level=9), "RandAugment policy Rotate needs magnitude_range"),
        (dict(type="RandAugment", policies=[dict(type="Rotat")], num_policies=1, magnitude_level=9), "Rotat"),
        (dict(type="RandAugment", policies=[dict(type="Rotate")], num_policies=1, magnitude_level=9), "angle"),
        (dict(type="RandAugment", num_policies=1, magnitude_level=9), "policies"),
        (dict(type="Shear", magnitude="0.3"), "Shear magnitude must be an int or a float"),
        (dict(type="Shear", magnitude=0.3, pad_val=(1, 2)), "Shear pad_val must be an int or 3 ints"),
        (dict(type="Translate", magnitude=0.3, direction="diagonal"), "Translate direction"),
        (dict(type="Translate", magnitude=0.3, interpolation="cubic"), "interpolation 'cubic'"),
        (dict(type="Rotate", angle=10.0, center=(1, 2, 3)), "Rotate center"),
        (dict(type="Rotate", angle=10.0, prob=1.5), "prob must be within"),
        (dict(type="Contrast", magnitude=0.3, random_negative_prob=-0.1), "random_negative_prob must be within"),
        (dict(type="Posterize", bits=9), "Posterize bits must be a number <= 8"),
        (dict(type="Solarize", thr=None), "Solarize thr"),
        (dict(type="Cutout", shape=[1, 2, 3]), "Cutout shape"),
        (dict(type="Cutout", shape=4, pad_val=1.5), "Cutout pad_val"),
    ],
)
def test_bad_arguments_are_build_errors_naming_them(cfg, words):
    with pytest.raises(BuildError, match=words.replace("(", r"\(").replace(")", r"\)")):
        PIPELINES.build(cfg)
