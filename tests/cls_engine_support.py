"""Helpers for the engine/train/test/infer tests: a tiny model, in-memory data, tiny image trees and configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn


class TinyHead(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.fc = nn.Linear(8, num_classes)
        self.topk = (1,)


class TinyClassifier(nn.Module):
    """conv -> BN -> ReLU -> pool -> dropout -> linear; the classifier interface the engine uses."""

    def __init__(self, num_classes: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.dropout = nn.Dropout(0.2)
        self.head = TinyHead(num_classes)
        self.CLASSES = None

    def forward(self, img):
        x = F.adaptive_avg_pool2d(F.relu(self.bn(self.conv(img))), 1).flatten(1)
        return self.head.fc(self.dropout(x))

    def forward_train(self, img, gt_label):
        return {"loss": F.cross_entropy(self(img), gt_label)}

    def forward_test(self, img):
        return self(img).softmax(1)


class NoisyDataset(torch.utils.data.Dataset):
    """``n`` 8x8 samples of ``num_classes`` classes; each read adds random noise (tests seeding)."""

    def __init__(self, n: int = 24, num_classes: int = 4, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(n) % num_classes
        self.base = torch.randn(n, 3, 8, 8, generator=generator) + self.labels.view(-1, 1, 1, 1).float()
        self.CLASSES = tuple(f"c{i}" for i in range(num_classes))

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        img = self.base[index] + 0.1 * torch.randn(3, 8, 8) + 0.01 * float(np.random.rand())
        return {"img": img, "gt_label": self.labels[index], "img_metas": {"filename": f"sample{index}.png"}}

    def get_gt_labels(self):
        return self.labels.numpy()


def engine_cfg(work_dir, **overrides):
    """A minimal training config (as a minim Config) for the tiny model."""
    from minim.config import Config

    cfg = dict(
        work_dir=str(work_dir),
        seed=3,
        runner=dict(type="EpochBasedRunner", max_epochs=2),
        optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4),
        optimizer_config=dict(grad_clip=None),
        lr_config=dict(policy="step", step=[1], warmup="linear", warmup_iters=2),
        checkpoint_config=dict(interval=1),
        log_config=dict(interval=2, hooks=[dict(type="TextLoggerHook")]),
        evaluation=dict(interval=1, metric="accuracy", metric_options=dict(topk=(1,)), save_best="auto"),
        data=dict(samples_per_gpu=8, workers_per_gpu=0),
    )
    for key, value in overrides.items():
        cfg[key] = value
    return Config.from_dict(cfg)


def train_tiny(work_dir, *, model_seed: int = 0, val=True, **overrides):
    """Train a fresh TinyClassifier with :func:`train_model`; returns the runner."""
    from minim.cls.apis import train_model

    torch.manual_seed(model_seed)
    model = TinyClassifier()
    cfg = engine_cfg(work_dir, **overrides)
    return train_model(model, [NoisyDataset()], cfg, validate=val, device="cpu",
                       val_dataset=NoisyDataset(seed=1) if val else None, console=False)


def read_json_log(work_dir: Path) -> list[dict]:
    """The records of the (only) ``*.log.json`` file in ``work_dir``."""
    logs = sorted(Path(work_dir).glob("*.log.json"))
    assert len(logs) == 1, logs
    return [json.loads(line) for line in logs[0].read_text().splitlines()]


COLOURS = [(230, 20, 20), (20, 230, 20), (20, 20, 230)]


def write_image_tree(root: Path, per_class: int = 6, size: int = 16, classes=("cat", "dog", "fox")) -> Path:
    """``root/<class>/<i>.png`` solid colour images with a little noise (one colour per class)."""
    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(np.array(COLOURS[index % 3]) + rng.integers(-15, 15, (size, size, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.png")
    return root


TINY_CONFIG = """\
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ShuffleNetV2', widen_factor=0.5),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={num_classes}, in_channels=1024, topk=(1,)))
img_norm_cfg = dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', size=16),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='ImageToTensor', keys=['img']),
    dict(type='ToTensor', keys=['gt_label']),
    dict(type='Collect', keys=['img', 'gt_label'])]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', size=16),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='ImageToTensor', keys=['img']),
    dict(type='Collect', keys=['img'])]
data = dict(
    samples_per_gpu=6,
    workers_per_gpu=0,
    train=dict(type='CustomDataset', data_prefix='{train}', pipeline=train_pipeline),
    val=dict(type='CustomDataset', data_prefix='{val}', pipeline=test_pipeline),
    test=dict(type='CustomDataset', data_prefix='{val}', pipeline=test_pipeline))
evaluation = dict(interval=1, metric='accuracy', save_best='auto')
optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4)
optimizer_config = dict(grad_clip=None)
lr_config = dict(policy='step', step=[10])
runner = dict(type='EpochBasedRunner', max_epochs=2)
checkpoint_config = dict(interval=1)
log_config = dict(interval=50, hooks=[dict(type='TextLoggerHook')])
workflow = [('train', 1)]
seed = 1
"""


def write_tiny_setup(tmp_path: Path, num_classes: int = 3, name: str = "tiny_cfg.py") -> Path:
    """An image tree (train/val) and a config training a small ShuffleNetV2 on it; returns the config path."""
    write_image_tree(tmp_path / "data" / "train")
    write_image_tree(tmp_path / "data" / "val", per_class=3)
    config = tmp_path / name
    config.write_text(
        TINY_CONFIG.format(num_classes=num_classes, train=tmp_path / "data" / "train", val=tmp_path / "data" / "val")
    )
    return config
