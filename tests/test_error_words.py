"""Errors say what is wrong in the user's words, early: offline typos, index encodings, option ranges, pickles."""

from __future__ import annotations

import pickle

import pytest

from conftest import minim_subprocess


def test_minim_offline_typo_is_refused_not_taken_as_online(monkeypatch):
    from minim.errors import UsageError
    from minim.settings import offline

    for value, expected in (("1", True), ("On", True), ("0", False), ("", False), ("off", False)):
        monkeypatch.setenv("MINIM_OFFLINE", value)
        assert offline() is expected
    monkeypatch.setenv("MINIM_OFFLINE", "maybe")
    with pytest.raises(UsageError, match="MINIM_OFFLINE='maybe' is neither true nor false"):
        offline()


def test_index_file_that_is_not_utf8_names_file_and_line(tmp_path):
    from minim.errors import ModelIndexError
    from minim.index.loader import read_index_file

    path = tmp_path / "index.json"
    path.write_bytes(b'{"codebase": "cls",\n "models": [\n {"name": "caf\xe9"}]}\n')
    with pytest.raises(ModelIndexError, match=r"index.json:3: the index file is not UTF-8 text"):
        read_index_file(path)


def test_infer_topk_zero_is_a_usage_error_before_anything_loads(tmp_path):
    result = minim_subprocess("infer", "cls", str(tmp_path / "cfg.py"), "x.jpg", "--topk", "0")
    assert result.returncode == 2 and "--topk" in result.stderr and "0" in result.stderr


def test_plain_pickle_checkpoint_refusal_is_minims_words(tmp_path):
    from minim.cls.checkpoint import read_checkpoint
    from minim.errors import CheckpointError

    path = tmp_path / "raw.pth"
    with open(path, "wb") as handle:
        pickle.dump({"state_dict": {"a": [1, 2]}}, handle, protocol=4)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert "weights-only unpickler refused it" in message and "file an issue" not in message.lower()


def test_test_out_that_cannot_be_written_is_refused_before_any_work(tmp_path):
    from minim.cls.analysis.test_output import check_out
    from minim.errors import UsageError

    with pytest.raises(UsageError, match="cannot create folder /proc/nope"):
        check_out("/proc/nope/x.json")
    (tmp_path / "out.json").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        check_out(str(tmp_path / "out.json"))
    assert check_out(str(tmp_path / "new" / "results.json")) is not None and (tmp_path / "new").is_dir()


def test_cli_test_with_unwritable_out_fails_without_reading_the_config(tmp_path):
    result = minim_subprocess("test", "cls", str(tmp_path / "missing_config.py"), "--out", "/proc/nope/x.json")
    assert result.returncode == 2 and "/proc/nope" in result.stderr and "missing_config" not in result.stderr


@pytest.mark.parametrize("epochs, iters, rate, words", [
    (1, 1, 120.0, "1 epoch, 1 iteration, 120 training images/s."),
    (3, 30, 0.0, "3 epochs, 30 iterations, no training step ran (the run resumed where it had ended)."),
])
def test_train_summary_counts_and_rates_read_right(capsys, tmp_path, epochs, iters, rate, words):
    from minim.cls.commands.render import print_train_summary
    from minim.cls.commands.training import TrainResult

    print_train_summary(TrainResult(work_dir=tmp_path, epochs=epochs, iters=iters, seconds=1.0,
                                    images_per_second=rate))
    assert words in capsys.readouterr().out


def test_missing_load_from_says_how_to_get_it():
    from minim.cls.plan.checkpoints import check_load_from
    from minim.errors import CheckpointError

    with pytest.raises(CheckpointError) as info:
        check_load_from("mobilenet_v2-7ebf99e0.pth")
    assert "does not exist" in info.value.message
    assert "minim download cls" in info.value.hint and "load_from = None" in info.value.hint


def test_summary_notes_accuracy_near_chance(capsys, tmp_path):
    from types import SimpleNamespace

    from minim.cls.commands.render import print_train_summary
    from minim.cls.commands.training import TrainResult

    val = SimpleNamespace(CLASSES=[f"c{i}" for i in range(5)], data_infos=[])
    for score, noted in ((21.0, True), (29.0, True), (31.0, False)):
        print_train_summary(TrainResult(work_dir=tmp_path, epochs=3, iters=30, seconds=1.0, images_per_second=9.0,
                                        best_key="accuracy_top-1", best_score=score, best_number=3), val)
        out = capsys.readouterr().out
        assert ("near chance for 5 classes (20.0 %)" in out) is noted and ("load_from" in out) is noted


def test_busy_cpu_is_named_before_a_cpu_run(monkeypatch):
    import os

    import torch

    from minim.cls.engine.device import cpu_contention

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (7.25, 5.0, 3.0))
    assert cpu_contention(torch.device("cpu")) == (
        "other processes keep the CPU busy (load average 7.2 on 2 cores): this run and its eta will be slower "
        "than on an idle machine")
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.2, 0.1))
    assert cpu_contention(torch.device("cpu")) is None
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert cpu_contention(torch.device("meta")) is None  # only CPU runs share the cores


def test_help_groups_launcher_options_apart_and_names_the_checkpoint(run_cli):
    done = run_cli("train", "--help")
    sections = [line for line in done.out.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert sections == ["Options:", "Device and run options:", "Several GPUs, machines or Slurm (launcher options):"]
    own = done.out.split("\nOptions:")[1].split("Device and run options:")[0]
    assert "--work-dir" in own and "--launcher" not in own and "CODEBASE" not in own
    assert "--checkpoint CKPT" in run_cli("test", "--help").out


def test_tool_list_is_whole_sentences(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    lines = run_cli("run", "cls", "--list").out.splitlines()
    assert lines and not any(line.endswith("...") for line in lines)
    for tool in ("print_config", "get_flops"):
        assert "Examples:" in run_cli("run", "cls", tool, "--help").out
    assert "Examples:" in run_cli("run", "cls", "analyze_logs", "cal_train_time", "--help").out


@pytest.mark.parametrize("key, value, words", [("round_up", "no", r"round_up must be True or False"),
                                               ("sampler_cfg", {"type": "RepeatAugSamplr"},
                                                r"sampler_cfg \(train\): sampler type 'RepeatAugSamplr' is not "
                                                "supported; minim has DistributedSampler, RepeatAugSampler"),
                                               ("sampler_cfg", {"num_repeats": 3}, "unknown key 'num_repeats'")])
def test_loader_keys_minim_cannot_honour_are_errors_not_ignored(key, value, words):
    from minim.cls.loader_settings import loader_settings
    from minim.errors import ConfigError

    assert loader_settings({"samples_per_gpu": 4, "round_up": False}, "train")["round_up"] is False
    with pytest.raises(ConfigError, match=words):
        loader_settings({"samples_per_gpu": 4, "train_dataloader": {key: value}}, "train")
