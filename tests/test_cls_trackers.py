"""Trackers in ``log_config.hooks`` under mmcv/mmcls names: a missing package is one ConfigError naming it,
raised before training; with the package installed, TensorBoard, W&B (offline: scalars, checkpoints, tables
of validation predictions) and MLflow (local file store) record the run under the work dir."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import pytest

from minim.cls.engine.logger_hook import check_log_config
from minim.errors import ConfigError


def missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def hooks(*entries) -> dict:
    return dict(interval=2, hooks=[dict(type="TextLoggerHook"), *entries])


ONE_EPOCH = dict(type="EpochBasedRunner", max_epochs=1)


@pytest.mark.parametrize("kind, package", [("TensorboardLoggerHook", "tensorboard"), ("WandbLoggerHook", "wandb"),
                                           ("MMClsWandbHook", "wandb"), ("MlflowLoggerHook", "mlflow")])
def test_a_missing_tracker_package_is_one_error_naming_it(kind, package, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)  # absent for this test, installed or not (find_spec: None)
    with pytest.raises(ConfigError, match=f"{kind} needs the {package} package.*pip install {package}"):
        check_log_config(hooks(dict(type=kind)))


def test_tracker_keys_are_checked_with_mmcv_names():
    with pytest.raises(ConfigError, match="MlflowLoggerHook has unknown key 'exp_nme'.*did you mean 'exp_name'"):
        check_log_config(hooks(dict(type="MlflowLoggerHook", exp_nme="x")))
    with pytest.raises(ConfigError, match="unknown logger type 'WandbHook'"):
        check_log_config(hooks(dict(type="WandbHook")))
    assert check_log_config(dict(interval=3)) == (3, [])


def test_the_logged_val_images_are_mmcls_choice_and_unshowable_sets_are_named():
    from cls_engine_support import NoisyDataset
    from minim.cls.engine.wandb_tables import eval_image_indices, why_not_tabulated

    assert "NoisyDataset) is not one of minim's image datasets" in why_not_tabulated(NoisyDataset())
    assert eval_image_indices(9, 4).tolist() == [7, 1, 5, 0]  # mmcls: np.random.seed(42); shuffle(arange(9))


@pytest.mark.slow
@pytest.mark.skipif(missing("tensorboard"), reason="tensorboard is not installed")
def test_tensorboard_gets_the_scalars_under_mmcv_names(tmp_path):
    from cls_engine_support import train_tiny
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train_tiny(tmp_path, log_config=hooks(dict(type="TensorboardLoggerHook")), runner=ONE_EPOCH)
    events = EventAccumulator(str(tmp_path / "tf_logs"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["learning_rate", "momentum", "train/loss", "val/accuracy_top-1"]
    momenta = [e.value for e in events.Scalars("momentum")]
    assert len(momenta) >= 2 and all(m == pytest.approx(0.9) for m in momenta)  # SGD's, as mmcv logs it
    assert [e.step for e in events.Scalars("train/loss")] == [2, 3]  # log_config.interval=2, and the epoch's end


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    """W&B offline, silent, with its staging and cache folders under ``tmp_path / 'wandb-home'``: returns
    the staging folder, where an offline run leaves the files of its artifacts (tables as JSON)."""
    home = tmp_path / "wandb-home"
    for name, folder in (("WANDB_DATA_DIR", "data"), ("WANDB_CACHE_DIR", "cache"), ("WANDB_CONFIG_DIR", "config")):
        monkeypatch.setenv(name, str(home / folder))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return home / "data" / "artifacts" / "staging"


def offline_run_records(work_dir: Path, expected: bytes) -> bytes:
    """The bytes of the offline run file (protobuf records: names and aliases appear as they are), once
    ``expected`` is in them (wandb's service process may still be writing after ``finish()``)."""
    (run_file,) = (work_dir / "wandb").glob("offline-run-*/run-*.wandb")
    for _ in range(300):
        records = run_file.read_bytes()
        if expected in records:
            break
        time.sleep(0.1)
    return records


def staged_tables(staging: Path) -> list[dict]:
    """The W&B tables (their JSON) among the staged artifact files, each once."""
    tables = {}
    for path in staging.iterdir():
        text = path.read_bytes()
        if text.startswith(b'{"_type": "table"'):
            tables[text] = json.loads(text)
    return list(tables.values())


def image_tree_datasets(root: Path):
    """A CustomDataset train (6 per class) and val set (3 per class) of 16x16 images of cat/dog/fox, read
    at 8x8."""
    from cls_engine_support import write_image_tree
    from minim.cls.datasets.builder import build_dataset

    pipeline = [dict(type="LoadImageFromFile"), dict(type="Resize", size=8),
                dict(type="Normalize", mean=[127.5] * 3, std=[64.0] * 3, to_rgb=True),
                dict(type="ImageToTensor", keys=["img"]), dict(type="ToTensor", keys=["gt_label"]),
                dict(type="Collect", keys=["img", "gt_label"])]
    return [build_dataset(dict(type="CustomDataset", data_prefix=str(write_image_tree(root / part, per_class=n)),
                               pipeline=pipeline), dict(test_mode=part == "val"))
            for part, n in (("train", 6), ("val", 3))]


@pytest.mark.slow
@pytest.mark.skipif(missing("wandb"), reason="wandb is not installed")
def test_mmcls_wandb_hook_logs_scalars_checkpoints_and_tables_of_val_predictions(tmp_path, wandb_offline):
    import torch
    from cls_engine_support import TinyClassifier, engine_cfg
    from minim.cls.apis import train_model
    from minim.cls.engine.evaluation import EvalHook

    train, val = image_tree_datasets(tmp_path / "data")
    torch.manual_seed(0)
    work_dir = tmp_path / "work"
    cfg = engine_cfg(work_dir, log_config=hooks(dict(
        type="MMClsWandbHook", init_kwargs=dict(project="minim-test"), log_checkpoint=True,
        log_checkpoint_metadata=True, num_eval_images=4)))
    runner = train_model(TinyClassifier(num_classes=3), [train], cfg, validate=True, device="cpu", val_dataset=val,
                         console=False)
    records = offline_run_records(work_dir, b"epoch_2")
    for name in (b"train/loss", b"learning_rate", b"val/accuracy_top-1", b"_model", b"artifacts", b"_pred",
                 b"evaluation", b"val_data.table.json", b"eval_data.table.json"):
        assert name in records, name
    assert re.search(rb'"epoch": ?2, ?"accuracy_top-1"', records)  # log_checkpoint_metadata
    # the tables: mmcls's 4 images (seeded permutation of the 9), as read from disk (16x16, not 8x8)
    tables = staged_tables(wandb_offline)
    (truth,) = [t for t in tables if t["columns"] == ["image_name", "image", "ground_truth"]]
    predictions = sorted((t for t in tables if t["columns"][0] == "epoch"), key=lambda t: t["data"][0][0])
    chosen = [val.sample_source(i) for i in (7, 1, 5, 0)]
    assert [row[0] for row in truth["data"]] == chosen
    assert [row[2] for row in truth["data"]] == [Path(name).parent.name for name in chosen]
    assert {(row[1]["width"], row[1]["height"]) for row in truth["data"]} == {(16, 16)}
    assert [t["data"][0][0] for t in predictions] == [1, 2]
    assert predictions[1]["columns"] == ["epoch", "image_name", "image", "ground_truth", "prediction",
                                         "cat", "dog", "fox"]
    last_scores = runner.get_hook(EvalHook).last_scores
    for row, index in zip(predictions[1]["data"], (7, 1, 5, 0)):
        assert row[1] == val.sample_source(index) and row[3] == truth["data"][(7, 1, 5, 0).index(index)][2]
        assert row[5:] == pytest.approx(last_scores[index].tolist())
        assert row[4] == ("cat", "dog", "fox")[max(range(3), key=lambda c: row[5 + c])]


@pytest.mark.slow
@pytest.mark.skipif(missing("mlflow"), reason="mlflow is not installed")
def test_mlflow_local_store_gets_metrics_params_and_the_checkpoint(tmp_path):
    from cls_engine_support import train_tiny
    from mlflow.tracking import MlflowClient

    train_tiny(tmp_path, log_config=hooks(dict(type="MlflowLoggerHook", exp_name="tiny", tags=dict(team="cv"),
                                               params=dict(lr=0.1))), runner=ONE_EPOCH)
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert run.data.params == {"lr": "0.1"} and run.data.tags["team"] == "cv"
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) >= 2
    assert "val/accuracy_top-1" in run.data.metrics and run.data.metrics["momentum"] == pytest.approx(0.9)
    # latest.pth, resolved
    assert [a.path for a in client.list_artifacts(run.info.run_id, "models")] == ["models/epoch_1.pth"]
