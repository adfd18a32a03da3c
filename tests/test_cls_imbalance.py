"""Class imbalance: class_weight='auto', mmcls's ClassBalancedDataset / KFoldDataset, the imbalance warning,
per-class precision/recall/F1 in the log and the summary, and a real imbalanced-digits training run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cls_engine_support import NoisyDataset, TinyClassifier, engine_cfg
from minim.cls.datasets import build_dataset
from minim.cls.datasets.checks import imbalance_warning
from minim.cls.datasets.wrappers import ClassBalancedDataset, KFoldDataset
from minim.cls.models.losses import CrossEntropyLoss, LabelSmoothLoss, inverse_frequency_weights, set_auto_class_weights
from minim.errors import BuildError, ConfigError, DataError

FIXTURE = Path(__file__).parent / "fixtures" / "mmcls_wrappers" / "indices.json"


class Labels:
    """Just what the wrappers read (as scripts/record_mmcls_wrappers.py gives mmcls)."""

    CLASSES = ("a", "b", "c", "d")

    def __init__(self, cat_ids):
        self.cat_ids = cat_ids

    def __len__(self):
        return len(self.cat_ids)

    def __getitem__(self, idx):
        return {"idx": idx}

    def get_cat_ids(self, idx):
        return list(self.cat_ids[idx])

    def get_gt_labels(self):
        return np.array([ids[0] for ids in self.cat_ids])

    def evaluate(self, results, metric="accuracy", metric_options=None, indices=None, logger=None):
        return {"indices": list(indices)}


class WithLoss(torch.nn.Module):
    def __init__(self, loss, num_classes):
        super().__init__()
        self.head = torch.nn.Module()
        self.head.num_classes = num_classes
        self.head.loss = loss


# -- class_weight='auto' ---------------------------------------------------------------------------


def test_inverse_frequency_weights_keep_the_mean_weight_per_image_at_one():
    counts = [100, 10, 0, 40]
    weights = inverse_frequency_weights(counts)
    assert weights[2] == 0.0 and weights[1] == pytest.approx(10 * weights[0])
    assert sum(w * n for w, n in zip(weights, counts)) == pytest.approx(sum(counts))


def test_auto_class_weights_come_from_the_training_labels_and_weigh_the_loss():
    dataset = Labels([[0]] * 6 + [[1]] * 2 + [[2]] * 2 + [[3]] * 2)
    loss = CrossEntropyLoss(class_weight="auto")
    with pytest.raises(ConfigError, match="no weights yet"):
        loss(torch.zeros(2, 4), torch.tensor([0, 1]))
    lines = set_auto_class_weights(WithLoss(loss, 4), dataset)
    assert loss.class_weight == pytest.approx([0.5, 1.5, 1.5, 1.5])
    assert len(lines) == 1 and "a 0.5, b 1.5, c 1.5, d 1.5" in lines[0]
    scores, labels = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 1])
    plain = torch.nn.functional.cross_entropy(scores, labels, reduction="none")
    weights = torch.tensor([0.5, 1.5, 1.5, 1.5])[labels]
    torch.testing.assert_close(loss(scores, labels), (plain * weights).mean())
    smooth = LabelSmoothLoss(0.1, class_weight="auto")
    set_auto_class_weights(WithLoss(smooth, 4), dataset)
    assert smooth.ce.class_weight == pytest.approx([0.5, 1.5, 1.5, 1.5])
    assert set_auto_class_weights(WithLoss(CrossEntropyLoss(), 4), dataset) == []
    with pytest.raises(ConfigError, match="'auto'"):
        CrossEntropyLoss(class_weight="balanced")


def test_imbalance_warning_names_the_switches_and_is_quiet_when_one_is_used():
    skewed = Labels([[0]] * 20 + [[1]] * 2 + [[2]] * 5 + [[3]] * 5)
    model = WithLoss(CrossEntropyLoss(), 4)
    [warning] = imbalance_warning(skewed, model)
    assert "class 'a' has 20 images, class 'b' 2 (10x)" in warning
    assert "class_weight='auto'" in warning and "ClassBalancedDataset" in warning
    assert imbalance_warning(Labels([[0]] * 19 + [[1]] * 2 + [[2]] * 2 + [[3]] * 2), model) == []  # 9.5x
    assert imbalance_warning(skewed, WithLoss(CrossEntropyLoss(class_weight="auto"), 4)) == []
    assert imbalance_warning(ClassBalancedDataset(skewed, 0.5), model) == []


# -- mmcls's wrappers, index for index -------------------------------------------------------------


def test_class_balanced_and_kfold_indices_equal_mmcls():
    record = json.loads(FIXTURE.read_text())
    data = {"single": Labels([[label] for label in record["single"]]), "multi": Labels(record["multi"])}
    for case in record["class_balanced"]:
        wrapped = ClassBalancedDataset(data[case["labels"]], case["oversample_thr"])
        assert wrapped.indices == case["indices"], case
    for case in record["kfold"]:
        wrapped = KFoldDataset(data["single"], fold=case["fold"], num_splits=case["num_splits"],
                               test_mode=case["test_mode"], seed=case["seed"])
        assert wrapped.indices == case["indices"], case


def test_wrappers_behave_as_datasets():
    base = Labels([[0]] * 8 + [[1]] * 2)
    balanced = ClassBalancedDataset(base, oversample_thr=0.5)
    assert len(balanced) == 8 + 2 * 2 and balanced[9] == {"idx": 8} and balanced.CLASSES == base.CLASSES
    assert balanced.get_gt_labels().tolist() == [0] * 8 + [1] * 4
    with pytest.raises(DataError, match="evaluate the dataset it wraps"):
        balanced.evaluate([])
    fold = KFoldDataset(base, fold=1, num_splits=5, test_mode=True)
    assert fold.indices == [2, 3] and fold.evaluate([[1.0]] * 2) == {"indices": [2, 3]}
    with pytest.raises(BuildError, match="oversample_thr"):
        ClassBalancedDataset(base, oversample_thr=0)
    with pytest.raises(BuildError, match="fold"):
        KFoldDataset(base, fold=5, num_splits=5)


def test_wrapper_configs_build_like_mmcls(tmp_path):
    for name, count in (("a", 8), ("b", 2)):
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{i}.png").write_bytes(b"")
    inner = dict(type="CustomDataset", data_prefix=str(tmp_path))
    balanced = build_dataset(dict(type="ClassBalancedDataset", oversample_thr=0.5, dataset=inner))
    assert len(balanced) == 12
    # data.val (test_mode=True by default) of a KFoldDataset is the held-out fold; its inner dataset trains
    held_out = build_dataset(dict(type="KFoldDataset", dataset=inner, fold=0, num_splits=5), dict(test_mode=True))
    assert held_out.test_mode and not held_out.dataset.test_mode and held_out.indices == [0, 1]
    assert len(build_dataset(dict(type="KFoldDataset", dataset=inner, num_splits=5))) == 8
    with pytest.raises(BuildError, match="dataset=dict"):
        build_dataset(dict(type="ClassBalancedDataset", oversample_thr=0.5))


# -- per-class metrics in the log and the summary ---------------------------------------------------


def test_per_class_metrics_in_the_log_and_the_summary(tmp_path, capsys, one_thread):
    from minim.cls.apis import train_model
    from minim.cls.commands.render import print_per_class
    from minim.cls.engine.evaluation import EvalHook

    torch.manual_seed(0)
    cfg = engine_cfg(tmp_path, runner=dict(type="EpochBasedRunner", max_epochs=1))
    runner = train_model(TinyClassifier(), [NoisyDataset()], cfg, device="cpu", val_dataset=NoisyDataset(seed=1),
                         console=False)
    per_class = runner.get_hook(EvalHook).last_per_class
    assert per_class["classes"] == ["c0", "c1", "c2", "c3"] and per_class["support"] == [6, 6, 6, 6]
    assert np.mean(per_class["recall"]) == pytest.approx(runner.get_hook(EvalHook).last_results["accuracy_top-1"])
    log = next(tmp_path.glob("*.log")).read_text()
    assert "per-class metrics (%):" in log and "class  precision  recall      f1  images" in log
    from rich.console import Console

    print_per_class(per_class, Console(width=120))
    out = capsys.readouterr().out
    assert "Per class on the validation set" in out and "c3" in out and "recall %" in out


# -- the real thing: imbalanced digits ------------------------------------------------------------


PIPELINE = [dict(type="LoadImageFromFile", color_type="grayscale"), dict(type="Resize", size=32),
            dict(type="Normalize", mean=[77.85], std=[95.85], to_rgb=False), dict(type="ImageToTensor", keys=["img"])]


def _digits_run(train_root: Path, val_root: Path, work_dir: Path, class_weight) -> dict:
    from minim.cls.apis import train_model
    from minim.cls.engine.evaluation import EvalHook
    from minim.cls.models import build_classifier

    loss = dict(type="CrossEntropyLoss") if class_weight is None else dict(type="CrossEntropyLoss",
                                                                         class_weight=class_weight)
    model_cfg = dict(type="ImageClassifier", backbone=dict(type="LeNet5", num_classes=4),
                     head=dict(type="ClsHead", loss=loss, topk=(1,)))
    cfg = engine_cfg(work_dir, runner=dict(type="EpochBasedRunner", max_epochs=4), lr_config=None,
                     optimizer=dict(type="SGD", lr=0.02, momentum=0.9), checkpoint_config=dict(interval=100),
                     evaluation=dict(interval=4, metric_options=dict(topk=(1,))), data=dict(samples_per_gpu=16))
    torch.manual_seed(0)
    model = build_classifier(model_cfg)
    train = build_dataset(dict(type="CustomDataset", data_prefix=str(train_root), cache_images=True,
                               pipeline=PIPELINE + [dict(type="ToTensor", keys=["gt_label"]),
                                                    dict(type="Collect", keys=["img", "gt_label"])]))
    val = build_dataset(dict(type="CustomDataset", data_prefix=str(val_root), cache_images=True,
                             pipeline=PIPELINE + [dict(type="Collect", keys=["img"])]), dict(test_mode=True))
    runner = train_model(model, [train], cfg, device="cpu", val_dataset=val, console=False)
    return runner.get_hook(EvalHook).last_per_class


@pytest.mark.slow
def test_auto_class_weights_raise_the_worst_recall_on_imbalanced_digits(tmp_path, one_thread):
    from minim.cls.datasets import ensure_digits

    digits = ensure_digits(tmp_path / "digits")
    for split in ("train", "val"):
        for digit in "0123":
            shutil.copytree(digits / split / digit, tmp_path / split / digit)
    for digit in "23":  # ~145 training images each for 0 and 1, 6 for 2 and 3
        for path in sorted((tmp_path / "train" / digit).glob("*.png"))[6:]:
            path.unlink()
    plain = _digits_run(tmp_path / "train", tmp_path / "val", tmp_path / "plain", None)
    weighted = _digits_run(tmp_path / "train", tmp_path / "val", tmp_path / "auto", "auto")
    assert min(weighted["recall"]) > min(plain["recall"]) + 10, (plain, weighted)
    log = next((tmp_path / "plain").glob("*.log")).read_text()
    assert "the training set is imbalanced: class '1' has 146 images, class '2' 6 (24x)" in log
    weighted_log = next((tmp_path / "auto").glob("*.log")).read_text()
    assert "class_weight='auto': N / (classes x images of the class)" in weighted_log
