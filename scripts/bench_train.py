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

``--real`` benchmarks a user's job instead: the downloaded ``mobilenet-v2_torchvision-v2_in1k``
config (224 px, ImageNet pipeline, SGD lr 0.1 for 8 GPUs x 32 images, 2 workers; random initial weights)
changed only where a user must change it to train in one process: the data paths, ``num_classes=5``,
the lr scaled linearly to the batch of 32 (``auto_scale_lr``: 0.0125), and the number of epochs (with the
recipe's lr steps, 30/60/90 of 100 epochs, at the same fractions of the shorter run),
pointed at ``--images`` generated 500x375 JPEGs (fixed seed, 5 classes told apart by colour and
shapes, 80 % train / 20 % val). It runs ``minim train`` with the engine's own choices against a
plain loop written the way torchvision's ``references/classification/train.py`` writes it (ImageFolder,
the same transforms, SGD + MultiStepLR, the config's workers), then ``minim infer`` over the folder against
a loop that predicts one image at a time with the same preprocessing: once while ``minim infer``
measures its choices, then twice each, interleaved, with them remembered (best kept); then ``minim test`` over
``data.test`` (the val folder) against the evaluation loop of torchvision's reference (the config's batch size and
workers), twice each, interleaved (best kept): ``test-bench-real``. ``--device cuda`` with
``--amp`` / ``--channels-last`` gives both sides the same setting; ``--arch resnet50`` swaps in
``resnet50_torchvision-v1_in1k``. The last line is
``train-bench-real: minim/plain = R (...)``. ``--device cpu`` smoke-tests it anywhere:

    python scripts/bench_train.py --real                              # 1,000 images, 1 epoch
    python scripts/bench_train.py --real --images 250 --epochs 1      # a few minutes on a loaded 2-core CPU
    python scripts/bench_train.py --real --device cuda --amp --channels-last --arch resnet50 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

DIGITS_CONFIG = Path(__file__).resolve().parents[1] / "model_index" / "cls" / "configs" / "mobilenet_v2" / "mobilenet-v2_digits.py"
RESNET18_CONFIG = """\
_base_ = '{digits}'
model = dict(backbone=dict(_delete_=True, type='ResNet', depth=18), head=dict(in_channels=512))
"""
MODELS = ("mobilenet_v2", "resnet18")
#: --real: torchvision architecture -> the index entry a user downloads for it
REAL_CONFIGS = {"mobilenet_v2": "mobilenet-v2_torchvision-v2_in1k", "resnet50": "resnet50_torchvision-v1_in1k"}
REAL_CLASSES = 5
REAL_USER_CONFIG = """\
_base_ = './{base}.py'
# what a user changes to train on their folders in one process: the classes, the data paths, the lr
# scaled to one process's batch (linearly, as mmcls asks for fewer GPUs than the recipe's 8); and the
# epochs of this benchmark, with the recipe's lr steps at the same fractions of them
model = dict(head=dict(num_classes={classes}))
data = dict(train=dict(data_prefix='{root}/train'), val=dict(data_prefix='{root}/val'),
            test=dict(data_prefix='{root}/val'))
auto_scale_lr = dict(enable=True)
runner = dict(max_epochs={epochs})
lr_config = dict(step={steps})
"""


#: --real: rounds of the per-image loop and of minim infer with its choices remembered (best kept)
INFER_ROUNDS = 2


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


# --------------------------------------------------------------------------- --real
def make_real_images(root: Path, images: int, seed: int = 0, size: tuple[int, int] = (500, 375)) -> Path:
    """``images`` JPEGs under ``root/{train,val}/class_K`` (every fifth of a class to val); kept when present."""
    from PIL import Image, ImageDraw

    stamp = root / f".made-{images}-{seed}-{size[0]}x{size[1]}"
    if stamp.exists():
        return root
    rng = np.random.default_rng(seed)
    hues = [np.array(Image.new("HSV", (1, 1), (int(255 * k / REAL_CLASSES), 160, 200)).convert("RGB").getpixel((0, 0)))
            for k in range(REAL_CLASSES)]
    for i in range(images):
        label, split = i % REAL_CLASSES, "val" if (i // REAL_CLASSES) % 5 == 4 else "train"
        pixels = hues[label] + rng.normal(0, 25, (size[1], size[0], 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(3, 7))):
            x, y = int(rng.integers(0, size[0] - 40)), int(rng.integers(0, size[1] - 40))
            w, h = int(rng.integers(20, 160)), int(rng.integers(20, 120))
            shape = draw.ellipse if label % 2 else draw.rectangle
            shape((x, y, x + w, y + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        target = root / split / f"class_{label}" / f"img_{i:05d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, quality=90)
    stamp.touch()
    return root


def scaled_steps(steps: list[int], recipe_epochs: int, epochs: int) -> list[int]:
    """The recipe's lr milestones at the same fractions of a run of ``epochs`` (at least one epoch apart), so a
    shortened run still ends at the recipe's small learning rate instead of stopping at its first, largest one."""
    scaled: list[int] = []
    for step in steps:
        scaled.append(max(round(step * epochs / recipe_epochs), scaled[-1] + 1 if scaled else 1))
    return scaled


def real_user_config(folder: Path, root: Path, arch: str, epochs: int) -> Path:
    """The index config as ``minim download`` writes it, and the user's config that points it at ``root``."""
    from minim.config import load_config

    base = REAL_CONFIGS[arch]
    subprocess.run([sys.executable, "-m", "minim", "download", "cls", "--config", base, "--no-weights", "--dest",
                    str(folder), "--quiet"], check=True, capture_output=True, env={**os.environ, "MINIM_OFFLINE": "1"})
    recipe = load_config(folder / f"{base}.py")
    steps = scaled_steps(list(recipe.lr_config.step), recipe.runner.max_epochs, epochs)
    config = folder / f"my_{arch}.py"
    config.write_text(REAL_USER_CONFIG.format(base=base, classes=REAL_CLASSES, root=root, epochs=epochs, steps=steps))
    return config


def val_resize(cfg) -> int:
    """The short side the config's test pipeline resizes to before its 224 px centre crop."""
    size = next(step["size"] for step in cfg.data.val.pipeline if step["type"] == "Resize")
    return size[0] if isinstance(size, (list, tuple)) else size


def run_real_plain(args) -> dict:
    """torchvision's classification reference, reduced to the benchmark: same transforms, recipe and workers."""
    import torch
    import torchvision
    from torch import nn
    from torchvision import datasets, transforms
    from torchvision.transforms import InterpolationMode

    from minim.config import load_config

    cfg = load_config(args.config)
    device, root = torch.device(args.device), Path(args.data)
    norm = cfg.img_norm_cfg
    normalize = transforms.Normalize([m / 255 for m in norm["mean"]], [s / 255 for s in norm["std"]])
    to_float = [transforms.PILToTensor(), transforms.ConvertImageDtype(torch.float), normalize]
    train_tf = transforms.Compose([transforms.RandomResizedCrop(224, interpolation=InterpolationMode.BILINEAR,
                                                                antialias=True),
                                   transforms.RandomHorizontalFlip(0.5), *to_float])
    val_tf = transforms.Compose([transforms.Resize(val_resize(cfg), interpolation=InterpolationMode.BILINEAR,
                                                   antialias=True),
                                 transforms.CenterCrop(224), *to_float])
    train_set = datasets.ImageFolder(str(root / "train"), train_tf)
    val_set = datasets.ImageFolder(str(root / "val"), val_tf)
    batch, workers = cfg.data.samples_per_gpu, cfg.data.workers_per_gpu
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch, sampler=torch.utils.data.RandomSampler(train_set),
                                               num_workers=workers, pin_memory=True)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=batch, sampler=torch.utils.data.SequentialSampler(val_set),
                                             num_workers=workers, pin_memory=True)
    torch.manual_seed(args.seed)
    model = torchvision.models.get_model(args.arch, weights=None, num_classes=REAL_CLASSES).to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    criterion = nn.CrossEntropyLoss()
    opt = cfg.optimizer
    scaling = cfg.get("auto_scale_lr") or {}
    lr = opt.lr * batch / scaling["base_batch_size"] if scaling.get("enable") else opt.lr  # the linear scaling rule
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=opt.momentum, weight_decay=opt.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.lr_config.step),
                                                     gamma=cfg.lr_config.get("gamma", 0.1))
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda") if args.amp and device.type == "cuda" else None
    seconds = 0.0
    for _ in range(args.epochs):
        model.train()
        start = time.perf_counter()
        for image, target in train_loader:
            image, target = image.to(device, non_blocking=True), target.to(device, non_blocking=True)
            if args.channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=args.amp):
                loss = criterion(model(image), target)
            optimizer.zero_grad()
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
        scheduler.step()
    model.eval()
    correct = 0
    with torch.inference_mode():
        for image, target in val_loader:
            correct += int((model(image.to(device)).argmax(1).cpu() == target).sum())
    return {"images_per_second": args.epochs * len(train_set) / seconds, "top1": 100 * correct / len(val_set)}


def run_real_minim(args) -> dict:
    from minim.cls.commands import train

    result = train(args.config, work_dir=args.work_dir, device=args.device, amp=args.amp,
                   channels_last=args.channels_last, seed=args.seed, console=False)
    choices = [line.split(" - INFO - ", 1)[-1] for line in Path(result.log_file).read_text().splitlines()
               if "speed choices:" in line]
    return {"images_per_second": result.images_per_second, "top1": result.last_metrics["accuracy_top-1"],
            "seconds": result.seconds, "choices": choices[0] if choices else "speed choices: (not logged)"}


def run_real_infer(args, batched: bool) -> dict:
    """``minim infer`` over the folder (its defaults: batches, workers and channels_last as the engine chooses), or
    a loop predicting one image at a time as a user writes it (same checkpoint, the config's test preprocessing
    written with torchvision, PIL decoding); seconds include loading the model."""
    import torch
    from PIL import Image
    from torchvision import transforms
    from torchvision.transforms import InterpolationMode

    from minim.cls.apis import init_model
    from minim.cls.commands import infer
    from minim.cls.image_files import collect_images

    checkpoint = str(Path(args.work_dir) / "latest.pth")
    files = collect_images([args.data])
    start = time.perf_counter()
    if batched:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = [r["pred_label"] for r in infer(args.config, [args.data], checkpoint, device=args.device,
                                                        console=False)]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = init_model(args.config, checkpoint, device=args.device)
        norm = model.cfg.img_norm_cfg
        preprocess = transforms.Compose([
            transforms.Resize(val_resize(model.cfg), interpolation=InterpolationMode.BILINEAR, antialias=True),
            transforms.CenterCrop(224),
            transforms.PILToTensor(), transforms.ConvertImageDtype(torch.float),
            transforms.Normalize([m / 255 for m in norm["mean"]], [s / 255 for s in norm["std"]])])
        predicted = []
        with torch.inference_mode():
            for file in files:
                with Image.open(file) as opened:
                    tensor = preprocess(opened.convert("RGB"))
                predicted.append(int(model.forward_test(tensor[None].to(args.device)).argmax(1)))
    seconds = time.perf_counter() - start
    chosen = "its own batch size"
    if batched:
        chosen = remembered_choice("eager/frozen TorchScript")
    return {"images": len(files), "seconds": seconds, "images_per_second": len(files) / seconds,
            "predicted": len(predicted), "chosen": chosen}


def remembered_choice(candidates: str) -> str:
    """The forward pass and batch size the engine remembered for a job measuring ``candidates``, in words."""
    from minim.cls.engine.probe import probe_cache_path

    path = probe_cache_path("inference")
    choices = [value for key, value in (json.loads(path.read_text()) if path.exists() else {}).items()
               if key.endswith(" " + candidates)]
    return (f"{choices[-1]['forward']} forward passes of {choices[-1]['batch_size']}, measured" if choices
            else "not remembered: measured while other processes took the cores")


def run_real_test(args, engine: bool) -> dict:
    """``minim test`` over the config's ``data.test`` (its defaults: on a CPU, streams with a measured batch size),
    or the evaluation loop of torchvision's reference (the config's test transforms written with torchvision, its
    batch size and workers, one multi-threaded forward pass after another); seconds include loading the model."""
    import torch
    from torchvision import datasets, transforms
    from torchvision.transforms import InterpolationMode

    from minim.cls.apis import init_model
    from minim.cls.commands import test

    checkpoint = str(Path(args.work_dir) / "latest.pth")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if engine:
            result = test(args.config, checkpoint, device=args.device, console=False)
            images, top1 = len(result.predictions), result.metrics["accuracy_top-1"]
        else:
            model = init_model(args.config, checkpoint, device=args.device)
            cfg, norm = model.cfg, model.cfg.img_norm_cfg
            preprocess = transforms.Compose([
                transforms.Resize(val_resize(cfg), interpolation=InterpolationMode.BILINEAR, antialias=True),
                transforms.CenterCrop(224), transforms.PILToTensor(), transforms.ConvertImageDtype(torch.float),
                transforms.Normalize([m / 255 for m in norm["mean"]], [s / 255 for s in norm["std"]])])
            test_set = datasets.ImageFolder(cfg.data.test.data_prefix, preprocess)
            loader = torch.utils.data.DataLoader(test_set, batch_size=cfg.data.samples_per_gpu,
                                                 num_workers=cfg.data.workers_per_gpu)
            correct = 0
            with torch.inference_mode():
                for image, target in loader:
                    correct += int((model.forward_test(image.to(args.device)).argmax(1).cpu() == target).sum())
            images, top1 = len(test_set), 100 * correct / len(test_set)
    seconds = time.perf_counter() - start
    return {"images": images, "seconds": seconds, "images_per_second": images / seconds, "top1": top1,
            "chosen": remembered_choice("eager") if engine else "its own batch size and workers"}


def child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    if args.child.startswith("real-"):
        runs = {"real-plain": run_real_plain, "real-minim": run_real_minim,
                "real-infer": lambda a: run_real_infer(a, batched=True),
                "real-loop": lambda a: run_real_infer(a, batched=False),
                "real-test": lambda a: run_real_test(a, engine=True),
                "real-evalloop": lambda a: run_real_test(a, engine=False)}
        out = runs[args.child](args)
        out["peak_mb"] = peak_rss_mb()
        print("RESULT " + json.dumps(out), flush=True)
        return
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


def spawn_real(kind: str, args, config: Path, data: Path, work_dir: Path, home: Path) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--config", str(config), "--data", str(data),
               "--work-dir", str(work_dir), "--arch", args.arch, "--device", args.device, "--epochs", str(args.epochs),
               "--threads", str(args.threads), "--seed", str(args.seed)] + (["--amp"] if args.amp else []) + \
              (["--channels-last"] if args.channels_last else [])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "MINIM_HOME": str(home)})
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"bench_train --real: the {kind} run failed")
    return {**json.loads(lines[-1][len("RESULT "):]), "process_seconds": time.perf_counter() - start}


def run_real_distributed(args, config: Path, work_dir: Path, home: Path) -> float:
    """``minim train --launcher pytorch --gpus N`` (torchrun; NCCL on CUDA, gloo on CPU): training images/s."""
    command = [sys.executable, "-m", "minim", "train", "cls", str(config), "--launcher", "pytorch", "--gpus",
               str(args.gpus), "--device", args.device, "--work-dir", str(work_dir)]
    command += (["--amp"] if args.amp else []) + (["--channels-last"] if args.channels_last else [])
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "MINIM_HOME": str(home)})
    found = re.findall(r"([\d.]+) training images/s", done.stdout)
    if done.returncode != 0 or not found:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit("bench_train --real: the distributed run failed")
    return float(found[-1])


def main_real(args) -> None:
    """``--real``: minim train / minim infer on a user's config and folder against torchvision-style loops."""
    if args.images < 5 * REAL_CLASSES:
        raise SystemExit(f"bench_train --real: --images must be at least {5 * REAL_CLASSES} (one val image per class)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        data = make_real_images(Path(args.data) if args.data else folder / "images", args.images)
        config = real_user_config(folder, data, args.arch, args.epochs)
        counts = {split: len(list((data / split).rglob("*.jpg"))) for split in ("train", "val")}
        settings = ", ".join(name for name, on in (("AMP", args.amp), ("channels_last", args.channels_last)) if on)
        print(f"real: {args.images} generated 500x375 JPEGs ({counts['train']} train, {counts['val']} val, "
              f"{REAL_CLASSES} classes), {REAL_CONFIGS[args.arch]} with random initial weights, {args.epochs} "
              f"epoch(s), device {args.device}{', ' + settings + ' on both sides' if settings else ''}, "
              f"{args.threads} threads, load average {load:.1f}", flush=True)
        home, work_dir = folder / "minim_home", folder / "work_dir"
        plain = spawn_real("real-plain", args, config, data, work_dir, home)
        minim = spawn_real("real-minim", args, config, data, work_dir, home)
        for name, r in (("plain", plain), ("minim", minim)):
            print(f"{args.arch:<13} {name:<6} {r['images_per_second']:7.1f} training img/s  top-1 {r['top1']:6.2f} %  "
                  f"process {r['process_seconds']:6.1f} s  peak {r['peak_mb']:6.0f} MB", flush=True)
        print(f"minim's {minim['choices']}", flush=True)
        if not args.skip_inference:
            infer = spawn_real("real-infer", args, config, data, work_dir, home)  # measures its choices
            loops, agains = [], []
            for _ in range(INFER_ROUNDS):  # interleaved, the best of each kept: the machine's load moves
                loops.append(spawn_real("real-loop", args, config, data, work_dir, home))
                agains.append(spawn_real("real-infer", args, config, data, work_dir, home))  # reads them back
            loop, again = (max(runs, key=lambda r: r["images_per_second"]) for runs in (loops, agains))
            infer_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            first, remembered = (run["images_per_second"] / loop["images_per_second"] for run in (infer, again))
            print(f"infer-bench-real: minim infer {infer['images_per_second']:.1f} img/s measuring its choices "
                  f"({infer['chosen']}), {again['images_per_second']:.1f} img/s reading them back (best of "
                  f"{INFER_ROUNDS}); per-image loop {loop['images_per_second']:.1f} img/s (best of {INFER_ROUNDS}) "
                  f"over {infer['images']} images: minim/loop = {first:.2f} (first run), {remembered:.2f} (choices "
                  f"remembered) (load average {infer_load:.1f})", flush=True)
            tests, loops = [], []
            for _ in range(INFER_ROUNDS):  # (the first minim test may measure its choices)
                tests.append(spawn_real("real-test", args, config, data, work_dir, home))
                loops.append(spawn_real("real-evalloop", args, config, data, work_dir, home))
            tested, loop = (max(runs, key=lambda r: r["images_per_second"]) for runs in (tests, loops))
            print(f"test-bench-real: minim test {tested['images_per_second']:.1f} img/s ({tested['chosen']}; top-1 "
                  f"{tested['top1']:.1f} %), reference evaluation loop {loop['images_per_second']:.1f} img/s (top-1 "
                  f"{loop['top1']:.1f} %) over {tested['images']} images, best of {INFER_ROUNDS} each: minim/loop = "
                  f"{tested['images_per_second'] / loop['images_per_second']:.2f}", flush=True)
        if args.gpus > 1:
            ddp = run_real_distributed(args, config, folder / "ddp_work_dir", home)
            print(f"ddp-bench-real: {args.gpus} processes ({'nccl' if args.device == 'cuda' else 'gloo'}) "
                  f"{ddp:.1f} training img/s, 1 process {minim['images_per_second']:.1f} img/s: "
                  f"x{ddp / minim['images_per_second']:.2f}", flush=True)
    end_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"train-bench-real: minim/plain = {minim['images_per_second'] / plain['images_per_second']:.2f} "
          f"(minim {minim['images_per_second']:.1f} img/s, plain {plain['images_per_second']:.1f} img/s; top-1 "
          f"{minim['top1']:.1f} vs {plain['top1']:.1f} %; process {minim['process_seconds']:.0f} vs "
          f"{plain['process_seconds']:.0f} s; load average {load:.1f} -> {end_load:.1f})")


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
    real = parser.add_argument_group("--real: a downloaded ImageNet config on a folder of JPEGs")
    real.add_argument("--real", action="store_true", help="benchmark a user's job (see the module docs)")
    real.add_argument("--images", type=int, default=1000, help="generated JPEGs (80 %% train, 20 %% val)")
    real.add_argument("--arch", choices=sorted(REAL_CONFIGS), default="mobilenet_v2")
    real.add_argument("--device", default="cpu", help="cpu or cuda (both sides)")
    real.add_argument("--amp", action="store_true", help="mixed precision on both sides")
    real.add_argument("--channels-last", action="store_true", help="channels_last on both sides")
    real.add_argument("--gpus", type=int, default=1, help="also train minim with N processes (torchrun)")
    real.add_argument("--seed", type=int, default=0, help="the seed of both sides' runs (initial weights, order)")
    real.add_argument("--data", help="folder for the generated images (kept, reused); default: a temporary one")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="mobilenet_v2", help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.real and not args.child:
        args.epochs = args.epochs or 1
        main_real(args)
        return
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
