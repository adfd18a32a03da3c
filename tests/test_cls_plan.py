"""The training plan: every mistake the config, the command line and the file system show is reported before
torch is imported; pretrained-style recipes without weights are warned about; ``minim test`` points at a run's
checkpoints."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types

import pytest

from cls_engine_support import write_tiny_setup
from conftest import minim_subprocess

#: importing these in the CLI process under test records it and fails
BLOCKED = ("torch", "torchvision")
#: these are made absent in the CLI process under test (a tracker's missing package), installed or not
ABSENT = ("mlflow",)


@pytest.fixture
def no_torch(tmp_path):
    """``(env, marker)``: a PYTHONPATH under which ``import torch``/``torchvision`` write ``marker`` and raise."""
    shim = tmp_path / "shim"
    marker = tmp_path / "torch_was_imported"
    for name in BLOCKED:
        (shim / name).mkdir(parents=True)
        (shim / name / "__init__.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n"
            f"raise ImportError('{name} is blocked in this test')\n")
    (shim / "sitecustomize.py").write_text("import sys\n" + "".join(f"sys.modules[{n!r}] = None\n" for n in ABSENT))
    return {"PYTHONPATH": str(shim)}, marker


MISTAKES = [
    # (what, extra config lines, --cfg-options, words of the one-line error)
    ("misspelt key", "", ["evaluation.intervl=1"], ["evaluation has unknown key 'intervl'", "did you mean 'interval'"]),
    ("missing data folder", "", ["data.train.data_prefix=nowhere/train"],
     ["data.train.data_prefix nowhere/train does not exist"]),
    ("num_classes", "", ["model.head.num_classes=5"],
     ["has 3 classes (class folders cat, dog, fox) but model.head.num_classes=5", "model.head.num_classes=3"]),
    ("save_best", "", ["evaluation.save_best=accuracy"],
     ["evaluation.save_best='accuracy' is not a key", "produces: accuracy_top-1"]),
    ("hook type", "custom_hooks = [dict(type='EMAHok', momentum=0.01)]\n", [],
     ["unknown hook type 'EMAHok'", "did you mean 'EMAHook'"]),
    ("hook priority", "custom_hooks = [dict(type='EMAHook', priority='SOON')]\n", [], ["unknown hook priority 'SOON'"]),
    ("runner limits", "", ["runner.max_epochs=0"], ["runner.max_epochs must be a positive int, got 0"]),
    ("runner key", "", ["runner.max_iters=10"], ["runner EpochBasedRunner has unknown key 'max_iters'"]),
    ("optimizer hook", "", ["optimizer_config.grad_clp=1"], ["optimizer_config has unknown key 'grad_clp'"]),
    ("lr schedule", "", ["lr_config.policy=Cosine"], ["unknown lr_config.policy 'Cosine'"]),
    ("missing load_from", "load_from = 'nowhere.pth'\n", [], ["load_from nowhere.pth does not exist", "load_from = None"]),
    ("work dir", "work_dir = 'a_file/run'\n", [], ["work dir a_file/run", "is a file, not a folder"]),
    ("loader key", "", ["data.train_dataloader.shufle=True"],
     ["data.train_dataloader has unknown dataloader key 'shufle'", "did you mean 'shuffle'"]),
    ("sampler", "sampler = dict(type='RepeatAugSampler', num_repeat=3)\n", [],
     ["sampler has unknown key 'num_repeat'", "did you mean 'num_repeats'"]),
    ("tracker package", "log_config = dict(interval=1, hooks=[dict(type='MlflowLoggerHook')])\n", [],
     ["MlflowLoggerHook needs the mlflow package, which is not installed", "pip install mlflow"]),
]


@pytest.mark.parametrize("what, lines, options, words", MISTAKES,
                         ids=[m[0] for m in MISTAKES])
def test_train_reports_config_mistakes_without_importing_torch(tmp_path, no_torch, what, lines, options, words):
    env, marker = no_torch
    config = write_tiny_setup(tmp_path)
    config.write_text(config.read_text() + "evalution = dict(interval=2)\n" + lines)  # + a misspelt top-level key
    (tmp_path / "a_file").write_text("")
    args = ["train", "cls", str(config)] + (["--cfg-options", *options] if options else [])
    result = minim_subprocess(*args, env=env, cwd=tmp_path)
    assert not marker.exists(), f"{marker.read_text()} imported: {result.stderr}"
    errors = [line for line in result.stderr.splitlines() if line.startswith("minim: error:")]
    assert result.returncode == 1 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(word in errors[0] for word in words), errors[0]
    assert "config key 'evalution' is not one minim reads (did you mean 'evaluation'?)" in result.stderr
    assert not (tmp_path / "work_dirs").exists()


def test_resume_mistakes_need_no_torch(tmp_path, no_torch):
    env, marker = no_torch
    config = write_tiny_setup(tmp_path)
    missing = minim_subprocess("train", "cls", str(config), "--resume", "gone.pth", env=env, cwd=tmp_path)
    assert "--resume: checkpoint gone.pth does not exist" in missing.stderr
    empty = minim_subprocess("train", "cls", str(config), "--resume", env=env, cwd=tmp_path)
    assert "no checkpoint to resume from" in empty.stderr
    assert not marker.exists() and missing.returncode == empty.returncode == 1


def test_a_launched_run_is_planned_once_before_any_worker_starts(tmp_path, no_torch):
    env, marker = no_torch
    config = write_tiny_setup(tmp_path)
    result = minim_subprocess("train", "cls", str(config), "--launcher", "pytorch", "--gpus", "2", "--dry-run",
                              "--cfg-options", "runner.max_epochs=0", env=env, cwd=tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("minim: error:")]
    assert errors == ["minim: error: runner.max_epochs must be a positive int, got 0"] and not marker.exists()


def test_the_plan_module_imports_no_torch():
    import subprocess

    code = "import sys, minim.cls.plan; print(','.join(m for m in ('torch', 'torchvision') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def _plan(config, *options):
    from minim.cls.plan import TrainOptions, load_cls_config, plan_training

    cfg, entry = load_cls_config(str(config), list(options))
    shown = []
    plan = plan_training(cfg, TrainOptions(), entry=entry, warn=shown.append)
    return plan, shown


def test_a_fine_tuning_recipe_from_random_weights_is_warned_about_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_tiny_setup(tmp_path)
    recipe = ("optimizer.lr=0.001", "runner.max_epochs=5")
    plan, shown = _plan(config, *recipe)
    assert plan.load_from is None and shown == []  # nothing came with the config: a run from scratch
    (tmp_path / "epoch_3.pth").write_bytes(b"")  # training's own checkpoints are no evidence
    assert _plan(config, *recipe)[1] == []
    (tmp_path / "resnet18_8xb32_in1k_20210831-fbbb1da6.pth").write_bytes(b"")  # what `minim download` puts there
    plan, shown = _plan(config, *recipe)
    assert len(shown) == 1 and plan.warnings == shown
    assert "fine-tuning recipe (lr 0.001, 5 epochs) starts from random weights (load_from is None)" in shown[0]
    assert "load_from = '" in shown[0] and "resnet18_8xb32_in1k_20210831-fbbb1da6.pth'" in shown[0]
    loaded = _plan(config, *recipe, f"load_from={tmp_path / 'resnet18_8xb32_in1k_20210831-fbbb1da6.pth'}")
    assert loaded[1] == [] and loaded[0].load_from.endswith(".pth")
    assert _plan(config, "optimizer.lr=0.1", "runner.max_epochs=5")[1] == []  # a from-scratch learning rate


def test_an_index_recipe_with_a_replaced_head_and_no_weights_is_warned_about():
    from minim.cls.plan import load_cls_config
    from minim.cls.plan.training import random_start_warning

    cfg, entry = load_cls_config("resnet18_8xb32_in1k", ["model.head.num_classes=2", "optimizer.lr=0.001"])
    warning = random_start_warning(cfg, 5, None, entry)
    assert warning and "replaced head (1000 -> 2 classes)" in warning and "minim download cls" in warning
    same_head, entry = load_cls_config("resnet18_8xb32_in1k", ["optimizer.lr=0.001"])
    assert random_start_warning(same_head, 5, None, entry) is None


def test_test_without_checkpoint_gives_the_command_with_the_runs_best_checkpoint(tmp_path, no_torch):
    env, marker = no_torch
    config = write_tiny_setup(tmp_path)
    result = minim_subprocess("test", "cls", str(config), env=env, cwd=tmp_path)
    assert "needs --checkpoint" in result.stderr and "training left" not in result.stderr  # no run yet
    run = tmp_path / "work_dirs" / "tiny_cfg"
    run.mkdir(parents=True)
    (run / "latest.pth").write_bytes(b"")
    result = minim_subprocess("test", "cls", str(config), env=env, cwd=tmp_path)
    assert f"minim test cls {config} --checkpoint work_dirs/tiny_cfg/latest.pth" in result.stderr
    (run / "best_accuracy_top-1_epoch_2.pth").write_bytes(b"")
    result = minim_subprocess("test", "cls", str(config), env=env, cwd=tmp_path)
    assert result.returncode == 2 and not marker.exists()
    assert f"minim test cls {config} --checkpoint work_dirs/tiny_cfg/best_accuracy_top-1_epoch_2.pth" in result.stderr


@pytest.mark.slow
def test_confusion_matrix_predicts_through_the_apis_not_the_command_layer():
    import inspect
    import subprocess

    from minim.cls.analysis import confusion

    assert "minim.cls.commands" not in inspect.getsource(confusion)
    assert "from minim.cls.apis.test import test_checkpoint" in inspect.getsource(confusion)
    code = ("import sys, minim.cls.analysis.confusion\n"
            "print(','.join(m for m in sys.modules if m.startswith('minim.cls.commands')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_wandb_tables_without_evaluation_are_warned_about(tmp_path, monkeypatch):
    from minim.cls.plan import TrainOptions, load_cls_config, plan_training

    monkeypatch.chdir(tmp_path)
    if importlib.util.find_spec("wandb") is None:  # the plan only looks for the package: let it find one
        present = types.ModuleType("wandb")
        present.__spec__ = importlib.machinery.ModuleSpec("wandb", None)
        monkeypatch.setitem(sys.modules, "wandb", present)
    config = write_tiny_setup(tmp_path)
    config.write_text(config.read_text() + "log_config = dict(interval=1, hooks=[dict(type='MMClsWandbHook')])\n")
    for validate, tables in ((True, 0), (False, 1)):
        cfg, entry = load_cls_config(str(config), [])
        shown = []
        plan_training(cfg, TrainOptions(validate=validate), entry=entry, warn=shown.append)
        assert len([m for m in shown if "MMClsWandbHook logs no validation tables" in m]) == tables
