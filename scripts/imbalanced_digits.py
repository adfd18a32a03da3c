"""Imbalanced digits: plain training vs ``class_weight='auto'`` vs ``ClassBalancedDataset``.

The built-in digits set (1,438 train / 359 val 8x8 images) with most training images of a few classes
dropped (``--rare 3 5 8 --keep 10``: 10 images each instead of ~145); the val set stays balanced.
A LeNet5 (mmcls's) trains from scratch on the CPU with the same seed in each mode, and the script
prints top-1 and the recall of the worst class (and of the rare classes) on the val set:

    python scripts/imbalanced_digits.py [--epochs 12] [--seeds 0 1 2] [--threads 1] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

MODES = ("unweighted", "auto class weights", "ClassBalancedDataset")

CONFIG = dict(
    model=dict(type="ImageClassifier", backbone=dict(type="LeNet5", num_classes=10),
               head=dict(type="ClsHead", loss=dict(type="CrossEntropyLoss"), topk=(1,))),
    optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-4),
    optimizer_config=dict(grad_clip=None),
    lr_config=dict(policy="CosineAnnealing", min_lr=0),
    checkpoint_config=dict(interval=1000),
    log_config=dict(interval=1000, hooks=[dict(type="TextLoggerHook")]),
)
PIPELINE = [dict(type="LoadImageFromFile", color_type="grayscale"), dict(type="Resize", size=32),
            dict(type="Normalize", mean=[77.85], std=[95.85], to_rgb=False),
            dict(type="ImageToTensor", keys=["img"]), dict(type="ToTensor", keys=["gt_label"]),
            dict(type="Collect", keys=["img", "gt_label"])]


def make_imbalanced(root: Path, rare: list[int], keep: int) -> Path:
    """A copy of the digits train tree keeping ``keep`` images of each ``rare`` class."""
    from minim.cls.datasets import ensure_digits

    source = ensure_digits() / "train"
    target = root / "train"
    shutil.copytree(source, target)
    for digit in rare:
        for path in sorted((target / str(digit)).glob("*.png"))[keep:]:
            path.unlink()
    return target


def train_once(mode: str, train_root: Path, work_dir: Path, epochs: int, seed: int) -> dict:
    """Train in ``mode``; top-1 and per-class recall (percent) on the digits val set."""
    import numpy as np

    from minim.cls.apis import train_model
    from minim.cls.datasets import build_dataset
    from minim.cls.engine.evaluation import EvalHook
    from minim.cls.engine.seed import set_random_seed
    from minim.cls.models import build_classifier
    from minim.config import Config

    cfg = Config.from_dict(dict(CONFIG, work_dir=str(work_dir), seed=seed,
                                runner=dict(type="EpochBasedRunner", max_epochs=epochs),
                                evaluation=dict(interval=epochs, metric="accuracy", metric_options=dict(topk=(1,))),
                                data=dict(samples_per_gpu=32, workers_per_gpu=0)))
    if mode == "auto class weights":
        cfg.model.head.loss.class_weight = "auto"
    train_cfg = dict(type="CustomDataset", data_prefix=str(train_root), pipeline=PIPELINE, cache_images=True)
    if mode == "ClassBalancedDataset":
        train_cfg = dict(type="ClassBalancedDataset", oversample_thr=0.1, dataset=train_cfg)
    set_random_seed(seed)
    model = build_classifier(cfg.model)
    train = build_dataset(train_cfg)
    val = build_dataset(dict(type="CustomDataset", data_prefix="minim://digits/val", pipeline=PIPELINE[:-1] + [
        dict(type="Collect", keys=["img"])], cache_images=True), dict(test_mode=True))
    start = time.perf_counter()
    runner = train_model(model, [train], cfg, device="cpu", val_dataset=val, console=False)
    seconds = time.perf_counter() - start
    hook = runner.get_hook(EvalHook)
    per_class = hook.last_per_class
    recall = np.asarray(per_class["recall"])
    return {"mode": mode, "seed": seed, "train_images": len(train), "top1": hook.last_results["accuracy_top-1"],
            "worst_recall": float(recall.min()), "worst_class": per_class["classes"][int(recall.argmin())],
            "recall": dict(zip(per_class["classes"], recall.round(2).tolist())), "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rare", type=int, nargs="+", default=[3, 5, 8])
    parser.add_argument("--keep", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (LeNet5 gains nothing from more)")
    parser.add_argument("--out", help="write every run's figures to this JSON file")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        train_root = make_imbalanced(Path(tmp), args.rare, args.keep)
        for seed in args.seeds:
            for index, mode in enumerate(MODES):
                row = train_once(mode, train_root, Path(tmp) / f"run{seed}_{index}", args.epochs, seed)
                rows.append(row)
                rare = ", ".join(f"{d}: {row['recall'][str(d)]:.1f}" for d in args.rare)
                print(f"seed {seed}  {mode:<22} top-1 {row['top1']:6.2f} %  worst recall {row['worst_recall']:6.2f} % "
                      f"(class {row['worst_class']})  rare classes {rare}  [{row['train_images']} train images, "
                      f"{row['seconds']:.0f} s]", flush=True)
    print(f"\nmean over seeds {args.seeds} ({args.epochs} epochs, classes {args.rare} cut to {args.keep} images):")
    print("| mode | top-1 % | worst-class recall % | rare-class recall % |")
    print("|---|---:|---:|---:|")
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        top1 = sum(r["top1"] for r in mine) / len(mine)
        worst = sum(r["worst_recall"] for r in mine) / len(mine)
        rare = sum(r["recall"][str(d)] for r in mine for d in args.rare) / (len(mine) * len(args.rare))
        print(f"| {mode} | {top1:.2f} | {worst:.2f} | {rare:.2f} |")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
