"""Helpers for the cls tools tests: mmcv-format JSON logs, tiny image folders, tiny model configs."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np


def write_json_log(path: Path, epochs: int = 3, iters_per_epoch: int = 20, interval: int = 5,
                   by_epoch: bool = True, times: dict | None = None, first_epoch: int = 1,
                   config: str = "model = dict()") -> Path:
    """A log as TextLoggerHook writes it: meta line (holding ``config``), train records every ``interval``
    iters, one val record per epoch from ``first_epoch`` (> 1: a resumed run) to ``epochs``.
    ``times[(epoch, k)]`` overrides the ``time`` of the k-th train record of ``epoch``."""
    lines = [{"env_info": "sys.platform: linux", "config": config, "seed": 0}]
    step = 0
    for epoch in range(first_epoch, epochs + 1):
        records = [i for i in range(interval, iters_per_epoch + 1, interval)]
        if records[-1] != iters_per_epoch:
            records.append(iters_per_epoch)
        for k, inner in enumerate(records):
            step = (epoch - 1) * iters_per_epoch + inner
            time = (times or {}).get((epoch, k), 0.1 + 0.01 * epoch)
            lines.append({"mode": "train", "epoch": epoch, "iter": inner if by_epoch else step,
                          "lr": 0.1 * 0.5 ** (epoch - 1), "data_time": 0.01, "time": time,
                          "loss": 2.0 * math.exp(-step / 30), "memory": 0})
        lines.append({"mode": "val", "epoch": epoch, "iter": iters_per_epoch if by_epoch else step,
                      "lr": 0.1 * 0.5 ** (epoch - 1), "accuracy_top-1": 50.0 + 10 * epoch,
                      "accuracy_top-5": 90.0 + epoch})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, checking its signature and IHDR chunk CRC."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    crc = struct.unpack(">I", data[29:33])[0]
    assert zlib.crc32(data[12:29]) == crc
    width, height = struct.unpack(">II", data[16:24])
    assert data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"), f"{path} is truncated"
    return width, height


def write_image_tree(root: Path, classes=("cat", "dog", "fox"), per_class: int = 3, size: int = 32) -> Path:
    """``root/<class>/<i>.png`` images of random noise tinted by class."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            pixels[..., index % 3] = 255
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def tiny_config(path: Path, data_root: Path, num_classes: int = 3, size: int = 32,
                backbone: str = "dict(type='ResNet', depth=18)", in_channels: int = 512) -> Path:
    """An mmcls-style config: ResNet-18 (by default) on a folder dataset at ``size`` pixels."""
    pipeline = (f"[dict(type='LoadImageFromFile'), dict(type='Resize', size={size}), "
                f"dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True), "
                "dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])]")
    train_pipeline = pipeline.replace("dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])",
                                      "dict(type='ImageToTensor', keys=['img']), dict(type='ToTensor', keys=['gt_label']), "
                                      "dict(type='Collect', keys=['img', 'gt_label'])")
    path.write_text(
        f"model = dict(type='ImageClassifier', backbone={backbone}, neck=dict(type='GlobalAveragePooling'),\n"
        f"             head=dict(type='LinearClsHead', num_classes={num_classes}, in_channels={in_channels}, topk=(1,)))\n"
        f"data = dict(samples_per_gpu=4, workers_per_gpu=0,\n"
        f"            train=dict(type='CustomDataset', data_prefix={str(data_root)!r}, pipeline={train_pipeline}),\n"
        f"            val=dict(type='CustomDataset', data_prefix={str(data_root)!r}, pipeline={pipeline}),\n"
        f"            test=dict(type='CustomDataset', data_prefix={str(data_root)!r}, pipeline={pipeline}))\n"
        "evaluation = dict(metric='accuracy', metric_options=dict(topk=(1,)))\n"
    )
    return path


SHUFFLENET = "dict(type='ShuffleNetV2', widen_factor=0.5)"


def tiny_shufflenet_config(path: Path, data_root: Path, num_classes: int = 3) -> Path:
    """A 0.35 M-parameter ShuffleNetV2-0.5 classifier at 32x32 (fast to run, 1.4 MB checkpoints)."""
    return tiny_config(path, data_root, num_classes=num_classes, backbone=SHUFFLENET, in_channels=1024)


def make_checkpoint(path: Path, config: Path, classes=("cat", "dog", "fox"), seed: int = 0,
                    best: float | None = 66.7) -> Path:
    """A minim training checkpoint of ``config``'s model with optimizer state and training meta.

    The weights are random, but batch-norm statistics are calibrated on random images and the head is
    scaled so that scores differ clearly between images (a fresh model predicts ~uniform scores)."""
    import warnings

    import torch

    from minim.cls.apis import init_model
    from minim.cls.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = init_model(str(config))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None  # cumulative average over the calibration batch
                module.reset_running_stats()
                module.weight.fill_(1.0)
        model.train()
        model(torch.randn(16, 3, 32, 32))
        model.eval()
        model.head.fc.weight.normal_(0, 0.05)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)  # state, unchanged weights
    model(torch.zeros(1, 3, 32, 32)).sum().backward()
    optimizer.step()
    meta = {"CLASSES": list(classes), "epoch": 3, "iter": 30, "rng_state": {"torch": torch.get_rng_state()}}
    if best is not None:
        meta["hook_msgs"] = {"best_key": "accuracy_top-1", "best_score": best, "best_ckpt": "/work/x/best_accuracy_top-1_epoch_3.pth",
                             "last_ckpt": "/work/x/epoch_3.pth"}
    return save_checkpoint(path, model, optimizer=optimizer, meta=meta)
