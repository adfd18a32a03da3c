"""Trackers in ``log_config.hooks`` under mmcv/mmcls names: a missing package is one ConfigError naming it,
raised before training; with the package installed, W&B (offline) and MLflow (local file store) record
the run under the work dir."""

from __future__ import annotations

import importlib.util
import re
import time

import pytest

from minim.cls.engine.logger_hook import check_log_config
from minim.errors import ConfigError


def missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def hooks(*entries) -> dict:
    return dict(interval=2, hooks=[dict(type="TextLoggerHook"), *entries])


@pytest.mark.parametrize("kind, package", [("TensorboardLoggerHook", "tensorboard"), ("WandbLoggerHook", "wandb"),
                                           ("MMClsWandbHook", "wandb"), ("MlflowLoggerHook", "mlflow")])
def test_a_missing_tracker_package_is_one_error_naming_it(kind, package):
    if not missing(package):
        pytest.skip(f"{package} is installed")
    with pytest.raises(ConfigError, match=f"{kind} needs the {package} package.*pip install {package}"):
        check_log_config(hooks(dict(type=kind)))


def test_tracker_keys_are_checked_with_mmcv_names():
    with pytest.raises(ConfigError, match="MlflowLoggerHook has unknown key 'exp_nme'.*did you mean 'exp_name'"):
        check_log_config(hooks(dict(type="MlflowLoggerHook", exp_nme="x")))
    with pytest.raises(ConfigError, match="unknown logger type 'WandbHook'"):
        check_log_config(hooks(dict(type="WandbHook")))
    assert check_log_config(dict(interval=3)) == (3, [])


@pytest.mark.slow
@pytest.mark.skipif(missing("tensorboard"), reason="tensorboard is not installed")
def test_tensorboard_writes_event_files(tmp_path):
    from cls_engine_support import train_tiny

    train_tiny(tmp_path, log_config=hooks(dict(type="TensorboardLoggerHook")))
    assert list((tmp_path / "tf_logs").glob("events.out.tfevents.*"))


@pytest.mark.slow
@pytest.mark.skipif(missing("wandb"), reason="wandb is not installed")
def test_wandb_offline_run_lives_in_the_work_dir(tmp_path, monkeypatch):
    from cls_engine_support import train_tiny

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    train_tiny(tmp_path, log_config=hooks(dict(type="MMClsWandbHook", init_kwargs=dict(project="minim-test"),
                                               log_checkpoint=True, log_checkpoint_metadata=True)))
    (run_file,) = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")
    records = run_file.read_bytes()  # protobuf records: the names and aliases appear as they are
    for _ in range(300):  # wandb's service process may still be writing the file after finish()
        if b"epoch_2" in records:
            break
        time.sleep(0.1)
        records = run_file.read_bytes()
    for name in (b"train/loss", b"learning_rate", b"val/accuracy_top-1", b"_model", b"epoch_2", b"artifacts"):
        assert name in records, name
    assert re.search(rb'"epoch": ?2, ?"accuracy_top-1"', records)  # log_checkpoint_metadata
    log = next(tmp_path.glob("*.log")).read_text()
    assert log.count("(num_eval_images) are not logged by minim") == 1  # mmcls default 100


@pytest.mark.slow
@pytest.mark.skipif(missing("mlflow"), reason="mlflow is not installed")
def test_mlflow_local_store_gets_metrics_params_and_the_checkpoint(tmp_path):
    from cls_engine_support import train_tiny
    from mlflow.tracking import MlflowClient

    train_tiny(tmp_path, log_config=hooks(dict(type="MlflowLoggerHook", exp_name="tiny", tags=dict(team="cv"),
                                               params=dict(lr=0.1))))
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert run.data.params == {"lr": "0.1"} and run.data.tags["team"] == "cv"
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) >= 2
    assert "val/accuracy_top-1" in run.data.metrics
    assert [a.path for a in client.list_artifacts(run.info.run_id, "models")] == ["models/epoch_2.pth"]  # latest.pth, resolved
