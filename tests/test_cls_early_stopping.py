"""EarlyStoppingHook: mmengine's rule, in custom_hooks, ending epoch- and iteration-based runs, resumable."""

from __future__ import annotations

import math

import pytest
import torch

from cls_engine_support import train_tiny
from minim.cls.engine.early_stopping import EarlyStoppingHook
from minim.errors import ConfigError


def _feed(hook, scores):
    return [hook.update(score)[0] for score in scores]


def test_improvement_needs_min_delta_and_patience_counts_evaluations_in_a_row():
    hook = EarlyStoppingHook("accuracy_top-1", min_delta=0.5, patience=2)
    assert hook.rule == "greater"
    # 1.25 is not 0.5 better than 1; 1.5 is exactly 0.5 better (an improvement, as in mmengine); then two misses
    assert _feed(hook, [1.0, 1.25, 1.5, 1.75, 1.9]) == [False, False, False, False, True]
    assert hook.best_score == 1.5 and hook.wait_count == 2
    less = EarlyStoppingHook("loss", min_delta=0.0, patience=1)
    assert less.rule == "less" and _feed(less, [0.5, 0.4, 0.4, 0.45]) == [False, False, False, True]
    assert _feed(EarlyStoppingHook("mAP", stopping_threshold=90), [50, 91]) == [False, True]
    assert _feed(EarlyStoppingHook("mAP"), [50, math.nan]) == [False, True]
    assert _feed(EarlyStoppingHook("mAP", check_finite=False, patience=1), [50, math.nan]) == [False, False]


def test_arguments_are_checked():
    with pytest.raises(ConfigError, match="rule='greater' or rule='less'"):
        EarlyStoppingHook("weird_key")
    with pytest.raises(ConfigError, match="patience"):
        EarlyStoppingHook("accuracy_top-1", patience=0)
    with pytest.raises(ConfigError, match="rule must be"):
        EarlyStoppingHook("accuracy_top-1", rule="more")


def _stopper(**kwargs):
    return dict(type="EarlyStoppingHook", monitor="accuracy_top-1", min_delta=200.0, patience=1, **kwargs)


def _train(work_dir, resume_from=None, **stopper):
    return train_tiny(work_dir, custom_hooks=[dict(_stopper(), **stopper)], resume_from=resume_from,
                      runner=dict(type="EpochBasedRunner", max_epochs=4))


@pytest.mark.slow
def test_training_stops_early_and_a_resumed_run_keeps_counting(tmp_path, one_thread):
    runner = _train(tmp_path / "run")
    assert runner.epoch == 2 and (tmp_path / "run" / "epoch_2.pth").exists()
    assert not (tmp_path / "run" / "epoch_3.pth").exists()
    log = next((tmp_path / "run").glob("*.log")).read_text()
    assert "EarlyStoppingHook: accuracy_top-1 did not improve by 200 in the last 1 evaluations" in log
    state = torch.load(tmp_path / "run" / "epoch_1.pth", weights_only=False)["meta"]["early_stopping"]
    assert state["wait_count"] == 0 and state["best_score"] > 0
    # from epoch 1 the best score is restored, so epoch 2 stops again (a fresh count would train on)
    assert _train(tmp_path / "again", str(tmp_path / "run" / "epoch_1.pth")).epoch == 2
    # resuming the stopped run ends at once, unless patience was raised
    assert _train(tmp_path / "done", str(tmp_path / "run" / "epoch_2.pth")).epoch == 2
    assert _train(tmp_path / "more", str(tmp_path / "run" / "epoch_2.pth"), patience=2).epoch == 3


def test_iteration_based_runs_stop_after_the_evaluation(tmp_path, one_thread):
    runner = train_tiny(tmp_path, custom_hooks=[_stopper()], runner=dict(type="IterBasedRunner", max_iters=12),
                        lr_config=None, checkpoint_config=dict(interval=100), evaluation=dict(
                            interval=3, metric_options=dict(topk=(1,))))
    assert runner.iter == 6


def test_a_missing_monitor_warns_or_with_strict_fails(tmp_path, one_thread):
    runner = train_tiny(tmp_path / "lax", custom_hooks=[dict(_stopper(), monitor="accuracy_top-5")],
                        runner=dict(type="EpochBasedRunner", max_epochs=2))
    assert runner.epoch == 2
    log = next((tmp_path / "lax").glob("*.log")).read_text()
    assert log.count("monitor 'accuracy_top-5' is not among the evaluation results (accuracy_top-1)") == 1
    with pytest.raises(ConfigError, match="monitor 'accuracy_top-5' is not among"):
        train_tiny(tmp_path / "strict", custom_hooks=[dict(_stopper(), monitor="accuracy_top-5", strict=True)])
