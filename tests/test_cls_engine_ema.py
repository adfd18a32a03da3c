"""EMAHook: the update rule, what evaluation and checkpoints see, resume, loading and publishing EMA checkpoints."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from cls_engine_support import NoisyDataset, TinyClassifier, read_json_log, train_tiny
from minim.errors import BuildError, CheckpointError, ConfigError


def ema_hooks(**args):
    return [dict(type="EMAHook", priority="ABOVE_NORMAL", **args)]


def state(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class FixedDataset(NoisyDataset):
    """NoisyDataset without the noise: evaluating it twice gives the same numbers."""

    def __getitem__(self, index):
        return {"img": self.base[index], "gt_label": self.labels[index], "img_metas": {"filename": f"{index}.png"}}


def fake_runner(model, **fields):
    return SimpleNamespace(model=model, iter=0,
                           logger=SimpleNamespace(info=lambda *a, **k: None, warning=lambda *a, **k: None), **fields)


def test_the_average_follows_mmcvs_rule_with_warm_up_and_interval():
    from minim.cls.engine.ema import EMAHook

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    hook = EMAHook(momentum=0.3, interval=2, warm_up=4)
    runner = fake_runner(model)
    hook.before_run(runner)
    assert sorted(name for name, _ in model.named_buffers()) == ["ema_bias", "ema_weight"]
    effective = 1 - 0.7 ** 2  # two single updates' worth of decay
    expected = model.weight.detach().clone()
    for step in range(5):
        runner.iter = step
        with torch.no_grad():
            model.weight.add_(1.0)
        hook.after_train_iter(runner)
        if step % 2 == 0:
            momentum = min(effective, (1 + step) / (4 + step))  # warm-up: 0.2 at step 0, then `effective`
            expected = (1 - momentum) * expected + momentum * model.weight.detach()
        torch.testing.assert_close(model.ema_weight, expected)
    raw = model.weight.detach().clone()
    with hook.evaluation_weights(runner):  # evaluation and checkpoints see the averages
        torch.testing.assert_close(model.weight.detach(), expected)
    torch.testing.assert_close(model.weight.detach(), raw)
    hook.after_run(runner)
    torch.testing.assert_close(model.weight.detach(), expected)  # the model keeps the averages
    torch.testing.assert_close(model.ema_weight, raw)
    with hook.evaluation_weights(runner):  # after the run: nothing to swap any more
        torch.testing.assert_close(model.weight.detach(), expected)


@pytest.mark.parametrize("args, message", [
    (dict(momentum=0), "momentum must be between 0 and 1"),
    (dict(momentum=1.5), "momentum must be between 0 and 1"),
    (dict(interval=0), "interval must be a positive int"),
    (dict(warm_up=0), "warm_up must be an int >= 1"),
    (dict(resume_from="epoch_3.pth"), "resume_from is not needed"),
])
def test_bad_arguments_are_config_errors(args, message):
    from minim.cls.engine.hooks import HOOKS

    with pytest.raises(ConfigError, match=message):
        HOOKS.build(dict(type="EMAHook", **args))


def test_an_unknown_argument_names_the_hook():
    from minim.cls.engine.hooks import HOOKS

    with pytest.raises(BuildError, match="momentun"):
        HOOKS.build(dict(type="EMAHook", momentun=0.1))


def test_evaluation_and_checkpoints_use_the_averaged_weights(tmp_path):
    # a tiny momentum keeps the average at the initial weights while the raw weights learn
    runner = train_tiny(tmp_path, custom_hooks=ema_hooks(momentum=1e-6, warm_up=1),
                        runner=dict(type="EpochBasedRunner", max_epochs=3),
                        evaluation=dict(interval=1, metric="accuracy", metric_options=dict(topk=(1,))))
    saved = torch.load(tmp_path / "epoch_3.pth", weights_only=True)["state_dict"]
    assert {"ema_conv_weight", "ema_head_fc_weight", "ema_bn_weight"} <= saved.keys()
    assert same_weights(saved, state(runner))  # the trained model holds what its last checkpoint holds

    def accuracy(weights):
        model = TinyClassifier().eval()
        model.load_state_dict({k: v for k, v in weights.items() if not k.startswith("ema_")})
        val = FixedDataset(seed=1)
        with torch.no_grad():
            predicted = model(torch.stack([val[i]["img"] for i in range(len(val))])).argmax(1)
        return (predicted == val.labels).float().mean().item() * 100

    raw = {**saved, **{k: saved["ema_" + k.replace(".", "_")] for k, _ in TinyClassifier().named_parameters()}}
    assert accuracy(raw) != accuracy(saved)  # otherwise this test could not tell them apart
    logged = [r for r in read_json_log(tmp_path) if r.get("mode") == "val"][-1]["accuracy_top-1"]
    assert logged == pytest.approx(accuracy(saved), abs=1e-4)


@pytest.mark.parametrize("layout", ["epochs", "iterations"])
def test_resume_restores_both_the_raw_and_the_averaged_weights(tmp_path, layout):
    if layout == "epochs":
        limits = dict(runner=dict(type="EpochBasedRunner", max_epochs=2))
        part = dict(runner=dict(type="EpochBasedRunner", max_epochs=1))
        checkpoint = "epoch_1.pth"
    else:
        common = dict(checkpoint_config=dict(interval=4, by_epoch=False), lr_config=None,
                      evaluation=dict(interval=4, metric_options=dict(topk=(1,))))
        limits = dict(runner=dict(type="IterBasedRunner", max_iters=8), **common)
        part = dict(runner=dict(type="IterBasedRunner", max_iters=4), **common)
        checkpoint = "iter_4.pth"
    hooks = ema_hooks(momentum=0.3, warm_up=1)
    full = train_tiny(tmp_path / "full", custom_hooks=hooks, **limits)
    train_tiny(tmp_path / "part", custom_hooks=hooks, **part)
    resumed = train_tiny(tmp_path / "part", model_seed=9, custom_hooks=hooks, **limits,
                         resume_from=str(tmp_path / "part" / checkpoint))
    assert same_weights(state(full), state(resumed))


def test_resuming_across_ema_and_plain_runs_warns(tmp_path):
    train_tiny(tmp_path / "ema", custom_hooks=ema_hooks(momentum=0.3), val=False,
               runner=dict(type="EpochBasedRunner", max_epochs=1))
    plain = train_tiny(tmp_path / "ema", val=False, resume_from=str(tmp_path / "ema" / "epoch_1.pth"))
    assert "ema_conv_weight" not in plain.model.state_dict()
    text = sorted((tmp_path / "ema").glob("*.log"))[-1].read_text()
    assert "has tensors this model has no place for (ema_" in text
    assert "an EMAHook, without which training goes on from its averaged weights" in text

    train_tiny(tmp_path / "plain", val=False, runner=dict(type="EpochBasedRunner", max_epochs=1))
    train_tiny(tmp_path / "plain", custom_hooks=ema_hooks(), val=False,
               resume_from=str(tmp_path / "plain" / "epoch_1.pth"))
    text = sorted((tmp_path / "plain").glob("*.log"))[-1].read_text()
    assert "has no averaged weights (ema_* tensors); the average starts again from its weights" in text


def test_hook_mistakes_are_errors_before_the_work_dir_is_written(tmp_path):
    with pytest.raises(ConfigError, match="custom_hooks lists EMAHook 2 times; keep one"):
        train_tiny(tmp_path / "twice", custom_hooks=ema_hooks() + ema_hooks(), val=False)
    with pytest.raises(ConfigError, match="unknown hook priority 'BOGUS'"):
        train_tiny(tmp_path / "priority", custom_hooks=[dict(type="EMAHook", priority="BOGUS")], val=False)
    assert not (tmp_path / "twice").exists() and not (tmp_path / "priority").exists()


def test_a_model_trained_with_ema_trains_again_with_a_fresh_average(tmp_path):
    from cls_engine_support import engine_cfg
    from minim.cls.apis import train_model

    torch.manual_seed(0)
    model = TinyClassifier()
    for run in ("first", "second"):  # a notebook calling train_model twice on one model
        cfg = engine_cfg(tmp_path / run, custom_hooks=ema_hooks(momentum=0.3), runner=dict(type="EpochBasedRunner",
                                                                                            max_epochs=1))
        start = {k: v.clone() for k, v in model.named_parameters()}
        train_model(model, [NoisyDataset()], cfg, validate=False, device="cpu", console=False)
    assert not torch.equal(model.conv.weight, start["conv.weight"])


def test_ema_checkpoints_load_strictly_for_test_and_publish_without_the_raw_weights(tmp_path):
    from minim.cls.analysis.publish import publish_checkpoint
    from minim.cls.checkpoint import load_checkpoint
    from minim.cls.models import build_classifier

    model_cfg = dict(type="ImageClassifier", backbone=dict(type="ShuffleNetV2", widen_factor=0.5),
                     neck=dict(type="GlobalAveragePooling"), head=dict(type="LinearClsHead", num_classes=3,
                                                                       in_channels=1024))
    torch.manual_seed(0)
    trained = build_classifier(model_cfg)
    averages = {k: v + 1 for k, v in trained.state_dict().items()}
    raw_weights = {"ema_" + k.replace(".", "_"): v for k, v in trained.named_parameters()}
    torch.save({"state_dict": {**averages, **raw_weights}, "meta": {"iter": 4, "epoch": 1}}, tmp_path / "ema.pth")

    fresh = build_classifier(model_cfg)
    load_checkpoint(fresh, tmp_path / "ema.pth", skip_mismatched_head=False)
    assert same_weights(fresh.state_dict(), averages)
    with pytest.raises(CheckpointError, match="missing keys"):  # anything else stays strict
        del averages["head.fc.bias"]
        torch.save({"state_dict": {**averages, **raw_weights}}, tmp_path / "broken.pth")
        load_checkpoint(build_classifier(model_cfg), tmp_path / "broken.pth")

    published = publish_checkpoint(tmp_path / "ema.pth", tmp_path / "release" / "model.pth")
    content = torch.load(published.path, weights_only=True)
    assert not [k for k in content["state_dict"] if k.startswith("ema_")]
    assert any("ema_*" in item and f"{len(raw_weights)} tensors" in item for item in published.dropped)


def test_minim_test_of_an_ema_run_reports_what_its_last_evaluation_logged(tmp_path, monkeypatch, run_cli):
    from cls_engine_support import write_tiny_setup

    config = write_tiny_setup(tmp_path)
    config.write_text(config.read_text() + "custom_hooks = [dict(type='EMAHook', momentum=0.05, warm_up=1)]\n"
                      "evaluation = dict(interval=1, metric='accuracy', metric_options=dict(topk=(1,)))\n")
    monkeypatch.chdir(tmp_path)
    work_dir = tmp_path / "work"
    assert run_cli("train", "cls", str(config), "--work-dir", str(work_dir)).exit_code == 0
    logged = [r for r in read_json_log(work_dir) if r.get("mode") == "val"][-1]["accuracy_top-1"]
    out = tmp_path / "results.json"
    result = run_cli("test", "cls", str(config), "--checkpoint", str(work_dir / "latest.pth"), "--out", str(out))
    assert result.exit_code == 0, result.err
    assert json.loads(out.read_text())["metrics"]["accuracy_top-1"] == pytest.approx(logged, abs=1e-3)


def test_resuming_on_the_model_object_that_trained_keeps_both_weights(tmp_path):
    from cls_engine_support import engine_cfg
    from minim.cls.apis import train_model

    def run(model, work_dir, epochs, **extra):
        cfg = engine_cfg(work_dir, custom_hooks=ema_hooks(momentum=0.3, warm_up=1),
                         runner=dict(type="EpochBasedRunner", max_epochs=epochs))
        return train_model(model, [NoisyDataset()], cfg, validate=False, device="cpu", console=False, **extra)

    torch.manual_seed(0)
    full = run(TinyClassifier(), tmp_path / "full", 2)
    torch.manual_seed(0)
    model = TinyClassifier()
    run(model, tmp_path / "part", 1)  # the model now has ema_* buffers of its own
    resumed = run(model, tmp_path / "part", 2, resume_from=str(tmp_path / "part" / "epoch_1.pth"))
    assert same_weights(state(full), state(resumed))
