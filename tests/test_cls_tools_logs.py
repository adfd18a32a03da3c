"""``minim run cls analyze_logs plot_curve|cal_train_time`` and :mod:`minim.cls.analysis.logs`."""

from __future__ import annotations

import json
import sys

import pytest
from PIL import Image

from cls_tools_support import png_size, write_json_log
from minim.runlogs import load_json_log, series, train_time


@pytest.fixture
def two_logs(tmp_path):
    by_epoch = write_json_log(tmp_path / "r18" / "20240101_000000.log.json")
    by_iter = write_json_log(tmp_path / "r50" / "20240102_000000.log.json", epochs=4, by_epoch=False)
    return by_epoch, by_iter


def test_plot_curve_writes_a_readable_png(run_cli, tmp_path, two_logs):
    out = tmp_path / "plots" / "curves.png"
    result = run_cli("run", "cls", "analyze_logs", "plot_curve", *map(str, two_logs),
                     "--keys", "loss", "accuracy_top-1", "--title", "r18 vs r50", "--out", str(out))
    assert result.exit_code == 0, result.err
    assert f"wrote {out}" in result.out
    width, height = png_size(out)
    assert width >= 800 and height >= 600  # two panels of a 9-inch wide figure
    with Image.open(out) as image:
        image.verify()
    with Image.open(out) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # lines, text and anti-aliasing, not a blank canvas
    assert not list(out.parent.glob(".*tmp*"))  # no temporary file left behind


def test_series_puts_train_keys_on_iterations_and_val_keys_on_epochs(two_logs):
    by_epoch = load_json_log(two_logs[0])
    loss = series(by_epoch, "loss")
    assert loss.mode == "train" and loss.x_label == "iter"
    assert loss.x[:5] == [5, 10, 15, 20, 25]  # epoch 2 iter 5 continues at 25
    acc = series(by_epoch, "accuracy_top-1")
    assert (acc.mode, acc.x_label, acc.x, acc.y) == ("val", "epoch", [1, 2, 3], [60.0, 70.0, 80.0])
    assert series(by_epoch, "accuracy_top-1", x_unit="iter").x == [20, 40, 60]
    by_iter = load_json_log(two_logs[1])
    assert by_iter.iteration_based and not by_epoch.iteration_based
    assert series(by_iter, "loss").x[-1] == 80
    assert series(by_iter, "accuracy_top-1").x == [20, 40, 60, 80]
    assert series(by_epoch, "val/lr").mode == "val" and series(by_epoch, "lr").mode == "train"


def test_a_resumed_epoch_based_log_continues_where_its_epoch_starts(tmp_path):
    resumed = load_json_log(write_json_log(tmp_path / "resumed.log.json", epochs=3, first_epoch=3))
    assert resumed.runner_type is None and not resumed.iteration_based
    assert series(resumed, "loss").x == [45, 50, 55, 60]  # epoch 3 of 20-iteration epochs
    assert series(resumed, "accuracy_top-1", x_unit="iter").x == [60]


@pytest.mark.parametrize("runner, by_epoch, expected", [
    ("IterBasedRunner", False, True), ("EpochBasedRunner", True, False)])
def test_the_header_config_names_the_runner(tmp_path, runner, by_epoch, expected):
    config = f"runner = dict(type='{runner}', max_iters=20)\nmodel = dict()"
    log = load_json_log(write_json_log(tmp_path / "run.log.json", epochs=3, first_epoch=2, by_epoch=by_epoch,
                                       config=config))
    assert log.runner_type == runner and log.iteration_based is expected
    assert series(log, "loss").x[0] == 25  # epoch 2, iteration 5: global iteration 25 either way


def test_legend_names_must_fit_the_lines(run_cli, tmp_path, two_logs):
    out = tmp_path / "c.png"
    ok = run_cli("run", "cls", "analyze_logs", "plot_curve", *map(str, two_logs), "--keys", "loss", "lr",
                 "--legend", "a_loss", "a_lr", "b_loss", "b_lr", "--out", str(out))
    assert ok.exit_code == 0, ok.err
    bad = run_cli("run", "cls", "analyze_logs", "plot_curve", *map(str, two_logs), "--keys", "loss",
                  "--legend", "a", "b", "c", "--out", str(out))
    assert bad.exit_code == 2 and "--legend has 3 names" in bad.err


def test_missing_key_lists_the_keys_and_suggests(run_cli, tmp_path, two_logs):
    result = run_cli("run", "cls", "analyze_logs", "plot_curve", str(two_logs[0]), "--keys", "accuracy_top1",
                     "--out", str(tmp_path / "c.png"))
    assert result.exit_code == 1
    assert "has no key 'accuracy_top1'" in result.err and "val: lr, accuracy_top-1, accuracy_top-5" in result.err
    assert "did you mean" in result.err and "accuracy_top-1" in result.err
    assert result.err.count("\n") == 1 and not (tmp_path / "c.png").exists()


def test_bad_inputs_are_one_line_errors(run_cli, tmp_path):
    text_log = tmp_path / "run.log"
    text_log.write_text("2024-01-01 00:00:00 - Epoch [1][10/20] lr: 0.1\n")
    result = run_cli("run", "cls", "analyze_logs", "cal_train_time", str(text_log))
    assert result.exit_code == 2 and "must end with .json" in result.err and "run.log.json" in result.err

    not_a_log = tmp_path / "results.json"
    not_a_log.write_text(json.dumps({"metrics": {"accuracy_top-1": 90.0}}) + "\n")
    result = run_cli("run", "cls", "analyze_logs", "cal_train_time", str(not_a_log))
    assert result.exit_code == 1 and "no train or val records" in result.err

    broken = write_json_log(tmp_path / "w" / "x.log.json")
    lines = broken.read_text().splitlines()
    lines.insert(3, "{oops")
    broken.write_text("\n".join(lines) + "\n")
    result = run_cli("run", "cls", "analyze_logs", "cal_train_time", str(broken))
    assert result.exit_code == 1 and f"{broken}:4: not a JSON log line" in result.err

    result = run_cli("run", "cls", "analyze_logs", "cal_train_time", str(tmp_path / "nope.log.json"))
    assert result.exit_code == 1 and "does not exist" in result.err


def test_a_truncated_last_line_is_ignored(tmp_path):
    log = write_json_log(tmp_path / "w" / "x.log.json")
    log.write_text(log.read_text() + '{"mode": "train", "ep')
    assert len(load_json_log(log).train) == 12


def test_cal_train_time_skips_the_first_record_of_each_epoch(run_cli, tmp_path):
    times = {(1, 0): 9.0, (1, 1): 0.1, (1, 2): 0.1, (1, 3): 0.1, (2, 0): 9.0, (2, 1): 0.2, (2, 2): 0.2, (2, 3): 0.2}
    log = write_json_log(tmp_path / "w" / "x.log.json", epochs=2, times=times)
    stats = train_time(load_json_log(log))
    assert (stats.slowest_epoch, stats.fastest_epoch) == (2, 1)
    assert stats.slowest_time == pytest.approx(0.2) and stats.fastest_time == pytest.approx(0.1)
    assert stats.std_over_epochs == pytest.approx(0.05) and stats.average == pytest.approx(0.15)
    result = run_cli("run", "cls", "analyze_logs", "cal_train_time", str(log))
    assert result.exit_code == 0, result.err
    assert result.out.splitlines() == [
        f"-----Analyze train time of {log}-----",
        "slowest epoch 2, average time is 0.2000 s/iter",
        "fastest epoch 1, average time is 0.1000 s/iter",
        "time std over epochs is 0.0500",
        "average iter time: 0.1500 s/iter",
    ]
    with_outliers = run_cli("run", "cls", "analyze_logs", "cal_train_time", str(log), "--include-outliers")
    assert "average iter time: 2.3625 s/iter" in with_outliers.out


def test_missing_matplotlib_says_how_to_install(run_cli, tmp_path, two_logs, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = run_cli("run", "cls", "analyze_logs", "plot_curve", str(two_logs[0]), "--out", str(tmp_path / "c.png"))
    assert result.exit_code == 1 and "needs matplotlib" in result.err and "pip install matplotlib" in result.err


def test_tools_are_listed(run_cli):
    result = run_cli("run", "cls", "--list")
    for tool in ("analyze_logs", "confusion_matrix", "get_flops", "publish_model", "make_index_entry",
                 "pytorch2onnx", "verify_dataset"):
        assert tool in result.out
