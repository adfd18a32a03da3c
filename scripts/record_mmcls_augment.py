"""Record mmcls 0.25's AutoAugment, RandAugment, their 14 ops and ColorJitter as a test fixture.

Run with the oracle's interpreter (mmcls is never a dependency of minim):
    /work/oracle/venv/bin/python scripts/record_mmcls_augment.py
It draws a small picture with a fixed seed, saves it as PNG and JPEG, runs every case through mmcls
(``LoadImageFromFile`` then the case's steps; ``"order": "rgb"`` cases start from the RGB array
instead, as mmcls's CIFAR datasets do) and writes tests/fixtures/mmcls_augment/:

- ``scene.png``, ``scene.jpg``: the inputs;
- ``cases.json``: the cases, mmcls's ImageNet AutoAugment and RandAugment policy lists (a case's
  ``policies`` naming one of them stands for the list) and, per case, the next ``np.random.rand()``
  and ``random.random()`` after it ran (so a test sees whether both generators were consumed alike);
- ``outputs.npz``: mmcls's output of each case (``H x W x C`` in mmcls's channel order), PNG-encoded
  (smaller than the raw arrays deflated).

Read by tests/test_cls_auto_augment.py.
"""

import copy
import json
import random
from pathlib import Path

import cv2
import numpy as np
from mmcv import Config
from mmcls.datasets.pipelines import Compose

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mmcls_augment"
CONFIGS = Path(__import__("mmcls").__file__).parent / ".mim" / "configs" / "_base_" / "datasets" / "pipelines"
HEIGHT, WIDTH = 32, 40
IMAGES = ("scene.png", "scene.jpg")
PAD = [104, 116, 124]


def scene() -> np.ndarray:
    """An RGB picture with gradients, a disc, a bar and mild noise (so every op changes something)."""
    rng = np.random.default_rng(12)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    red = 40 + 170 * x / WIDTH
    green = 60 + 120 * y / HEIGHT
    blue = 110 - 70 * (x + y) / (WIDTH + HEIGHT)  # channel means far apart: grey weights matter
    img = np.stack([red, green, blue], axis=-1)
    img[(y - 14) ** 2 + (x - 25) ** 2 < 60] = (230, 210, 40)
    img[4:9, 3:20] = (20, 30, 90)
    img += rng.normal(0, 2, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


#: ops with a magnitude, run with it kept (random_negative_prob=0) and negated (=1)
SIGNED = {
    "Shear": dict(type="Shear", magnitude=0.3),
    "Shear/vertical": dict(type="Shear", magnitude=0.2, direction="vertical", pad_val=PAD, interpolation="bilinear"),
    "Translate": dict(type="Translate", magnitude=0.3),
    "Translate/vertical": dict(type="Translate", magnitude=0.25, direction="vertical", pad_val=[10, 20, 30],
                               interpolation="bicubic"),
    "Rotate": dict(type="Rotate", angle=25.0),
    "Rotate/center": dict(type="Rotate", angle=13.5, center=(10, 12), scale=0.9, pad_val=[1, 2, 3],
                          interpolation="bicubic"),
    "Contrast": dict(type="Contrast", magnitude=0.6),
    "ColorTransform": dict(type="ColorTransform", magnitude=0.7),
    "Brightness": dict(type="Brightness", magnitude=0.5),
    "Sharpness": dict(type="Sharpness", magnitude=0.8),
}
#: the other ops
UNSIGNED = {
    "AutoContrast": dict(type="AutoContrast"),
    "Invert": dict(type="Invert"),
    "Equalize": dict(type="Equalize"),
    "Solarize": dict(type="Solarize", thr=256 / 9 * 4),
    "SolarizeAdd": dict(type="SolarizeAdd", magnitude=60.5),
    "SolarizeAdd/wrap": dict(type="SolarizeAdd", magnitude=100, thr=200),  # uint8 + int wraps in numpy
    "Posterize": dict(type="Posterize", bits=3.4),
    "Posterize/0": dict(type="Posterize", bits=0),
    "Cutout": dict(type="Cutout", shape=12, pad_val=[0, 128, 255]),
    "Cutout/pair": dict(type="Cutout", shape=(10.7, 20)),
}


def op_cases() -> dict[str, dict]:
    """Every op with fixed parameters, always applied (prob=1), both signs where it has one."""
    ops = {}
    for name, op in SIGNED.items():
        ops[f"{name}+"] = dict(op, prob=1.0, random_negative_prob=0.0)
        ops[f"{name}-"] = dict(op, prob=1.0, random_negative_prob=1.0)
    ops.update({name: dict(op, prob=1.0) for name, op in UNSIGNED.items()})
    return ops


def cases() -> list[dict]:
    found = []
    ops = op_cases()
    for index, (name, op) in enumerate(ops.items()):
        for image in IMAGES:
            found.append(dict(name=f"{name}@{image}", image=image, order="bgr", seed=index, steps=[op]))
    for name in ("Contrast+", "ColorTransform-", "Shear/vertical+"):
        found.append(dict(name=f"{name}@rgb-array", image="scene.png", order="rgb", seed=0, steps=[ops[name]]))
    runs = [
        ("auto-imagenet", dict(type="AutoAugment", policies="policy_imagenet"), range(8)),
        ("auto-imagenet-hparams", dict(type="AutoAugment", policies="policy_imagenet",
                                       hparams=dict(pad_val=PAD, interpolation="bilinear")), range(20, 24)),
        ("rand-std0.5", dict(type="RandAugment", policies="rand_increasing_policies", num_policies=2,
                             total_level=10, magnitude_level=9, magnitude_std=0.5,
                             hparams=dict(pad_val=PAD, interpolation="bicubic")), range(8)),
        ("rand-inf", dict(type="RandAugment", policies="rand_increasing_policies", num_policies=2,
                          total_level=10, magnitude_level=7, magnitude_std="inf"), range(30, 36)),
        ("rand-std0", dict(type="RandAugment", policies="rand_increasing_policies", num_policies=3,
                           magnitude_level=9), range(40, 44)),
        # mmcls's ColorJitter is its Brightness/Contrast/ColorTransform ops in a shuffled order
        ("jitter", dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4), range(50, 56)),
        ("jitter-brightness", dict(type="ColorJitter", brightness=0.8, contrast=0, saturation=0), range(60, 62)),
    ]
    for name, step, seeds in runs:
        for seed in seeds:
            image = IMAGES[seed % 2]
            found.append(dict(name=f"{name}/{seed}@{image}", image=image, order="bgr", seed=seed, steps=[step]))
    return found


def run(case: dict, policies: dict) -> np.ndarray:
    steps = copy.deepcopy(case["steps"])
    for step in steps:
        if isinstance(step.get("policies"), str):
            step["policies"] = copy.deepcopy(policies[step["policies"]])
    random.seed(case["seed"])
    np.random.seed(case["seed"])
    if case["order"] == "bgr":
        pipeline = Compose([dict(type="LoadImageFromFile"), *steps])
        results = pipeline(dict(img_prefix=str(OUT), img_info=dict(filename=case["image"])))
    else:
        rgb = cv2.imread(str(OUT / case["image"]))[:, :, ::-1].copy()
        results = Compose(steps)(dict(img=rgb))
    case["next_numpy"] = float(np.random.rand())
    case["next_python"] = random.random()
    return results["img"]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    picture = scene()[:, :, ::-1]  # cv2 writes BGR
    cv2.imwrite(str(OUT / "scene.png"), picture)
    cv2.imwrite(str(OUT / "scene.jpg"), picture, [cv2.IMWRITE_JPEG_QUALITY, 90])
    policies = {
        "policy_imagenet": Config.fromfile(str(CONFIGS / "auto_aug.py")).policy_imagenet,
        "rand_increasing_policies": Config.fromfile(str(CONFIGS / "rand_aug.py")).rand_increasing_policies,
    }
    recorded = cases()
    outputs = {case["name"]: run(case, policies) for case in recorded}
    encoded = {name: np.frombuffer(cv2.imencode(".png", img)[1], dtype=np.uint8) for name, img in outputs.items()}
    np.savez(OUT / "outputs.npz", **encoded)
    lines = ",\n".join(json.dumps(case) for case in recorded)
    (OUT / "cases.json").write_text(f'{{"policies": {json.dumps(policies)},\n"cases": [\n{lines}\n]}}\n')
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(recorded)} cases, {total / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()
