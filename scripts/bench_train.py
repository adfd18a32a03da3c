#!/usr/bin/env python
"""Training and inference benchmark of minim's cls engine against a plain PyTorch loop.

On the built-in digits data (1,438 training images, 32x32), each variant trains the same
model (built from the same config), optimizer (SGD, momentum, weight decay), lr schedule
(linear warm-up then cosine), batch size, thread count and number of epochs, in its own child
process (so peak memory is its own):

- ``plain``: torchvision ``ImageFolder`` + ``DataLoader`` + a hand-written loop;
- ``minim``: ``minim train cls`` through the library path (``minim.cls.commands.train``),
  with the engine's default settings (``channels_last=False``; the digits config's decoded-image
  cache and in-process data path kept);
- ``minim-fast``: the same plus ``channels_last`` (MobileNetV2; the shipped digits config turns it
  on) or ``channels_last`` + ``--amp`` (bf16 autocast, ResNet-18), see ``FAST_SETTINGS``.

Everything runs on the CPU, also where a GPU is present.

Reported: training images/s (time inside training iterations, evaluation excluded; the best
of ``--rounds`` interleaved runs, as other processes make single timings noisy), final top-1
on the 359 validation images, peak RSS. Then the latency of ``inference_model`` on one
image against a raw forward pass with the same preprocessing written by hand.

    python scripts/bench_train.py                  # short: 3 epochs, MobileNetV2 (< 5 min)
    python scripts/bench_train.py --full           # 15 epochs, MobileNetV2 and ResNet-18

The last line is ``train-bench: minim/plain = R (minim N img/s, plain M img/s)``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

DIGITS_CONFIG = Path(__file__).resolve().parents[1] / "model_index" / "cls" / "configs" / "mobilenet_v2" / "mobilenet-v2_digits.py"
RESNET18_CONFIG = """\
_base_ = '{digits}'
model = dict(backbone=dict(_delete_=True, type='ResNet', depth=18), head=dict(in_channels=512))
"""
MODELS = ("mobilenet_v2", "resnet18")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def config_for(model: str, folder: Path) -> Path:
    if model == "mobilenet_v2":
        return DIGITS_CONFIG
    path = folder / "resnet18_digits.py"
    path.write_text(RESNET18_CONFIG.format(digits=DIGITS_CONFIG))
    return path


# --------------------------------------------------------------------------- children
def run_plain(config: Path, epochs: int, batch: int, workers: int) -> dict:
    """A well-written plain PyTorch loop on the same data, model, optimizer and schedule."""
    import torch
    import torch.nn.functional as F
    from torchvision import datasets, transforms

    from minim.cls.datasets import ensure_digits
    from minim.cls.models import build_classifier
    from minim.config import load_config

    cfg = load_config(config)
    root = ensure_digits()
    norm = cfg.img_norm_cfg
    normalize = transforms.Normalize([m / 255 for m in norm["mean"]], [s / 255 for s in norm["std"]])
    train_tf = transforms.Compose([transforms.Resize(32), transforms.RandomCrop(32, padding=2), transforms.ToTensor(), normalize])
    val_tf = transforms.Compose([transforms.Resize(32), transforms.ToTensor(), normalize])
    train_set = datasets.ImageFolder(str(root / "train"), train_tf)
    val_set = datasets.ImageFolder(str(root / "val"), val_tf)
    loader_kwargs = dict(num_workers=workers, persistent_workers=workers > 0)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch, shuffle=True, **loader_kwargs)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=batch, **loader_kwargs)
    torch.manual_seed(0)
    model = build_classifier(cfg.model)
    opt_cfg = cfg.optimizer
    optimizer = torch.optim.SGD(model.parameters(), lr=opt_cfg.lr, momentum=opt_cfg.momentum, weight_decay=opt_cfg.weight_decay)
    per_epoch = len(train_loader)
    warmup_iters, ratio = per_epoch * cfg.lr_config.warmup_iters, cfg.lr_config.warmup_ratio
    seconds, step = 0.0, 0
    for epoch in range(epochs):
        regular = 0.5 * opt_cfg.lr * (1 + math.cos(math.pi * epoch / epochs))
        model.train()
        start = time.perf_counter()
        for img, label in train_loader:
            factor = 1 - (1 - step / warmup_iters) * (1 - ratio) if step < warmup_iters else 1.0
            for group in optimizer.param_groups:
                group["lr"] = regular * factor
            loss = F.cross_entropy(model(img), label)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        seconds += time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.inference_mode():
        for img, label in val_loader:
            correct += int((model(img).argmax(1) == label).sum())
    return {"images_per_second": epochs * len(train_set) / seconds, "top1": 100 * correct / len(val_set), "seconds": seconds}


#: what the fast variant turns on, per model (measured on a 2-core AVX-512 CPU: channels_last speeds
#: MobileNetV2's depth-wise convolutions up; ResNet-18 gains from bf16 autocast, MobileNetV2 loses)
FAST_SETTINGS = {"mobilenet_v2": dict(channels_last=True, amp=False), "resnet18": dict(channels_last=True, amp=True)}


def run_minim(config: Path, epochs: int, batch: int, fast: bool, model: str) -> dict:
    from minim.cls.commands import train

    settings = FAST_SETTINGS[model] if fast else dict(channels_last=False, amp=False)
    options = [f"runner.max_epochs={epochs}", f"data.samples_per_gpu={batch}", "log_config.interval=1000",
               f"channels_last={settings['channels_last']}"]
    with tempfile.TemporaryDirectory() as work_dir:
        result = train(str(config), work_dir=work_dir, cfg_options=options, device="cpu", amp=settings["amp"],
                       console=False)
    return {"images_per_second": result.images_per_second, "top1": result.last_metrics["accuracy_top-1"], "seconds": result.seconds}


def run_inference(config: Path, repeats: int) -> dict:
    """Median latency of inference_model on one image vs the raw forward pass with the same preprocessing."""
    import torch
    from PIL import Image
    from torchvision.transforms import functional as TF

    from minim.cls.apis import inference_model, init_model
    from minim.cls.datasets import ensure_digits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = init_model(str(config), device="cpu")
    image = next(iter(sorted((ensure_digits() / "val" / "3").glob("*.png"))))
    norm = model.cfg.img_norm_cfg

    def raw():
        with Image.open(image) as opened:
            tensor = TF.pil_to_tensor(opened.convert("RGB"))
        tensor = TF.resize(tensor, [32, 32], antialias=True).float()
        tensor = TF.normalize(tensor, norm["mean"], norm["std"])
        with torch.inference_mode():
            return model.forward_test(tensor[None])[0]

    def timed(function) -> float:
        for _ in range(10):
            function()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples) * 1000

    api_ms, raw_ms = timed(lambda: inference_model(model, str(image))), timed(raw)
    api_ms, raw_ms = min(api_ms, timed(lambda: inference_model(model, str(image)))), min(raw_ms, timed(raw))
    return {"api_ms": api_ms, "raw_ms": raw_ms}


def child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    config = Path(args.config)
    if args.child == "plain":
        out = run_plain(config, args.epochs, args.batch_size, args.plain_workers)
    elif args.child in ("minim", "minim-fast"):
        out = run_minim(config, args.epochs, args.batch_size, fast=args.child == "minim-fast", model=args.model)
    else:
        out = run_inference(config, args.repeats)
    out["peak_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(out), flush=True)


# --------------------------------------------------------------------------- parent
def spawn(kind: str, config: Path, args, model: str = "mobilenet_v2") -> dict:
    command = [sys.executable, __file__, "--child", kind, "--config", str(config), "--model", model, "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--threads", str(args.threads),
               "--plain-workers", str(args.plain_workers), "--repeats", str(args.repeats)]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"bench_train: the {kind} run failed")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None) -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="15 epochs (the digits schedule), MobileNetV2 and ResNet-18, one round")
    parser.add_argument("--epochs", type=int, help="epochs per run (default 3, or 15 with --full)")
    parser.add_argument("--models", nargs="+", choices=MODELS, help="models (default mobilenet_v2, both with --full)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--plain-workers", type=int, default=0, help="DataLoader workers of the plain loop")
    parser.add_argument("--repeats", type=int, default=100, help="inference timing repeats")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per variant, best kept (default 2, 1 with --full)")
    parser.add_argument("--skip-inference", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="mobilenet_v2", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.epochs = args.epochs or (15 if args.full else 3)
    args.rounds = args.rounds or (1 if args.full else 2)
    if args.child:
        child(args)
        return
    models = args.models or (list(MODELS) if args.full else ["mobilenet_v2"])
    print(f"digits, {args.epochs} epochs, batch {args.batch_size}, {args.threads} threads, CPU, "
          f"plain loop with {args.plain_workers} DataLoader workers, best of {args.rounds} rounds", flush=True)
    headline = None
    with tempfile.TemporaryDirectory() as folder:
        for model in models:
            config = config_for(model, Path(folder))
            results: dict[str, dict] = {}
            for _ in range(args.rounds):  # interleaved rounds, best throughput of each: less noise
                for kind in ("plain", "minim", "minim-fast"):
                    run = spawn(kind, config, args, model)
                    best = results.get(kind)
                    if best is None or run["images_per_second"] > best["images_per_second"]:
                        results[kind] = run
            plain = results["plain"]
            for kind, r in results.items():
                print(f"{model:<13} {kind:<11} {r['images_per_second']:7.1f} img/s  x{r['images_per_second'] / plain['images_per_second']:.2f}"
                      f"  top-1 {r['top1']:6.2f} %  peak {r['peak_mb']:6.0f} MB", flush=True)
            if headline is None:
                headline = results
        if not args.skip_inference:
            latency = spawn("infer", DIGITS_CONFIG, args)
            print(f"infer-bench: inference_model {latency['api_ms']:.2f} ms, raw forward {latency['raw_ms']:.2f} ms, "
                  f"ratio {latency['api_ms'] / latency['raw_ms']:.2f}", flush=True)
    fast, default, plain = headline["minim-fast"], headline["minim"], headline["plain"]
    print(f"train-bench (fast): minim/plain = {fast['images_per_second'] / plain['images_per_second']:.2f}")
    print(f"train-bench: minim/plain = {default['images_per_second'] / plain['images_per_second']:.2f} "
          f"(minim {default['images_per_second']:.0f} img/s, plain {plain['images_per_second']:.0f} img/s)")


if __name__ == "__main__":
    main()
