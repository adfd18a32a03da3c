#!/usr/bin/env python
"""Distributed-training benchmark of minim's cls engine, and single-GPU AMP / channels_last speeds.

1. CPU, always: training images/s of ``minim train cls mobilenet-v2_digits`` (MobileNetV2, the
   built-in digits data, 1,438 training images at 32x32, batch 32 per process, channels_last as the
   config sets it) in ONE process (all cores) versus TWO processes under ``--launcher pytorch
   --gpus 2 --device cpu`` (torchrun, gloo, the cores split between them): with batch 32 per process
   (global batch 64: weak scaling, as multi-GPU runs are used) and with batch 16 per process (the same
   global batch of 32 as the single process: strong scaling). Each run is a fresh ``minim`` process through the real CLI; the figure is the
   summary's "training images/s" (time inside training iterations, all ranks together; evaluation
   is off, checkpoint writes excluded), best of ``--rounds`` interleaved runs. The scaling ratio is
   two-process / one-process throughput; on a machine with few cores, two processes compete for
   the same cores and pay gradient all-reduces, so expect a ratio at or below 1 there.

2. GPU, when CUDA is available (otherwise one line says it was skipped): single-GPU images/s of
   ResNet-50 (``--gpu-model``) at 224x224 on a synthetic image folder (decoded images cached in
   memory, so the GPU rather than JPEG/PNG decoding is measured) for fp32, AMP (fp16 + GradScaler),
   channels_last and AMP + channels_last, each in its own process, through
   ``minim.cls.commands.train`` (the library behind ``minim train``).

    python scripts/bench_dist.py                 # CPU part (about 2-3 min on 2 cores) + GPU part if any
    python scripts/bench_dist.py --skip-cpu      # only the GPU part

Last lines: ``dist-bench: 2 processes / 1 process = R (...)`` and ``gpu-bench: ...`` (or ``gpu-bench:
skipped ...``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THROUGHPUT = re.compile(r"([\d.]+) training images/s")
GPU_VARIANTS = {"fp32": dict(amp=False, channels_last=False), "amp": dict(amp=True, channels_last=False),
                "channels_last": dict(amp=False, channels_last=True),
                "amp+channels_last": dict(amp=True, channels_last=True)}


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# --------------------------------------------------------------------------- CPU: 1 vs 2 processes
def run_cli_training(processes: int, epochs: int, batch: int, work_dir: Path) -> float:
    command = [sys.executable, "-m", "minim", "train", "cls", "mobilenet-v2_digits", "--device", "cpu",
               "--work-dir", str(work_dir), "--no-validate", "--seed", "0", "--cfg-options",
               f"runner.max_epochs={epochs}", f"data.samples_per_gpu={batch}", "log_config.interval=1000",
               "data.workers_per_gpu=0"]
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)  # one process: every core; two: the launcher splits them
    if processes > 1:
        command += ["--launcher", "pytorch", "--gpus", str(processes)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    found = THROUGHPUT.search(done.stdout)
    if done.returncode != 0 or not found:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"bench_dist: the {processes}-process run failed")
    return float(found.group(1))


def bench_cpu(args) -> None:
    from minim.cls.datasets import ensure_digits

    ensure_digits()  # prepare the data once, outside the timings
    half = max(1, args.batch_size // 2)
    variants = {"1 x %d" % args.batch_size: (1, args.batch_size), "2 x %d" % args.batch_size: (2, args.batch_size),
                "2 x %d" % half: (2, half)}
    best = dict.fromkeys(variants, 0.0)
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for label, (processes, batch) in variants.items():
                speed = run_cli_training(processes, args.epochs, batch, Path(folder) / f"r{round_}{processes}x{batch}")
                print(f"  round {round_ + 1}: {label:<8} (processes x batch) {speed:7.1f} img/s", flush=True)
                best[label] = max(best[label], speed)
    one, weak, strong = (best[label] for label in variants)
    print(f"cpu: {cpu_count()} cores, digits MobileNetV2, {args.epochs} epochs, best of {args.rounds}", flush=True)
    print(f"dist-bench (same global batch {args.batch_size}): 2 processes / 1 process = {strong / one:.2f} "
          f"({strong:.0f} vs {one:.0f} training images/s)", flush=True)
    print(f"dist-bench: 2 processes / 1 process = {weak / one:.2f} ({weak:.0f} vs {one:.0f} training images/s, "
          f"batch {args.batch_size} per process, gloo on CPU)", flush=True)


# --------------------------------------------------------------------------- GPU: AMP / channels_last
GPU_CONFIG = """\
model = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth={depth}),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=10, in_channels={channels}))
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomFlip', flip_prob=0.5, direction='horizontal'),
            dict(type='Normalize', **img_norm_cfg), dict(type='ImageToTensor', keys=['img']),
            dict(type='ToTensor', keys=['gt_label']), dict(type='Collect', keys=['img', 'gt_label'])]
data = dict(samples_per_gpu={batch}, workers_per_gpu={workers},
            train=dict(type='CustomDataset', data_prefix='{root}', pipeline=pipeline, cache_images=True))
optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)
optimizer_config = dict(grad_clip=None)
lr_config = dict(policy='step', step=[100])
runner = dict(type='EpochBasedRunner', max_epochs={epochs})
checkpoint_config = None
log_config = dict(interval=1000, hooks=[dict(type='TextLoggerHook')])
cudnn_benchmark = True
seed = 0
"""
DEPTH_CHANNELS = {"resnet18": (18, 512), "resnet50": (50, 2048)}


def write_synthetic_folder(root: Path, images: int, size: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(images):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png", compress_level=0)


def gpu_child(args) -> None:
    from minim.cls.commands import train

    variant = GPU_VARIANTS[args.child]
    with tempfile.TemporaryDirectory() as work_dir:
        result = train(args.config, work_dir=work_dir, device=args.device, amp=variant["amp"],
                       cfg_options=[f"channels_last={variant['channels_last']}"],  # pinned: not the engine's probe
                       validate=False, console=False)
    print("RESULT " + json.dumps({"images_per_second": result.images_per_second}), flush=True)


def bench_gpu(args) -> None:
    import torch

    device = "cpu" if args.gpu_part_on_cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu-bench: skipped (no CUDA device on this machine)", flush=True)
        return
    depth, channels = DEPTH_CHANNELS[args.gpu_model]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "images"
        started = time.perf_counter()
        write_synthetic_folder(root, args.gpu_images, args.gpu_size)
        config = Path(folder) / "gpu_bench.py"
        config.write_text(GPU_CONFIG.format(depth=depth, channels=channels, batch=args.gpu_batch, root=root,
                                            workers=min(8, cpu_count()), epochs=args.gpu_epochs))
        name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
        print(f"gpu: {name}, {args.gpu_model} at {args.gpu_size}x{args.gpu_size}, batch {args.gpu_batch}, "
              f"{args.gpu_images} synthetic images x {args.gpu_epochs} epochs (data written in "
              f"{time.perf_counter() - started:.0f}s)", flush=True)
        speeds = {}
        for variant in GPU_VARIANTS:
            command = [sys.executable, __file__, "--child", variant, "--config", str(config), "--device", device]
            done = subprocess.run(command, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode != 0 or not lines:
                sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
                raise SystemExit(f"bench_dist: the GPU {variant} run failed")
            speeds[variant] = json.loads(lines[-1][len("RESULT "):])["images_per_second"]
            print(f"  {variant:<18} {speeds[variant]:8.1f} img/s  x{speeds[variant] / speeds['fp32']:.2f}", flush=True)
    print("gpu-bench: " + ", ".join(f"{k} {v:.0f} img/s" for k, v in speeds.items()), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="CPU part: epochs per run")
    parser.add_argument("--batch-size", type=int, default=32, help="CPU part: batch per process")
    parser.add_argument("--rounds", type=int, default=2, help="CPU part: interleaved rounds, best kept")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--skip-gpu", action="store_true")
    parser.add_argument("--gpu-model", choices=sorted(DEPTH_CHANNELS), default="resnet50")
    parser.add_argument("--gpu-size", type=int, default=224)
    parser.add_argument("--gpu-batch", type=int, default=128)
    parser.add_argument("--gpu-images", type=int, default=2048)
    parser.add_argument("--gpu-epochs", type=int, default=3)
    parser.add_argument("--gpu-part-on-cpu", action="store_true", help=argparse.SUPPRESS)  # checks the code path
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--device", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        gpu_child(args)
        return
    if not args.skip_cpu:
        bench_cpu(args)
    if not args.skip_gpu:
        bench_gpu(args)


if __name__ == "__main__":
    main()
