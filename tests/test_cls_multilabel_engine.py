"""Multi-label data through the engine: training evaluates mAP (save_best='mAP'), minim test --metrics mAP."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minim.cls.engine.evaluation import EvalHook
from minim.errors import ConfigError
from test_cls_data_multilabel import make_voc

CONFIG = """\
model = dict(
    type='ImageClassifier',
    backbone=dict(type='LeNet5'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='MultiLabelLinearClsHead', num_classes=20, in_channels=120))
pipeline = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='Resize', size=32),
    dict(type='Normalize', mean=[127.5], std=[64.0], to_rgb=False),
    dict(type='ImageToTensor', keys=['img']),
    dict(type='ToTensor', keys=['gt_label']),
    dict(type='Collect', keys=['img', 'gt_label'])]
voc = dict(type='VOC', data_prefix='{voc}', ann_file='{voc}/ImageSets/Main/test.txt', pipeline=pipeline)
data = dict(samples_per_gpu=3, workers_per_gpu=0, train=voc, val=voc, test=voc)
evaluation = dict(interval=1, metric=['mAP', 'CF1'], save_best='mAP')
optimizer = dict(type='SGD', lr=0.1, momentum=0.9)
optimizer_config = dict(grad_clip=None)
lr_config = dict(policy='fixed')
runner = dict(type='EpochBasedRunner', max_epochs=3)
checkpoint_config = dict(interval=10)
log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook')])
seed = 0
"""


@pytest.mark.slow
def test_train_and_test_a_multilabel_dataset(tmp_path, run_cli, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "voc_cfg.py"
    config.write_text(CONFIG.format(voc=make_voc(tmp_path)))
    result = run_cli("train", "cls", str(config), "--work-dir", "work")
    assert result.exit_code == 0, result.err
    records = [json.loads(line) for line in next((tmp_path / "work").glob("*.log.json")).read_text().splitlines()[1:]]
    val = [r for r in records if r["mode"] == "val"]
    assert len(val) == 3 and all(0 < r["mAP"] <= 100 and "CF1" in r for r in val)
    best = max(val, key=lambda r: r["mAP"])  # the first of equal scores is kept
    [checkpoint] = (tmp_path / "work").glob("best_mAP_epoch_*.pth")
    assert checkpoint.name == f"best_mAP_epoch_{best['epoch']}.pth" and "Best mAP on the validation set" in result.out
    out = tmp_path / "out.json"
    result = run_cli("test", "cls", str(config), "--checkpoint", str(checkpoint), "--metrics", "mAP", "OF1",
                     "--out", str(out))
    assert result.exit_code == 0, result.err
    written = json.loads(out.read_text())
    assert written["metrics"]["mAP"] == pytest.approx(best["mAP"], abs=1e-3) and "OF1" in written["metrics"]
    assert written["predictions"][0]["gt_label"][:3] == [0, 0, 0] and len(written["predictions"][0]["gt_label"]) == 20


def test_the_metric_must_fit_the_labels():
    expected = r"the val set is multi-label \(label vectors\) but evaluation.metric='accuracy'"
    with pytest.raises(ConfigError, match=expected) as info:
        EvalHook(None, np.zeros((2, 20), dtype=np.int8), 20, metric="accuracy")
    assert "evaluation.metric='mAP'" in info.value.hint
    with pytest.raises(ConfigError, match="needs a multi-label val set"):
        EvalHook(None, np.zeros(2, dtype=np.int64), 20, metric="mAP")
    assert EvalHook(None, np.zeros((2, 20)), 20, metric=["mAP", "OF1"], save_best="mAP").key == "mAP"
