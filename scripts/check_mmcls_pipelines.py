#!/usr/bin/env python
"""Compare every mmcls 0.25 test pipeline with minim's on real PNG and JPEG files, against the real mmcls.

The real mmcls runs in a side virtual environment (recipe in ``scripts/check_mmcls_parity.py``;
never imported here). From minim's own environment::

    python scripts/check_mmcls_pipelines.py --mmcls-python /tmp/mmcls-venv/bin/python [--only 'resnet/*']

The script writes a few seeded images (smooth shading, hard-edged blobs, sensor-like noise; JPEG and
PNG; landscape, portrait and square; smaller and larger than the usual 224 crop), then for each
config of the mmcls wheel (the side venv's ``mmcls/.mim/configs``, without ``_base_``) runs
``data.test.pipeline`` in mmcls (side venv) and in minim (``minim.config.load_config`` and
minim's ``Compose``) on the same files. Pipelines without ``LoadImageFromFile`` (CIFAR, MNIST) get
the same in-memory arrays on both sides (RGB, or grey for one-channel ``Normalize``).

For every config it prints the worst and mean |diff| of the final image tensors, the worst also in
8-bit levels (``1 / min(std)`` of the config's ``Normalize``). A config is *within one level* when
the worst difference is at most one level and the mean at most 1e-4. A table per resize backend
follows; the last line is ``mmcls-pipelines: within-one-level N / M`` (M: configs mmcls itself runs).
``--record-fixtures DIR`` instead records the CI fixtures of ``tests/test_cls_pipelines_mmcls.py``
(tiny images, mmcls's outputs of single transforms on them, mmcls's metric values and
``CLASSES`` types). ``--side`` is the half that runs inside the mmcls venv.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SEED = 0
MEAN_LIMIT = 1e-4
#: (file name, height, width): JPEG and PNG, landscape/portrait/square, below and above a 224 crop
IMAGES = (
    ("landscape.jpg", 375, 500),
    ("portrait.png", 500, 333),
    ("small.jpg", 150, 200),
    ("narrow.png", 230, 180),
    ("square.jpg", 256, 256),
    ("large.png", 800, 1066),
)


# ============================================================================ shared helpers (numpy only)
def pipeline_key(pipeline: list) -> str:
    """One text per distinct pipeline (configs sharing a pipeline are run once)."""
    return json.dumps(pipeline, sort_keys=True, default=str)


def reads_files(pipeline: list) -> bool:
    return any(step.get("type") == "LoadImageFromFile" for step in pipeline)


def wants_gray(pipeline: list) -> bool:
    """A pipeline on in-memory arrays whose ``Normalize`` has one channel (MNIST) gets a grey ``H x W`` array."""
    return any(step.get("type") == "Normalize" and len(step.get("mean", ())) == 1 for step in pipeline)


def array_name(image: str, gray: bool) -> str:
    return f"{image}.{'gray' if gray else 'rgb'}.npy"


#: single-transform cases recorded for CI: (name, image, random seed or None, pipeline after LoadImageFromFile)
FIXTURE_IMAGES = (("tiny.png", 23, 37), ("tiny.jpg", 29, 41))
_INTERPOLATIONS = {"cv2": ("nearest", "bilinear", "bicubic", "area", "lanczos"),
                   "pillow": ("nearest", "bilinear", "bicubic", "box", "lanczos", "hamming")}


def fixture_cases() -> list[dict]:
    cases = []
    for backend, interpolations in _INTERPOLATIONS.items():
        for interpolation in interpolations:
            for size in ((13, 17), (50, 70)):
                cases.append(dict(name=f"resize-{backend}-{interpolation}-{size[0]}x{size[1]}", image="tiny.png",
                                  steps=[dict(type="Resize", size=size, interpolation=interpolation, backend=backend)]))
    cases += [
        dict(name="resize-short-cv2-jpeg", image="tiny.jpg", steps=[dict(type="Resize", size=(16, -1))]),
        dict(name="resize-long-pillow-jpeg", image="tiny.jpg",
             steps=[dict(type="Resize", size=(60, -1), adaptive_side="long", backend="pillow", interpolation="bicubic")]),
        dict(name="centercrop-larger-than-image", image="tiny.png", steps=[dict(type="CenterCrop", crop_size=(64, 30))]),
        dict(name="centercrop-both-larger", image="tiny.png", steps=[dict(type="CenterCrop", crop_size=100)]),
        dict(name="centercrop-odd", image="tiny.jpg", steps=[dict(type="CenterCrop", crop_size=(20, 18))]),
        dict(name="centercrop-efficientnet-cv2", image="tiny.jpg",
             steps=[dict(type="CenterCrop", crop_size=24, efficientnet_style=True, interpolation="bicubic")]),
        dict(name="centercrop-efficientnet-pillow", image="tiny.png",
             steps=[dict(type="CenterCrop", crop_size=24, efficientnet_style=True, interpolation="bicubic",
                         backend="pillow")]),
        dict(name="pad-scalar", image="tiny.png", steps=[dict(type="Pad", size=(30, 45), pad_val=128)]),
        dict(name="pad-tuple", image="tiny.png", steps=[dict(type="Pad", size=(30, 45), pad_val=(10, 20, 30))]),
        dict(name="pad-smaller-than-image", image="tiny.png", steps=[dict(type="Pad", size=(10, 45))]),
        dict(name="pad-square-reflect", image="tiny.jpg", steps=[dict(type="Pad", pad_to_square=True,
                                                                      padding_mode="reflect")]),
        dict(name="randomcrop-padding-scalar", image="tiny.png", seed=5,
             steps=[dict(type="RandomCrop", size=20, padding=3, pad_val=77)]),
        dict(name="randomcrop-pad-if-needed-edge", image="tiny.png", seed=6,
             steps=[dict(type="RandomCrop", size=(30, 30), pad_if_needed=True, padding_mode="edge")]),
        dict(name="grayscale", image="tiny.jpg", seed=1, steps=[dict(type="RandomGrayscale", gray_prob=1.0)]),
        dict(name="grayscale-float", image="tiny.png", seed=1,
             steps=[dict(type="RandomGrayscale", gray_prob=1.0)], to_float32=True),
        dict(name="randomresizedcrop-cv2", image="tiny.jpg", seed=3,
             steps=[dict(type="RandomResizedCrop", size=16)]),
        dict(name="randomresizedcrop-pillow-bicubic", image="tiny.png", seed=4,
             steps=[dict(type="RandomResizedCrop", size=(12, 20), backend="pillow", interpolation="bicubic")]),
        dict(name="randomresizedcrop-efficientnet", image="tiny.jpg", seed=7,
             steps=[dict(type="RandomResizedCrop", size=16, efficientnet_style=True, interpolation="bicubic")]),
        dict(name="randomresizedcrop-efficientnet-fallback", image="tiny.png", seed=8,
             steps=[dict(type="RandomResizedCrop", size=16, efficientnet_style=True, max_attempts=0)]),
        dict(name="test-pipeline-normalized", image="tiny.jpg",
             steps=[dict(type="Resize", size=(20, -1)), dict(type="CenterCrop", crop_size=16),
                    dict(type="Normalize", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)]),
    ]
    return cases


#: metric cases: (scores, labels, metric, metric_options)
METRIC_CASES = (
    ([[0.25] * 4], [2], ["accuracy", "precision", "recall"], {"topk": 1}),
    ([[0.25] * 4, [0.1, 0.3, 0.3, 0.3], [0.5, 0.5, 0.0, 0.0]], [0, 3, 1],
     ["accuracy", "precision", "recall", "f1_score"], {"topk": (1, 2)}),
    ([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]], [0, 1, 2], ["accuracy", "precision", "recall", "f1_score"],
     {"topk": (1, 2), "thrs": (0.0, 0.35, 0.5)}),
    ([[0.1, 0.9], [0.6, 0.4], [0.2, 0.8]], [1, 1, 1], "accuracy", {"topk": (1,)}),
)


# ============================================================================ the mmcls side
def side_run(root: Path, images_dir: Path, out_dir: Path, names: list[str]) -> None:
    """Run each config's test pipeline in mmcls; print one JSON line per config (outputs go to ``out_dir``)."""
    import numpy as np
    from mmcls.datasets.pipelines import Compose
    from mmcv import Config

    done: dict[str, str] = {}
    for name in names:
        try:
            pipeline = [dict(step) for step in Config.fromfile(str(root / name)).data.test.pipeline]
            key = pipeline_key(pipeline)
            if key not in done:
                compose = Compose(pipeline)
                outputs = {image: _side_one(compose, pipeline, images_dir, image) for image, _, _ in IMAGES}
                done[key] = f"{len(done)}.npz"
                np.savez(out_dir / done[key], **outputs)
            print(json.dumps(dict(config=name, status="ran", file=done[key], pipeline=pipeline), default=str),
                  flush=True)
        except Exception as exc:  # noqa: BLE001 - mmcls's own failure is a finding
            print(json.dumps(dict(config=name, status="failed", error=f"{type(exc).__name__}: {exc}"[:300])),
                  flush=True)


def _side_one(compose, pipeline: list, images_dir: Path, image: str):
    import numpy as np

    if reads_files(pipeline):
        results = dict(img_prefix=str(images_dir), img_info=dict(filename=image))
    else:
        results = dict(img=np.load(images_dir / array_name(image, wants_gray(pipeline))))
    img = compose(results)["img"]
    return img.numpy() if hasattr(img, "numpy") else np.asarray(img)


def side_record(folder: Path) -> None:
    """mmcls's outputs of :func:`fixture_cases` on the images in ``folder``, its metrics and ``CLASSES`` types."""
    import random

    import numpy as np
    from mmcls.datasets import BaseDataset
    from mmcls.datasets.pipelines import Compose

    outputs, cases = {}, fixture_cases()
    for case in cases:
        if case.get("seed") is not None:
            random.seed(case["seed"])
            np.random.seed(case["seed"])
        compose = Compose([dict(type="LoadImageFromFile", to_float32=case.get("to_float32", False)), *case["steps"]])
        outputs[case["name"]] = compose(dict(img_prefix=str(folder), img_info=dict(filename=case["image"])))["img"]
    np.savez_compressed(folder / "outputs.npz", **outputs)

    class Labels(BaseDataset):
        def __init__(self, labels):
            self.labels = labels
            super().__init__(data_prefix="", pipeline=[])

        def load_annotations(self):
            return [dict(gt_label=np.array(label, dtype=np.int64)) for label in self.labels]

    metrics = []
    for scores, labels, metric, options in METRIC_CASES:
        values = Labels(labels).evaluate(np.array(scores, dtype=np.float32), metric, dict(options))
        metrics.append({k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in values.items()})
    names = folder / "classes.txt"
    names.write_text("b\na\n")
    classes = {what: type(BaseDataset.get_classes(value)).__name__
               for what, value in (("file", str(names)), ("list", ["a"]), ("tuple", ("a",)))}
    classes["default"] = type(__import__("mmcls.datasets", fromlist=["ImageNet"]).ImageNet.get_classes()).__name__
    names.unlink()
    (folder / "cases.json").write_text(json.dumps(dict(cases=cases, metrics=metrics, metric_cases=METRIC_CASES,
                                                       classes=classes), indent=1) + "\n")


def side_configs_root() -> Path:
    import mmcls

    return Path(mmcls.__file__).parent / ".mim" / "configs"


# ============================================================================ the minim side
def natural_image(height: int, width: int, rng):
    """A photo-like ``H x W x 3`` uint8 picture: smooth shading, hard-edged discs, fine texture and noise."""
    import numpy as np

    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    img = np.stack([128 + 90 * np.sin(5 * x + 2 * c) * np.cos(3 * y - c) for c in range(3)], axis=-1)
    for _ in range(14):
        cy, cx, radius = rng.uniform(0, 1, 3)
        inside = (y - cy * height / max(height, width)) ** 2 + (x - cx * width / max(height, width)) ** 2
        img[inside < (0.04 + 0.2 * radius) ** 2] = rng.uniform(0, 255, 3)
    img += 25 * np.sin(60 * x + 40 * y)[..., None]  # fine stripes: aliasing shows
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_images(folder: Path, seed: int = SEED) -> None:
    """The seeded test files, plus the in-memory arrays (RGB and grey) the array pipelines get."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name, height, width in IMAGES:
        picture = Image.fromarray(natural_image(height, width, rng))
        picture.save(folder / name, **({"quality": 90} if name.endswith(".jpg") else {}))
        with Image.open(folder / name) as decoded:
            rgb = np.asarray(decoded.convert("RGB"))
            np.save(folder / array_name(name, False), rgb)
            np.save(folder / array_name(name, True), np.asarray(decoded.convert("L")))


def minim_output(compose, pipeline: list, images_dir: Path, image: str):
    import numpy as np

    if reads_files(pipeline):
        results = {"img_prefix": str(images_dir), "img_info": {"filename": image}}
    else:  # as minim's CIFAR/MNIST datasets hand arrays over: mmcls holds them in RGB too
        array = np.load(images_dir / array_name(image, wants_gray(pipeline)))
        shape = array.shape if array.ndim == 3 else (*array.shape, 1)
        results = {"img": array, "img_shape": shape, "ori_shape": shape, "filename": None,
                   "channel_order": "rgb", "mmcls_order": "rgb"}
    img = compose(results)["img"]
    return img.numpy() if hasattr(img, "numpy") else np.asarray(img)


def level_of(pipeline: list) -> float:
    """One 8-bit level in the units of the pipeline's output (``1 / min(std)`` after ``Normalize``)."""
    stds = [min(float(s) for s in step["std"]) for step in pipeline if step.get("type") == "Normalize"]
    return 1.0 / stds[-1] if stds else 1.0


def resize_kind(pipeline: list) -> str:
    """``'<backend> <interpolation>'`` of the pipeline's resizing steps (``'none'`` without any)."""
    kinds = []
    for step in pipeline:
        resizes = step.get("type") in ("Resize", "RandomResizedCrop") or (
            step.get("type") == "CenterCrop" and step.get("efficientnet_style"))
        if resizes:
            kinds.append(f"{step.get('backend', 'cv2')} {step.get('interpolation', 'bilinear')}")
    return ", ".join(dict.fromkeys(kinds)) or "none"


def compare(configs_root: Path, row: dict, images_dir: Path, out_dir: Path, cache: dict) -> dict:
    """Run the config's test pipeline in minim and compare with mmcls's outputs; ``row`` gains the numbers."""
    import numpy as np

    from minim.cls.datasets.pipelines import Compose
    from minim.config import load_config
    from minim.errors import MinimError

    pipeline = row["pipeline"]
    row = dict(row, kind=resize_kind(pipeline), level=level_of(pipeline))
    try:
        cfg = load_config(configs_root / row["config"])
        own = _plain(cfg["data"]["test"]["pipeline"])
        key = pipeline_key(own)
        if key not in cache:
            compose = Compose(own)
            cache[key] = {image: minim_output(compose, own, images_dir, image) for image, _, _ in IMAGES}
        expected = np.load(out_dir / row["file"])
        worst, total, count = 0.0, 0.0, 0
        for image, _, _ in IMAGES:
            ours, theirs = cache[key][image], expected[image]
            if ours.shape != theirs.shape:
                return dict(row, verdict="shape", why=f"{image}: minim {ours.shape}, mmcls {theirs.shape}")
            diff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
            worst, total, count = max(worst, float(diff.max())), total + float(diff.sum()), count + diff.size
        mean = total / count
        within = worst <= row["level"] * (1 + 1e-3) + 1e-6 and mean <= MEAN_LIMIT
        return dict(row, verdict="within" if within else "off", worst=worst, mean=mean)
    except MinimError as exc:
        return dict(row, verdict="refused", why=str(exc).splitlines()[0][:200])
    except Exception as exc:  # noqa: BLE001 - a crash is a finding
        return dict(row, verdict="crashed", why=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def _plain(value):
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def list_configs(configs_root: Path, only: list[str]) -> list[str]:
    names = sorted(str(p.relative_to(configs_root)) for p in configs_root.rglob("*.py")
                   if not str(p.relative_to(configs_root)).startswith("_base_/"))
    if only:
        names = [n for n in names if any(fnmatch.fnmatch(n, p) or fnmatch.fnmatch(n.split("/")[-1], p) for p in only)]
    return names


def print_row(row: dict) -> None:
    if "worst" in row:
        detail = (f"worst {row['worst']:.2e} ({row['worst'] / row['level']:.2f} levels)  mean {row['mean']:.2e}")
    else:
        detail = row.get("why", row.get("error", ""))
    print(f"{row.get('verdict', row['status']):<8} {row['config']:<64} {row.get('kind', '-'):<24} {detail}", flush=True)


def print_kinds(rows: list[dict]) -> None:
    kinds: dict[str, list[dict]] = {}
    for row in rows:
        kinds.setdefault(row["kind"], []).append(row)
    print(f"\n{'resize backend':<28} {'configs':>7} {'within':>6}  {'worst':>9} {'levels':>6}  {'worst mean':>10}")
    for kind, items in sorted(kinds.items()):
        measured = [r for r in items if "worst" in r]
        worst = max((r["worst"] for r in measured), default=float("nan"))
        levels = max((r["worst"] / r["level"] for r in measured), default=float("nan"))
        mean = max((r["mean"] for r in measured), default=float("nan"))
        within = sum(r["verdict"] == "within" for r in items)
        print(f"{kind:<28} {len(items):>7} {within:>6}  {worst:>9.2e} {levels:>6.2f}  {mean:>10.2e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mmcls-python", default=os.environ.get("MMCLS_PYTHON"),
                        help="python of the side venv with mmcls 0.25.0 (or $MMCLS_PYTHON)")
    parser.add_argument("--only", action="append", default=[], help="glob over config paths or names; repeatable")
    parser.add_argument("--keep", help="write the test images here (kept) instead of a temporary folder")
    parser.add_argument("--record-fixtures", help="record the CI fixtures into this folder and stop")
    parser.add_argument("--side", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        return _side_main(args.side)
    if not args.mmcls_python:
        parser.error("give --mmcls-python (the side venv with mmcls 0.25.0; see --help)")
    if args.record_fixtures:
        return record_fixtures(args.mmcls_python, Path(args.record_fixtures))
    root = Path(subprocess.check_output([args.mmcls_python, os.path.abspath(__file__), "--side", "root"],
                                        text=True, stderr=subprocess.DEVNULL).strip())
    names = list_configs(root, args.only)
    if not names:
        print("no config matches", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mmcls-pipelines-") as scratch:
        images_dir = Path(args.keep) if args.keep else Path(scratch) / "images"
        out_dir = Path(scratch) / "mmcls"
        images_dir.mkdir(parents=True, exist_ok=True)
        out_dir.mkdir()
        write_images(images_dir)
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        proc = subprocess.Popen([args.mmcls_python, os.path.abspath(__file__), "--side", "run", str(root),
                                 str(images_dir), str(out_dir), *names],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        rows, cache = [], {}
        for line in proc.stdout:
            row = json.loads(line)
            if row["status"] == "ran":
                row = compare(root, row, images_dir, out_dir, cache)
            rows.append(row)
            print_row(row)
        proc.wait()
    ran = [r for r in rows if r["status"] == "ran"]
    if ran:
        print_kinds(ran)
    for row in rows:
        if row["status"] != "ran":
            print(f"mmcls itself fails: {row['config']}: {row['error']}")
    within = sum(r["verdict"] == "within" for r in ran)
    print(f"mmcls-pipelines: within-one-level {within} / {len(ran)}")
    return 0 if ran and within == len(ran) else 1


def record_fixtures(python: str, folder: Path) -> int:
    """Write the tiny fixture images, then let mmcls record its outputs beside them."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED + 1)
    for name, height, width in FIXTURE_IMAGES:
        Image.fromarray(natural_image(height, width, rng)).save(folder / name, **(
            {"quality": 90} if name.endswith(".jpg") else {}))
    code = subprocess.call([python, os.path.abspath(__file__), "--side", "record", str(folder)],
                           env=dict(os.environ, PYTHONWARNINGS="ignore"))
    print(f"recorded {folder}" if code == 0 else f"recording failed ({code})")
    return code


def _side_main(argv: list[str]) -> int:
    command, *rest = argv
    if command == "root":
        print(side_configs_root())
    elif command == "record":
        side_record(Path(rest[0]))
    elif command == "run":
        root, images_dir, out_dir, *names = rest
        side_run(Path(root), Path(images_dir), Path(out_dir), names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
