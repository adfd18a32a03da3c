#!/usr/bin/env python
"""Record the fixtures of ``tests/test_cls_pipelines_mmcls_extra.py`` with the real mmcls 0.25 / mmcv 1.7.

Runs inside the side virtual environment that has mmcls (never in minim's)::

    /path/to/mmcls-venv/bin/python scripts/record_mmcls_formatting.py tests/fixtures/mmcls_formatting

It writes two small seeded images (``a.png``, ``b.jpg``), then runs each case below through mmcls's
``Compose`` (``LoadImageFromFile`` first; a case with ``second`` also loads that file into
``results['img2']`` and sets ``img_fields = ['img', 'img2']``; random cases seed Python's and numpy's
generators with ``seed``) and stores, per case, the keys of the results, every value's type (and
``img_shape``'s and ``flip``'s value), for each recorded image key its dtype and shape
(``cases.json``) and its pixels (``outputs.npz``, key ``<case>/<key>``).
The cases cover ``ToPIL``, ``ToNumpy``, ``Transpose``, ``WrapFieldsToLists``, ``img_fields`` and
every interpolation of ``RandomResizedCrop`` and efficientnet-style ``CenterCrop``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np

SEED = 0
#: (file name, height, width)
IMAGES = (("a.png", 23, 37), ("b.jpg", 23, 37), ("c.png", 31, 26))
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
CV2 = ("nearest", "bilinear", "bicubic", "area", "lanczos")
#: the cv2 names Pillow also offers (mmcls checks the names against cv2's list for these two steps)
PILLOW = ("nearest", "bilinear", "bicubic", "lanczos")


def cases() -> list[dict]:
    """Each case: name, image, steps (after LoadImageFromFile), optional load/seed/second/keys."""
    found = [
        dict(name="topil", image="a.png", steps=[dict(type="ToPIL")]),
        dict(name="topil-tonumpy", image="b.jpg", steps=[dict(type="ToPIL"), dict(type="ToNumpy")]),
        dict(name="topil-flip-tonumpy", image="a.png", seed=1,
             steps=[dict(type="ToPIL"), dict(type="RandomFlip", flip_prob=1.0), dict(type="ToNumpy")]),
        dict(name="tonumpy-grayscale", image="a.png", load=dict(color_type="grayscale"),
             steps=[dict(type="ToPIL"), dict(type="ToNumpy")]),
        dict(name="tonumpy-normalize", image="b.jpg",
             steps=[dict(type="ToNumpy"), dict(type="Normalize", **NORM, to_rgb=True)]),
        dict(name="transpose-chw", image="a.png", steps=[dict(type="Transpose", keys=["img"], order=(2, 0, 1))]),
        dict(name="transpose-whc", image="b.jpg", steps=[dict(type="Transpose", keys=["img"], order=(1, 0, 2))]),
        dict(name="numpy-pipeline", image="b.jpg",
             steps=[dict(type="ToPIL"), dict(type="ToNumpy"), dict(type="Normalize", **NORM, to_rgb=True),
                    dict(type="Transpose", keys=["img"], order=(2, 0, 1)), dict(type="ToTensor", keys=["img"]),
                    dict(type="Collect", keys=["img"])]),
        dict(name="wrap-fields", image="a.png",
             steps=[dict(type="Normalize", **NORM, to_rgb=False), dict(type="ImageToTensor", keys=["img"]),
                    dict(type="Collect", keys=["img"]), dict(type="WrapFieldsToLists")]),
        # img_fields: deterministic steps give each field its own result; random crops are compared on 'img'
        dict(name="fields-resize", image="a.png", second="b.jpg", steps=[dict(type="Resize", size=(9, -1))]),
        dict(name="fields-centercrop-pad", image="a.png", second="c.png",
             steps=[dict(type="CenterCrop", crop_size=(20, 24)), dict(type="Pad", size=(25, 30), pad_val=(1, 2, 3))]),
        dict(name="fields-flip-normalize", image="a.png", second="b.jpg", seed=2,
             steps=[dict(type="RandomFlip", flip_prob=0.5, direction="vertical"),
                    dict(type="Normalize", **NORM, to_rgb=True)]),
        dict(name="fields-randomcrop", image="a.png", second="b.jpg", seed=3, keys=["img"],
             steps=[dict(type="RandomCrop", size=(11, 13), padding=2)]),
        dict(name="fields-randomresizedcrop", image="a.png", second="b.jpg", seed=4, keys=["img"],
             steps=[dict(type="RandomResizedCrop", size=(12, 10))]),
    ]
    for backend, names in (("cv2", CV2), ("pillow", PILLOW)):
        for interpolation in names:
            found.append(dict(name=f"rrc-{backend}-{interpolation}", image="b.jpg", seed=5,
                              steps=[dict(type="RandomResizedCrop", size=15, scale=(0.3, 1.0),
                                          interpolation=interpolation, backend=backend)]))
            found.append(dict(name=f"effcrop-{backend}-{interpolation}", image="a.png",
                              steps=[dict(type="CenterCrop", crop_size=40, efficientnet_style=True,
                                          interpolation=interpolation, backend=backend)]))
    return found


def write_images(folder: Path) -> None:
    """Smooth shading plus noise, so every interpolation kernel leaves its mark."""
    from PIL import Image

    rng = np.random.default_rng(SEED)
    for name, height, width in IMAGES:
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * 255.0 / width, y * 255.0 / height, (x + y) * 127.0 / (width + height)], axis=2)
        array = np.clip(base + rng.normal(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(array).save(folder / name, quality=90)


def describe(value) -> tuple[dict, np.ndarray | None]:
    """Type name, dtype and shape of a result value, and its pixels (lists: of their only element)."""
    meta = dict(type=type(value).__name__)
    if isinstance(value, list):
        inner, pixels = describe(value[0])
        meta["inner"] = inner
        return meta, pixels
    if type(value).__name__ == "Image":
        meta["mode"] = value.mode
        value = np.asarray(value)
    elif hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        meta.update(dtype=str(value.dtype), shape=list(value.shape))
        return meta, np.ascontiguousarray(value)
    return meta, None


def run_case(case: dict, folder: Path) -> tuple[dict, dict]:
    from mmcls.datasets.pipelines import Compose

    def load(image: str) -> dict:
        step = dict(type="LoadImageFromFile", **case.get("load", {}))
        return Compose([step])(dict(img_prefix=str(folder), img_info=dict(filename=image)))

    results = load(case["image"])
    if "second" in case:
        results["img2"] = load(case["second"])["img"]
        results["img_fields"] = ["img", "img2"]
    if case.get("seed") is not None:
        random.seed(case["seed"])
        np.random.seed(case["seed"])
    results = Compose(case["steps"])(results)
    record = dict(case, keys=sorted(results), values={})
    pixels = {}
    for key in case.get("keys") or [k for k in ("img", "img2") if k in results]:
        record["values"][key], array = describe(results[key])
        pixels[f"{case['name']}/{key}"] = array
    for key, value in results.items():
        if key not in record["values"]:
            record["values"][key] = dict(type=type(value).__name__)
        if key in ("img_shape", "flip"):
            record["values"][key]["value"] = value
    return record, pixels


def main(folder: str) -> int:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_images(out)
    records, pixels = [], {}
    for case in cases():
        record, arrays = run_case(case, out)
        records.append(record)
        pixels.update(arrays)
    (out / "cases.json").write_text(json.dumps(dict(mmcls="0.25.0", cases=records), indent=1, default=list) + "\n")
    np.savez_compressed(out / "outputs.npz", **pixels)
    print(f"recorded {len(records)} cases in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/mmcls_formatting"))
