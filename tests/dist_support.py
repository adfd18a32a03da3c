"""Helpers of the distributed tests; run as a script under torchrun it is a training worker.

``python -m torch.distributed.run --nproc-per-node=2 ... tests/dist_support.py OUT_DIR BATCH`` trains
:class:`PlainNet` with :func:`minim.cls.apis.train_model` (distributed, gloo, CPU) and rank 0 saves
the final weights to ``OUT_DIR/weights.pt``.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cls_engine_support import NoisyDataset, TinyHead, engine_cfg, write_image_tree


class PlainNet(nn.Module):
    """conv -> ReLU -> pool -> linear: no BatchNorm, no dropout, so N ranks x batch B == 1 process x N*B."""

    def __init__(self, num_classes: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = TinyHead(num_classes)
        self.CLASSES = None

    def forward(self, img):
        return self.head.fc(F.adaptive_avg_pool2d(F.relu(self.conv(img)), 1).flatten(1))

    def forward_train(self, img, gt_label):
        return {"loss": F.cross_entropy(self(img), gt_label)}

    def forward_test(self, img):
        return self(img).softmax(1)


def train_plain(work_dir, batch: int, distributed: bool, device="cpu"):
    """Train PlainNet for 3 iterations per epoch x 2 epochs on 24 samples; returns the model."""
    from minim.cls.apis import train_model

    torch.manual_seed(0)
    model = PlainNet()
    cfg = engine_cfg(work_dir, data=dict(samples_per_gpu=batch, workers_per_gpu=0), evaluation=None,
                     checkpoint_config=None, log_config=dict(interval=1))
    train_model(model, [NoisyDataset()], cfg, distributed=distributed, validate=False, device=device, console=False)
    return model


CONFIG = """\
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=3, in_channels=512, topk=(1,)))
img_norm_cfg = dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='RandomFlip', flip_prob=0.5, direction='horizontal'),
    dict(type='Normalize', **img_norm_cfg), dict(type='ImageToTensor', keys=['img']),
    dict(type='ToTensor', keys=['gt_label']), dict(type='Collect', keys=['img', 'gt_label'])]
test_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='Normalize', **img_norm_cfg),
    dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])]
data = dict(
    samples_per_gpu=3, workers_per_gpu=0,
    train=dict(type='CustomDataset', data_prefix='{root}/train', pipeline=train_pipeline),
    val=dict(type='CustomDataset', data_prefix='{root}/val', pipeline=test_pipeline),
    test=dict(type='CustomDataset', data_prefix='{root}/val', pipeline=test_pipeline))
evaluation = dict(interval=1, metric='accuracy', metric_options=dict(topk=(1,)), save_best='auto')
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4)
optimizer_config = dict(grad_clip=None)
lr_config = dict(policy='step', step=[10])
runner = dict(type='EpochBasedRunner', max_epochs=2)
checkpoint_config = dict(interval=1)
log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook')])
auto_scale_lr = dict(base_batch_size=3)
dist_params = dict(backend='nccl')
seed = 5
"""


def write_dist_setup(root: Path) -> Path:
    """12 training images and 9 validation images (odd: uneven shards) of 3 classes, 16x16, and a config
    training a CIFAR-style ResNet-18 on them (learns them in one epoch)."""
    write_image_tree(root / "data" / "train", per_class=4)
    write_image_tree(root / "data" / "val", per_class=3)
    config = root / "dist_cfg.py"
    config.write_text(textwrap.dedent(CONFIG).format(root=root / "data"))
    return config


if __name__ == "__main__":
    from minim.cls.engine.dist import destroy_distributed, init_distributed

    out, batch = Path(sys.argv[1]), int(sys.argv[2])
    setup = init_distributed("pytorch", device="cpu")
    trained = train_plain(out / f"rank{setup.rank}", batch, distributed=True, device=setup.device)
    if setup.rank == 0:
        torch.save(trained.state_dict(), out / "weights.pt")
    destroy_distributed()
