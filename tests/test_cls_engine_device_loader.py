"""Normalize on the device, per batch: identical values, only where the pipeline allows it, and the caller's
dataset never changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cls_engine_support import write_image_tree, write_tiny_setup
from minim.cls.datasets import build_dataset
from minim.cls.datasets.wrappers import ConcatDataset
from minim.cls.engine.device_loader import DeviceLoader, device_normalized_view

NORM = dict(mean=[120.0, 110.0, 100.0], std=[60.0, 62.0, 64.0])


def dataset(root, after=(), to_rgb=False, norm=NORM):
    pipeline = [dict(type="LoadImageFromFile"), dict(type="RandomFlip", flip_prob=0.5),
                dict(type="Normalize", to_rgb=to_rgb, **norm), *after,
                dict(type="ImageToTensor", keys=["img"]), dict(type="ToTensor", keys=["gt_label"]),
                dict(type="Collect", keys=["img", "gt_label"])]
    return build_dataset(dict(type="CustomDataset", data_prefix=str(root), pipeline=pipeline))


def test_deferred_images_normalize_to_the_same_values(tmp_path):
    root = write_image_tree(tmp_path / "data", per_class=2)
    for to_rgb in (False, True):  # BGR output (channels swapped before deferring) and RGB output
        plain = dataset(root, to_rgb=to_rgb)
        view, normalizer = device_normalized_view(plain)
        for index in range(len(plain)):
            np.random.seed(index)  # RandomFlip draws from numpy, as mmcls
            expected = plain[index]["img"]
            np.random.seed(index)
            raw = view[index]["img"]
            assert raw.dtype == torch.uint8 and expected.dtype == torch.float32  # the dataset itself is unchanged
            assert torch.equal(normalizer(raw[None])[0], expected)


def test_pipelines_that_touch_pixels_after_normalize_are_left_alone(tmp_path):
    root = write_image_tree(tmp_path / "data", per_class=1)
    erasing = dataset(root, after=[dict(type="RandomErasing", erase_prob=0.5)])
    assert device_normalized_view(erasing) is None
    mixed = ConcatDataset([dataset(root), dataset(root, norm=dict(mean=[0, 0, 0], std=[1, 1, 1]))])
    assert device_normalized_view(mixed) is None
    same = ConcatDataset([dataset(root), dataset(root)])
    view, _ = device_normalized_view(same)
    assert view[0]["img"].dtype == torch.uint8 and same[0]["img"].dtype == torch.float32


def test_the_device_loader_hands_over_normalized_batches_on_the_device(tmp_path):
    from torch.utils.data import DataLoader

    from minim.cls.datasets.builder import collate

    root = write_image_tree(tmp_path / "data", per_class=2)
    plain = dataset(root)
    view, normalizer = device_normalized_view(plain)
    loader = DeviceLoader(DataLoader(view, batch_size=4, collate_fn=collate), "cpu", normalizer)
    np.random.seed(0)
    batch = next(iter(loader))
    np.random.seed(0)
    expected = collate([plain[i] for i in range(4)])
    assert torch.equal(batch["img"], expected["img"]) and torch.equal(batch["gt_label"], expected["gt_label"])
    assert len(loader) == len(loader.loader) and loader.batch_size == 4 and loader.dataset is view


@pytest.mark.parametrize("runner", [["runner.max_epochs=1"],
                                    ["runner.type=IterBasedRunner", "runner.max_iters=3", "runner.max_epochs=None",
                                     "lr_config.by_epoch=False", "checkpoint_config.by_epoch=False",
                                     "evaluation.by_epoch=False", "evaluation.interval=3"]])
def test_training_and_testing_are_identical_with_and_without(tmp_path, monkeypatch, runner):
    from minim.cls.commands import test, train

    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    runs = {}
    for on in (True, False):
        work_dir = tmp_path / f"on={on}"
        options = [f"normalize_on_device={on}", *runner]
        result = train(str(config), work_dir=str(work_dir), cfg_options=options, seed=3, console=False)
        scores = test(str(config), str(result.latest_checkpoint), cfg_options=options, console=False)
        state = torch.load(work_dir / "latest.pth", weights_only=True)["state_dict"]
        assert ("images normalized on the device batch by batch" in Path(result.log_file).read_text()) is on
        runs[on] = (state, [p["scores"] for p in scores.predictions])
    (state_on, scores_on), (state_off, scores_off) = runs[True], runs[False]
    assert state_on.keys() == state_off.keys()
    assert all(torch.equal(state_on[k], state_off[k]) for k in state_on)
    assert scores_on == scores_off


def test_train_model_gives_the_callers_datasets_back_as_they_were(tmp_path):
    from minim.cls.apis import train_model
    from minim.cls.models import build_classifier
    from minim.config import load_config

    config = load_config(write_tiny_setup(tmp_path))
    config.merge_from_options(["runner.max_epochs=1", f"work_dir={tmp_path / 'work'}"])
    train_set = build_dataset(config.data.train)
    val_set = build_dataset(config.data.val, dict(test_mode=True))
    runner = train_model(build_classifier(config.model), [train_set], config, device="cpu", val_dataset=val_set,
                         console=False)
    assert runner.train_loader.normalizer is not None  # normalized on the device while training
    assert train_set[0]["img"].dtype == torch.float32 and val_set[0]["img"].dtype == torch.float32
