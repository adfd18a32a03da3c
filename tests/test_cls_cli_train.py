"""`minim train cls`: an end-to-end run on a tiny image folder, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cls_engine_support import write_tiny_setup


def one_line_error(result, code=1):
    assert result.exit_code == code, (result.exit_code, result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert "Traceback" not in result.err
    errors = [line for line in lines if line.startswith("minim: error:")]
    assert len(errors) == 1, result.err
    return errors[0]


def test_train_end_to_end_on_an_image_folder(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run_cli("train", "cls", str(config), "--cfg-options", "runner.max_epochs=2", "--seed", "7")
    assert result.exit_code == 0, result.err
    work_dir = tmp_path / "work_dirs" / "tiny_cfg"
    names = {p.name for p in work_dir.iterdir()}
    assert {"tiny_cfg.py", "epoch_1.pth", "epoch_2.pth", "latest.pth"} <= names
    assert any(n.startswith("best_accuracy_top-1_epoch_") for n in names)
    logs = list(work_dir.glob("*.log.json"))
    records = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert records[0]["seed"] == 7 and records[0]["exp_name"] == "tiny_cfg.py"
    assert [r["epoch"] for r in records[1:] if r["mode"] == "val"] == [1, 2]
    # the summary a newcomer reads
    assert "Training finished" in result.out and "Best accuracy_top-1" in result.out
    assert f"minim infer cls {Path('work_dirs/tiny_cfg/tiny_cfg.py')}" in result.out
    assert "--checkpoint work_dirs/tiny_cfg/best_accuracy_top-1_epoch_" in result.out
    # the dumped config reloads and trains again (resume from the newest checkpoint, one more epoch)
    again = run_cli("train", "cls", str(work_dir / "tiny_cfg.py"), "--work-dir", str(work_dir), "--resume",
                    "--cfg-options", "runner.max_epochs=3")
    assert again.exit_code == 0, again.err
    assert (work_dir / "epoch_3.pth").exists() and len(list(work_dir.glob("*.log.json"))) == 2
    assert "resumed from" in again.out


def test_no_validate_and_work_dir_from_config(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    config.write_text(config.read_text() + f"work_dir = '{tmp_path / 'from_cfg'}'\nrunner = dict(type='EpochBasedRunner', max_epochs=1)\n")
    monkeypatch.chdir(tmp_path)
    result = run_cli("train", "cls", str(config), "--no-validate")
    assert result.exit_code == 0, result.err
    assert (tmp_path / "from_cfg" / "epoch_1.pth").exists() and not list((tmp_path / "from_cfg").glob("best_*"))


def test_wrong_num_classes_is_one_line_before_training(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path, num_classes=5)
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", str(config)))
    assert "3 classes" in line and "num_classes=5" in line and "model.head.num_classes=3" in line
    assert not (tmp_path / "work_dirs").exists()


def test_a_val_set_lacking_a_class_names_it_and_trains_once_classes_are_listed(tmp_path, monkeypatch, run_cli):
    import shutil

    config = write_tiny_setup(tmp_path)
    shutil.rmtree(tmp_path / "data" / "val" / "dog")
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", str(config)))
    assert "only in training: ['dog']" in line and "data.val.classes=['cat', 'dog', 'fox']" in line
    assert not (tmp_path / "work_dirs").exists()
    done = run_cli("train", "cls", str(config), "--cfg-options", "runner.max_epochs=1",
                   "data.val.classes=[cat,dog,fox]")
    assert done.exit_code == 0, done.err
    assert "has no folder for the classes ['dog']" in done.err


def test_backbone_init_cfg_pretrained_is_loaded_before_training(tmp_path, monkeypatch, run_cli):
    import torch

    from minim.cls.checkpoint import save_checkpoint
    from minim.cls.models import build_classifier
    from minim.config import load_config

    config = write_tiny_setup(tmp_path)
    torch.manual_seed(123)
    pretrained = build_classifier(load_config(config).model)
    save_checkpoint(tmp_path / "pretrained.pth", pretrained)
    monkeypatch.chdir(tmp_path)
    init = ["model.backbone.init_cfg.type=Pretrained", "model.backbone.init_cfg.checkpoint=pretrained.pth",
            "model.backbone.init_cfg.prefix=backbone"]
    done = run_cli("train", "cls", str(config), "--work-dir", "run", "--no-validate", "--cfg-options",
                   "runner.max_epochs=1", "optimizer.lr=0", "optimizer.weight_decay=0", *init)
    assert done.exit_code == 0, done.err
    trained = torch.load(tmp_path / "run" / "latest.pth", weights_only=True)["state_dict"]
    convs = [k for k in trained if k.startswith("backbone.") and k.endswith("weight") and trained[k].dim() == 4]
    expected = pretrained.state_dict()
    assert convs and all(torch.equal(trained[k], expected[k]) for k in convs)
    missing = one_line_error(run_cli("train", "cls", str(config), "--work-dir", "run2", "--cfg-options",
                                     *[option.replace("pretrained.pth", "nowhere.pth") for option in init]))
    assert "nowhere.pth does not exist" in missing and not (tmp_path / "run2").exists()
    as_text = one_line_error(run_cli("train", "cls", str(config), "--work-dir", "run3", "--cfg-options",
                                     "model.backbone.init_cfg=dict(type='Pretrained')"))
    assert "backbone init_cfg must be a dict" in as_text and not (tmp_path / "run3").exists()


def test_missing_data_folder(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", str(config), "--cfg-options", "data.train.data_prefix=nowhere/train"))
    assert "nowhere/train" in line
    assert not (tmp_path / "work_dirs").exists()


def test_bad_save_best_lists_the_keys(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", str(config), "--cfg-options", "evaluation.save_best=accuracy_top-5",
                                  "evaluation.metric_options.topk=1"))
    assert "accuracy_top-5" in line and "produces: accuracy" in line
    assert not (tmp_path / "work_dirs").exists()


def test_unreadable_resume_checkpoint_keeps_the_work_dir(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    work_dir = tmp_path / "run"
    work_dir.mkdir()
    (work_dir / "epoch_1.pth").write_bytes(b"not a checkpoint")
    (work_dir / "20240101_000000.log").write_text("an earlier log")
    before = {p.name: p.read_bytes() for p in work_dir.iterdir()}
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", str(config), "--work-dir", str(work_dir), "--resume"))
    assert "epoch_1.pth" in line
    assert {p.name: p.read_bytes() for p in work_dir.iterdir()} == before


def test_a_resume_checkpoint_that_does_not_fit_fails_before_the_work_dir_is_written(tmp_path, monkeypatch, run_cli):
    import torch

    from minim.cls.models import build_classifier
    from minim.config import load_config

    config = write_tiny_setup(tmp_path)
    cfg = load_config(config)
    cfg.merge_from_options(["model.head.num_classes=2"])
    other_head = build_classifier(cfg.model).state_dict()
    torch.save({"state_dict": other_head, "meta": {"epoch": 1, "iter": 4}}, tmp_path / "two_classes.pth")
    cfg.merge_from_options(["model.head.num_classes=3"])
    torch.save(build_classifier(cfg.model).state_dict(), tmp_path / "weights_only.pth")
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", str(config), "--work-dir", "run", "--resume", "two_classes.pth"))
    assert "cannot resume from two_classes.pth: its weights do not fit the model (other shapes: head." in line
    assert "checkpoint [2, " in line and "use load_from" in line
    line = one_line_error(run_cli("train", "cls", str(config), "--work-dir", "run", "--resume", "weights_only.pth"))
    assert "no 'iter' in its meta (not a training checkpoint)" in line
    assert not (tmp_path / "run").exists()


def test_resume_without_any_checkpoint(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", str(config), "--work-dir", "empty", "--resume"))
    assert "no checkpoint to resume from" in line and "--resume PATH" in line


@pytest.mark.parametrize(
    "args, words",
    [
        (["--cfg-options", "model.backbone.type=ShuffleNetV3"], "ShuffleNetV2"),
        (["--cfg-options", "lr_config.policy=CosineAnnealing", "lr_config.min_lr=0"], "_delete_=True"),
        (["--auto-scale-lr"], "auto_scale_lr"),
        (["--auto-scale-lr", "--cfg-options", "auto_scale_lr=16"], "auto_scale_lr must be a dict"),
        (["--cfg-options", "optimizer.type=SDG"], "SGD"),
    ],
)
def test_config_errors_are_one_line(tmp_path, monkeypatch, run_cli, args, words):
    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", str(config), *args))
    assert words in line
    assert not (tmp_path / "work_dirs").exists()


def test_several_gpus_need_a_launcher(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", str(config), "--gpus", "2"), code=2)
    assert "--launcher pytorch" in line


def test_unknown_config_name(tmp_path, monkeypatch, run_cli):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run_cli("train", "cls", "mobilenet-v2x"))
    assert "mobilenet-v2x" in line and "did you mean" in line


def test_auto_scale_lr_is_logged(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    config.write_text(config.read_text() + "auto_scale_lr = dict(base_batch_size=12)\nrunner = dict(type='EpochBasedRunner', max_epochs=1)\n")
    monkeypatch.chdir(tmp_path)
    result = run_cli("train", "cls", str(config), "--auto-scale-lr", "--no-validate")
    assert result.exit_code == 0, result.err
    assert "optimizer.lr 0.05 -> 0.025" in result.out
    dumped = (tmp_path / "work_dirs" / "tiny_cfg" / "tiny_cfg.py").read_text()
    assert "lr=0.025" in dumped
    own_batch = run_cli("train", "cls", str(config), "--auto-scale-lr", "--no-validate", "--work-dir", "b3",
                        "--cfg-options", "data.train_dataloader.samples_per_gpu=3")  # the batch training uses
    assert own_batch.exit_code == 0, own_batch.err
    assert "optimizer.lr 0.05 -> 0.0125 (batch 3 = 3 x 1 process(es), base_batch_size 12)" in own_batch.out


def test_config_warnings_are_printed_and_logged(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    child = tmp_path / "child.py"
    child.write_text(
        "_base_ = './tiny_cfg.py'\n"
        "train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', size=24)]\n"
        "runner = dict(type='EpochBasedRunner', max_epochs=1)\n"
    )
    monkeypatch.chdir(tmp_path)
    result = run_cli("train", "cls", str(child), "--no-validate")
    assert result.exit_code == 0, result.err
    assert "minim: warning:" in result.err and "data.train.pipeline" in result.err
    assert "data.train.pipeline" not in result.out  # once, on stderr; not again among the log lines
    log = next((tmp_path / "work_dirs" / "child").glob("*.log")).read_text()
    assert "warning: " in log and "data.train.pipeline" in log
    del config
