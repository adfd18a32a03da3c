"""The runner and its hooks on a tiny model: checkpoints, logs, save_best, resume, iteration mode."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from cls_engine_support import read_json_log, train_tiny
from minim.errors import BuildError, ConfigError


def state(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoints_latest_and_best(tmp_path):
    runner = train_tiny(tmp_path, runner=dict(type="EpochBasedRunner", max_epochs=3))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert {"epoch_1.pth", "epoch_2.pth", "epoch_3.pth", "latest.pth"} <= set(names)
    assert os.readlink(tmp_path / "latest.pth") == "epoch_3.pth"
    best = [n for n in names if n.startswith("best_")]
    assert len(best) == 1 and best[0].startswith("best_accuracy_top-1_epoch_")
    msgs = runner.meta["hook_msgs"]
    assert Path(msgs["best_ckpt"]).name == best[0] and msgs["last_ckpt"].endswith("epoch_3.pth")
    checkpoint = torch.load(tmp_path / "epoch_3.pth", weights_only=True)
    meta = checkpoint["meta"]
    assert (meta["epoch"], meta["iter"]) == (3, 9)
    assert meta["hook_msgs"]["best_score"] == msgs["best_score"]
    assert "optimizer" in checkpoint and "rng_state" in meta



def test_epoch_val_records_count_val_batches_as_mmcv(tmp_path):
    from cls_engine_support import NoisyDataset, TinyClassifier, engine_cfg
    from minim.cls.apis import train_model

    train_model(TinyClassifier(), [NoisyDataset()], engine_cfg(tmp_path), validate=True, device="cpu",
                val_dataset=NoisyDataset(n=40, seed=1), console=False)
    val = [r for r in read_json_log(tmp_path)[1:] if r["mode"] == "val"]
    assert [r["iter"] for r in val] == [5, 5]  # mmcv's eval_iter_num: 40 / 8 val batches (training has 3)


def test_max_keep_ckpts_and_save_optimizer(tmp_path):
    train_tiny(tmp_path, runner=dict(type="EpochBasedRunner", max_epochs=3),
               checkpoint_config=dict(interval=1, max_keep_ckpts=1, save_optimizer=False))
    kept = sorted(p.name for p in tmp_path.glob("epoch_*.pth"))
    assert kept == ["epoch_3.pth"]
    assert "optimizer" not in torch.load(tmp_path / "epoch_3.pth", weights_only=True)


def test_interval_and_save_last(tmp_path):
    train_tiny(tmp_path, runner=dict(type="EpochBasedRunner", max_epochs=3), checkpoint_config=dict(interval=2))
    assert sorted(p.name for p in tmp_path.glob("epoch_*.pth")) == ["epoch_2.pth", "epoch_3.pth"]


def test_previous_best_is_replaced(tmp_path):
    # rule 'less' on accuracy: the first evaluation is best, then only a worse accuracy replaces it
    runner = train_tiny(tmp_path, runner=dict(type="EpochBasedRunner", max_epochs=3),
                        evaluation=dict(interval=1, metric_options=dict(topk=(1,)), save_best="accuracy_top-1", rule="less"))
    best = list(tmp_path.glob("best_*.pth"))
    assert len(best) == 1 and str(best[0]) == runner.meta["hook_msgs"]["best_ckpt"]


def test_json_log_format(tmp_path):
    train_tiny(tmp_path, log_config=dict(interval=2))
    records = read_json_log(tmp_path)
    assert set(records[0]) == {"env_info", "config", "seed", "exp_name"}
    assert records[0]["seed"] == 3 and "PyTorch" in records[0]["env_info"] and "optimizer" in records[0]["config"]
    train = [r for r in records[1:] if r["mode"] == "train"]
    val = [r for r in records[1:] if r["mode"] == "val"]
    # 24 samples / batch 8 = 3 iterations per epoch: logged at iteration 2 and at the epoch's end (3)
    assert [(r["epoch"], r["iter"]) for r in train] == [(1, 2), (1, 3), (2, 2), (2, 3)]
    for record in train:
        assert list(record)[:4] == ["mode", "epoch", "iter", "lr"]
        assert {"data_time", "time", "loss", "memory"} <= set(record)
    assert [(r["epoch"], set(r) - {"mode", "epoch", "iter", "lr"}) for r in val] == [(1, {"accuracy_top-1"}), (2, {"accuracy_top-1"})]
    assert 0 <= val[0]["accuracy_top-1"] <= 100
    text = next(tmp_path.glob("*.log")).read_text()
    assert "Epoch [1][2/3]" in text and "Epoch(val) [1]" in text and "eta:" in text


def test_log_interval_larger_than_epoch_still_logs_each_epoch(tmp_path):
    train_tiny(tmp_path, log_config=dict(interval=100))
    train = [r for r in read_json_log(tmp_path)[1:] if r["mode"] == "train"]
    assert [(r["epoch"], r["iter"]) for r in train] == [(1, 3), (2, 3)]


def test_bad_save_best_fails_before_the_work_dir_is_touched(tmp_path):
    work_dir = tmp_path / "run"
    with pytest.raises(ConfigError) as info:
        train_tiny(work_dir, evaluation=dict(metric_options=dict(topk=1), save_best="accuracy_top-1"))
    message = str(info.value)
    assert "accuracy_top-1" in message and "produces: accuracy" in message
    assert not work_dir.exists()


def test_save_best_rule_cannot_be_inferred_for_unknown_keys(tmp_path):
    from minim.cls.engine.evaluation import resolve_save_best

    assert resolve_save_best("auto", None, "accuracy", None, 10) == ("accuracy_top-1", "greater")
    assert resolve_save_best("f1_score", None, ["accuracy", "f1_score"], None, 10) == ("f1_score", "greater")
    assert resolve_save_best("recall", "less", "recall", None, 10) == ("recall", "less")
    with pytest.raises(ConfigError, match="rule must be"):
        resolve_save_best("recall", "bigger", "recall", None, 10)


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_equals_uninterrupted_run(tmp_path, monkeypatch, workers):
    from minim.cls.engine import data as engine_data

    monkeypatch.setattr(engine_data, "FREE_BATCH_SECONDS", 0.0)  # start the workers however cheap loading is
    data = dict(samples_per_gpu=8, workers_per_gpu=workers)
    full = train_tiny(tmp_path / "full", runner=dict(type="EpochBasedRunner", max_epochs=2), data=data)
    train_tiny(tmp_path / "part", runner=dict(type="EpochBasedRunner", max_epochs=1), data=data)
    resumed = train_tiny(tmp_path / "part", model_seed=99, runner=dict(type="EpochBasedRunner", max_epochs=2), data=data,
                         resume_from=str(tmp_path / "part" / "epoch_1.pth"))
    assert same_weights(state(full), state(resumed))
    assert full.meta["hook_msgs"]["best_score"] == resumed.meta["hook_msgs"]["best_score"]
    full_val = [r for r in read_json_log(tmp_path / "full") if r.get("mode") == "val"]
    resumed_logs = sorted((tmp_path / "part").glob("*.log.json"))
    assert len(resumed_logs) == 2  # a resumed run writes its own log, the earlier one is kept
    import json

    resumed_val = [json.loads(x) for x in resumed_logs[-1].read_text().splitlines()[1:]]
    resumed_val = [r for r in resumed_val if r["mode"] == "val"]
    assert full_val[-1]["accuracy_top-1"] == resumed_val[-1]["accuracy_top-1"]


def test_resume_mid_epoch_from_iteration_checkpoint(tmp_path):
    common = dict(runner=dict(type="EpochBasedRunner", max_epochs=2), checkpoint_config=dict(interval=2, by_epoch=False))
    full = train_tiny(tmp_path / "full", **common)
    assert (tmp_path / "full" / "iter_4.pth").exists()  # inside epoch 2 (3 iterations per epoch)
    resumed = train_tiny(tmp_path / "part", model_seed=5, resume_from=str(tmp_path / "full" / "iter_4.pth"), **common)
    assert resumed.iter == 6 and same_weights(state(full), state(resumed))


def test_iteration_based_runner(tmp_path):
    runner = train_tiny(tmp_path, runner=dict(type="IterBasedRunner", max_iters=7),
                        lr_config=dict(policy="step", step=[4], by_epoch=False),
                        checkpoint_config=dict(interval=3, by_epoch=False),
                        evaluation=dict(interval=3, metric_options=dict(topk=(1,))), log_config=dict(interval=2))
    assert runner.iter == 7
    assert sorted(p.name for p in tmp_path.glob("iter_*.pth")) == ["iter_3.pth", "iter_6.pth", "iter_7.pth"]
    records = read_json_log(tmp_path)[1:]
    assert [r["iter"] for r in records if r["mode"] == "train"] == [2, 4, 6, 7]
    assert [r["iter"] for r in records if r["mode"] == "val"] == [3, 6]
    assert runner.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    epochs = [torch.load(tmp_path / f"iter_{n}.pth", weights_only=True)["meta"]["epoch"] for n in (3, 6, 7)]
    assert epochs == [1, 2, 3]  # mmcv's: the data epoch under way (3 iterations each), 1-based


def test_val_workflow_logs_validation_loss(tmp_path):
    from cls_engine_support import NoisyDataset, TinyClassifier, engine_cfg
    from minim.cls.apis import train_model

    cfg = engine_cfg(tmp_path, workflow=[("train", 1), ("val", 1)])
    train_model(TinyClassifier(), [NoisyDataset(), NoisyDataset(seed=2)], cfg, validate=False, device="cpu", console=False)
    val = [r for r in read_json_log(tmp_path)[1:] if r["mode"] == "val"]
    assert [r["epoch"] for r in val] == [1, 2] and all("loss" in r and "accuracy_top-1" not in r for r in val)


def test_iteration_based_val_workflow_takes_n_batches_per_turn(tmp_path):
    """mmcv's IterBasedRunner: ('val', 2) evaluates the loss on the next 2 val batches, not the whole set."""
    from cls_engine_support import NoisyDataset, TinyClassifier, engine_cfg
    from minim.cls.apis import train_model

    cfg = engine_cfg(tmp_path, workflow=[("train", 3), ("val", 2)], lr_config=None, log_config=dict(interval=3),
                     runner=dict(type="IterBasedRunner", max_iters=6), checkpoint_config=dict(interval=10))
    train_model(TinyClassifier(), [NoisyDataset(), NoisyDataset(seed=2)], cfg, validate=False, device="cpu",
                console=False)
    val = [r for r in read_json_log(tmp_path)[1:] if r["mode"] == "val"]
    assert [r["iter"] for r in val] == [2, 2]  # 2 batches each turn, of the 3 the val set has


def test_grad_clip_logs_grad_norm_and_accumulation_runs(tmp_path):
    train_tiny(tmp_path, optimizer_config=dict(grad_clip=dict(max_norm=1.0, norm_type=2), cumulative_iters=2,
                                               type="GradientCumulativeOptimizerHook"))
    train = [r for r in read_json_log(tmp_path)[1:] if r["mode"] == "train"]
    assert all("grad_norm" in r for r in train if r["iter"] == 2)


def test_bf16_and_channels_last_on_cpu(tmp_path):
    runner = train_tiny(tmp_path, fp16=dict(loss_scale="dynamic"), channels_last=True)
    assert runner.precision.dtype is torch.bfloat16 and runner.epoch == 2


@pytest.mark.parametrize(
    "override, words",
    [
        (dict(runner=dict(type="EpochBasedRunner", max_iters=3)), "max_iters"),
        (dict(runner=dict(type="EpochRunner", max_epochs=3)), "unknown runner type"),
        (dict(checkpoint_config=dict(intreval=1)), "did you mean 'interval'"),
        (dict(evaluation=dict(interval=1, save_bset="auto")), "save_bset"),
        (dict(log_config=dict(interval=2, hooks=[dict(type="WandbHook")])), "unknown logger type"),
        (dict(optimizer_config=dict(grad_clip=dict(norm=1))), "grad_clip"),
        (dict(data=dict(samples_per_gpu=8, worker_per_gpu=0)), "worker_per_gpu"),
        (dict(lr_config=dict(policy="CosineAnnealing", min_lr=0, step=[1])), "_delete_=True"),
    ],
)
def test_bad_schedule_and_hook_keys_fail_before_training(tmp_path, override, words):
    with pytest.raises(ConfigError, match=words):
        train_tiny(tmp_path / "run", **override)
    assert not (tmp_path / "run").exists()


def test_unique_timestamps_never_overwrite_logs(tmp_path):
    from minim.cls.apis.train import _unique_timestamp

    first = _unique_timestamp(tmp_path)
    (tmp_path / f"{first}.log").write_text("earlier run")
    assert _unique_timestamp(tmp_path) != first


def test_latest_falls_back_to_a_copy_where_links_fail(tmp_path, monkeypatch):
    from minim.cls.engine import checkpoint_io

    target = tmp_path / "epoch_1.pth"
    target.write_bytes(b"weights")

    def no_links(*args, **kwargs):
        raise OSError("symbolic links are not allowed here")

    monkeypatch.setattr(checkpoint_io.os, "symlink", no_links)
    checkpoint_io.link_latest(target, tmp_path / "latest.pth")
    latest = tmp_path / "latest.pth"
    assert not latest.is_symlink() and latest.read_bytes() == b"weights"
    assert checkpoint_io.newest_checkpoint(tmp_path) == latest


def test_newest_checkpoint_without_latest(tmp_path):
    from minim.cls.engine.checkpoint_io import newest_checkpoint

    assert newest_checkpoint(tmp_path) is None
    for i, name in enumerate(["epoch_2.pth", "epoch_10.pth", "best_accuracy_top-1_epoch_3.pth"]):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (1000 + i, 1000 + i))
    assert newest_checkpoint(tmp_path).name == "epoch_10.pth"


def test_sampler_order_depends_only_on_seed_and_epoch():
    from minim.cls.datasets.samplers import EpochSampler

    sampler = EpochSampler(10, shuffle=True, seed=4)
    sampler.set_epoch(1)
    first = list(sampler)
    assert sorted(i for _, i in first) == list(range(10))
    again = EpochSampler(10, shuffle=True, seed=4)
    again.set_epoch(1)
    again.set_start(3)
    assert list(again) == first[3:] and len(again) == 7
    again.set_epoch(2)
    again.set_start(0)
    assert list(again) != first
    shards = [list(EpochSampler(10, seed=4, rank=r, world_size=3)) for r in range(3)]
    assert sum(len(s) for s in shards) == 12  # padded to equal shares, as DistributedSampler


def test_log_averages_weigh_loss_terms_by_batch_size_and_time_includes_loading(tmp_path):
    """mmcv's log_buffer: loss terms averaged over samples (a short last batch counts less); ``time`` is
    the whole iteration, data loading included (IterTimerHook), so it is never below ``data_time``."""
    runner = train_tiny(tmp_path, val=False)
    runner.reset_log_buffer()
    runner._accumulate({"loss": torch.tensor(1.0)}, step_time=0.1, data_time=0.2, samples=8)
    runner._accumulate({"loss": torch.tensor(4.0)}, step_time=0.1, data_time=0.0, samples=2)
    out = runner.pop_log_averages()
    assert out["loss"] == pytest.approx((8 * 1.0 + 2 * 4.0) / 10)
    assert out["time"] == pytest.approx(0.2) and out["data_time"] == pytest.approx(0.1)


def test_dict_loss_terms_log_under_their_own_names_as_mmcls():
    from minim.cls.engine.runner import parse_losses

    loss, log_vars = parse_losses({"loss": torch.tensor([1.0, 3.0]),
                                   "accuracy": {"top-1": torch.tensor(50.0), "top-5": torch.tensor(90.0)}})
    assert set(log_vars) == {"loss", "top-1", "top-5"} and float(loss) == 2.0


def test_momentum_config_schedules_the_optimizers_momentum(tmp_path):
    runner = train_tiny(tmp_path, momentum_config=dict(policy="step", step=[1], gamma=0.5), val=False)
    assert runner.optimizer.param_groups[0]["momentum"] == pytest.approx(0.45)  # epoch 2 of 2
    saved = torch.load(tmp_path / "epoch_2.pth", weights_only=True)["optimizer"]["param_groups"][0]
    assert saved["momentum"] == pytest.approx(0.45) and saved["initial_momentum"] == pytest.approx(0.9)


def test_precise_bn_hook_sets_running_statistics_to_the_average_over_batches():
    from contextlib import nullcontext
    from types import SimpleNamespace

    from minim.cls.engine.custom_hooks import PreciseBNHook
    from minim.cls.engine.hooks import HOOKS

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm2d(3)

        def extract_feat(self, img):
            return self.bn(img)

    torch.manual_seed(0)
    batches = [{"img": torch.randn(4, 3, 5, 5) * (i + 1) + i} for i in range(3)]
    model = Net().train()
    logs = []
    runner = SimpleNamespace(model=model, precision=SimpleNamespace(autocast=nullcontext),
                             evaluation_weights=nullcontext,
                             _inputs=lambda batch: (batch["img"], None),
                             logger=SimpleNamespace(info=logs.append, warning=logs.append))

    class Loader(list):
        batch_size = 4

    runner.train_loader = Loader(batches)
    hook = HOOKS.build(dict(type="PreciseBNHook", num_samples=8))  # 8 // 4 = 2 batches
    assert isinstance(hook, PreciseBNHook) and hook.priority == "ABOVE_NORMAL"
    hook.update(runner)
    expected_mean = torch.stack([b["img"].mean(dim=(0, 2, 3)) for b in batches[:2]]).mean(0)
    expected_var = torch.stack([b["img"].var(dim=(0, 2, 3), unbiased=True) for b in batches[:2]]).mean(0)
    torch.testing.assert_close(model.bn.running_mean, expected_mean)
    torch.testing.assert_close(model.bn.running_var, expected_var)
    assert model.bn.momentum == 0.1 and logs == ["PreciseBNHook: BatchNorm statistics from 2 batch(es)"]


def test_class_num_check_hook_and_unknown_custom_hooks(tmp_path):
    train_tiny(tmp_path / "ok", custom_hooks=[dict(type="ClassNumCheckHook")], val=False)
    with pytest.raises(BuildError, match="unknown hook type 'EMAHok'; registered: ClassNumCheckHook, EMAHook, EarlyStoppingHook, Pre") as info:
        train_tiny(tmp_path / "ema", custom_hooks=[dict(type="EMAHok", momentum=4e-5)], val=False)
    assert "EMAHook" in info.value.hint


def test_iteration_based_evaluation_comes_after_the_training_record_of_its_iteration(tmp_path):
    train_tiny(tmp_path, runner=dict(type="IterBasedRunner", max_iters=7), lr_config=None,
               checkpoint_config=dict(interval=10), evaluation=dict(interval=3, metric_options=dict(topk=(1,))),
               log_config=dict(interval=3))
    order = [(r["mode"], r["iter"]) for r in read_json_log(tmp_path)[1:]]
    assert order == [("train", 3), ("val", 3), ("train", 6), ("val", 6), ("train", 7)]


def test_evaluation_start_0_evaluates_before_training_as_mmcv(tmp_path):
    runner = train_tiny(tmp_path, evaluation=dict(interval=1, start=0, metric_options=dict(topk=(1,)),
                                                  save_best="auto"))
    val = [r for r in read_json_log(tmp_path)[1:] if r["mode"] == "val"]
    assert [r["epoch"] for r in val] == [0, 1, 2]  # epoch 0: the model before any training
    best = runner.meta["hook_msgs"]
    assert best["best_score"] == max(r["accuracy_top-1"] for r in val)
    if best["best_number"] == 0:
        assert torch.load(best["best_ckpt"], weights_only=True)["meta"]["epoch"] == 0


def test_json_log_values_are_rounded_and_non_finite_values_stay_numbers(tmp_path):
    from minim.cls.engine.logger import _json_value

    assert _json_value(0.010000000000000002) == 0.01 and _json_value(1.234567891e-7) == 1.23457e-07
    assert math.isnan(_json_value(float("nan"))) and _json_value([float("inf")]) == [float("inf")]
    train_tiny(tmp_path, val=False, lr_config=dict(policy="step", step=[1]))
    second_epoch = [r for r in read_json_log(tmp_path)[1:] if r["epoch"] == 2]
    assert second_epoch and all(r["lr"] == 0.01 for r in second_epoch)  # 0.1 * 0.1, not 0.010000000000000002


def test_a_best_score_of_zero_saves_no_checkpoint(tmp_path):
    runner = train_tiny(tmp_path, evaluation=dict(interval=1, metric_options=dict(topk=(1,), thrs=(1.0,)),
                                                  save_best="auto"))
    assert not list(tmp_path.glob("best_*.pth")) and "best_score" not in runner.meta["hook_msgs"]


def test_only_the_runs_own_earlier_best_checkpoint_is_ever_deleted(tmp_path, monkeypatch):
    """A checkpoint written from another cwd names its best file relative to that cwd; resumed from here,
    the same relative path would be another run's file."""
    from minim.cls.engine.evaluation import _own_best

    run, other = tmp_path / "p1" / "wd", tmp_path / "p2" / "wd"
    for folder in (run, other):
        folder.mkdir(parents=True)
        (folder / "best_accuracy_top-1_epoch_1.pth").write_bytes(b"x")
    monkeypatch.chdir(tmp_path / "p2")
    assert _own_best("wd/best_accuracy_top-1_epoch_1.pth", run, "accuracy_top-1") == \
        run / "best_accuracy_top-1_epoch_1.pth"
    assert _own_best("wd/epoch_1.pth", run, "accuracy_top-1") is None
    assert _own_best(str(run / "best_accuracy_top-1_epoch_9.pth"), run, "accuracy_top-1") is None  # gone already
    runner = train_tiny(tmp_path / "abs", evaluation=dict(interval=1, metric_options=dict(topk=(1,)),
                                                         save_best="auto"))
    assert Path(runner.meta["hook_msgs"]["best_ckpt"]).is_absolute()
    assert Path(runner.meta["hook_msgs"]["last_ckpt"]).is_absolute()


def test_a_work_dir_holds_one_run_at_a_time_and_stale_temporaries_go(tmp_path):
    from minim.cls.engine.work_dir import claim_work_dir
    from minim.errors import UsageError

    work = tmp_path / "wd"
    work.mkdir()
    stale = work / ".epoch_3.pth.tmp-abc123.pth"  # what a run killed while saving leaves
    stale.write_bytes(b"half a checkpoint")
    with claim_work_dir(work):
        with pytest.raises(UsageError, match=rf"work dir {work} is in use by another training run \(pid {os.getpid()}\)"):
            train_tiny(work, val=False)
        assert not stale.exists() and not list(work.glob("*.pth"))
    train_tiny(work, val=False)  # released: the next run proceeds
    assert (work / "latest.pth").exists()


def test_the_work_dir_lock_dies_with_its_process_not_with_its_forked_workers(tmp_path):
    """A run killed with SIGKILL frees its work dir at once, even while its (forked) DataLoader workers
    still live; while it runs, another process is refused."""
    import signal
    import subprocess
    import sys
    import textwrap

    from minim.cls.engine.work_dir import claim_work_dir
    from minim.errors import UsageError

    holder = textwrap.dedent(f"""
        import os, time
        from minim.cls.engine.work_dir import claim_work_dir
        with claim_work_dir({str(tmp_path / 'wd')!r}):
            if os.fork() == 0:  # stands for a DataLoader worker
                time.sleep(60)
                os._exit(0)
            print("held", flush=True)
            time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        assert process.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match=f"in use by another training run \\(pid {process.pid}\\)"):
            with claim_work_dir(tmp_path / "wd"):
                pass
        process.kill()
        process.wait()
        with claim_work_dir(tmp_path / "wd"):  # the worker is still alive; the lock is not its to keep
            pass
    finally:
        os.killpg(process.pid, signal.SIGKILL)


def test_train_model_starts_from_load_from(tmp_path):
    train_tiny(tmp_path / "first", runner=dict(type="EpochBasedRunner", max_epochs=1), val=False)
    start = torch.load(tmp_path / "first" / "epoch_1.pth", weights_only=True)["state_dict"]
    frozen = dict(type="SGD", lr=0.0, momentum=0.0, weight_decay=0.0)  # training changes no weight
    runner = train_tiny(tmp_path / "second", model_seed=7, optimizer=frozen, lr_config=None, val=False,
                        runner=dict(type="EpochBasedRunner", max_epochs=1), load_from=str(tmp_path / "first" / "epoch_1.pth"))
    for name, parameter in runner.model.named_parameters():
        assert torch.equal(parameter.detach(), start[name]), name


def test_train_model_checks_load_from_and_class_counts_before_writing(tmp_path):
    from cls_engine_support import NoisyDataset, TinyClassifier, engine_cfg
    from minim.cls.apis import train_model
    from minim.errors import CheckpointError, DataError

    with pytest.raises(CheckpointError, match="does not exist"):
        train_tiny(tmp_path / "missing", load_from=str(tmp_path / "nowhere.pth"), val=False)
    assert not (tmp_path / "missing").exists()
    with pytest.raises(DataError, match="data.train has 3 classes but model.head.num_classes=4"):
        train_model(TinyClassifier(num_classes=4), [NoisyDataset(num_classes=3)], engine_cfg(tmp_path / "classes"),
                    validate=False, device="cpu", console=False)
    assert not (tmp_path / "classes").exists()


def test_a_one_image_last_batch_is_warned_about_and_a_batchnorm_failure_explained(tmp_path):
    from torch import nn

    from cls_engine_support import NoisyDataset, TinyClassifier, engine_cfg
    from minim.cls.apis import train_model
    from minim.errors import ConfigError

    class PooledBN(TinyClassifier):  # BatchNorm after global pooling: one value per channel
        def __init__(self):
            super().__init__()
            self.bn1d = nn.BatchNorm1d(8)

        def forward(self, img):
            x = torch.nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(img)), 1).flatten(1)
            return self.head.fc(self.bn1d(x))

    cfg = engine_cfg(tmp_path, data=dict(samples_per_gpu=8, workers_per_gpu=0), evaluation=None)
    with pytest.raises(ConfigError, match="BatchNorm layer with one value per channel") as info:
        train_model(PooledBN(), [NoisyDataset(n=25)], cfg, validate=False, device="cpu", console=False)
    assert "(bn1d)" in str(info.value) and "drop_last=True" in info.value.hint
    log = next(tmp_path.glob("*.log")).read_text()
    assert "each epoch's last training batch holds 1 image (25 per process, samples_per_gpu=8)" in log
    cfg.data["train_dataloader"] = dict(drop_last=True)  # the fix the hint gives
    train_model(PooledBN(), [NoisyDataset(n=25)], engine_cfg(tmp_path / "fixed", data=cfg.data), validate=False,
                device="cpu", console=False)


def test_precise_bn_measures_the_weights_evaluation_uses():
    import contextlib
    from types import SimpleNamespace

    from minim.cls.engine.custom_hooks import PreciseBNHook

    state = {"evaluation_weights": False, "calls": []}

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm2d(3)

        def extract_feat(self, img):
            state["calls"].append(state["evaluation_weights"])
            return self.bn(img)

    @contextlib.contextmanager
    def evaluation_weights():  # an EMAHook swaps its averages in here
        state["evaluation_weights"] = True
        yield
        state["evaluation_weights"] = False

    class Loader(list):
        batch_size = 2

    runner = SimpleNamespace(model=Net().train(), evaluation_weights=evaluation_weights,
                             precision=SimpleNamespace(autocast=contextlib.nullcontext),
                             _inputs=lambda batch: (batch["img"], None), train_loader=Loader(
                                 [{"img": torch.randn(2, 3, 4, 4)} for _ in range(3)]),
                             logger=SimpleNamespace(info=lambda *a, **k: None, warning=lambda *a, **k: None))
    PreciseBNHook(num_samples=6).update(runner)
    assert state["calls"] == [True, True, True] and not state["evaluation_weights"]


def test_one_value_batchnorm_names_the_layer_only_when_it_is_the_cause():
    from torch import nn

    from minim.cls.engine.batchnorm_guard import one_value_batchnorm

    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    assert one_value_batchnorm(model, lambda: model(torch.randn(1, 4))) == "1"
    assert one_value_batchnorm(model, lambda: model(torch.randn(2, 4))) is None
    assert one_value_batchnorm(model, lambda: model(torch.randn(1, 5))) is None  # another failure: not explained
    model.eval()
    assert one_value_batchnorm(model, lambda: model(torch.randn(1, 4))) is None
    assert not model[1]._forward_pre_hooks  # the guards are removed
