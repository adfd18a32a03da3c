"""minim gridsearch: search-args parsing, folder names, key checks (did you mean, stale intermediates),
ranking, summary files, skipping finished runs, and end-to-end runs of a 2x1 grid (one failing, in parallel)."""

from __future__ import annotations

import csv
import json
import shlex
from pathlib import Path

import pytest

from cls_engine_support import write_tiny_setup
from minim.errors import ConfigError, UsageError
from minim.gridsearch import RunResult, combination_name, expand, gridsearch, parse_search_args
from minim.gridsearch.summary import best_of, metric_keys, rank_runs, write_summary


# --- parsing -------------------------------------------------------------------------------------
def test_values_are_read_like_cfg_options_not_evaluated():
    space = parse_search_args("--optimizer.lr 1e-2 1e-3 --runner.max_epochs=5 10 --a.b [1,2] 'x y' __import__('os')")
    assert [(k.key, k.values) for k in space] == [
        ("optimizer.lr", (0.01, 0.001)), ("runner.max_epochs", (5, 10)),
        ("a.b", ([1, 2], "x y", "__import__(os)")),  # a string, never evaluated
    ]
    assert space[0].tokens == ("1e-2", "1e-3")


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("0.1 --optimizer.lr 0.2", "must start with --KEY"),
    ("--optimizer.lr", "has no value"),
    ("--optimizer.lr 1 --optimizer.lr 2", "twice"),
    ("--optimizer.lr 0.02 0.02", "--optimizer.lr gives 0.02 twice; each value would run twice, in the same folder"),
    ("--optimizer.lr 0.02 2e-2 0.1", "--optimizer.lr gives 0.02 and 2e-2 twice"),
    ("--optimizer..lr 1", "not a config key"),
    ("--a 'x", "balance the quotes"),
])
def test_bad_search_args(text, words):
    with pytest.raises(UsageError) as caught:
        parse_search_args(text)
    assert words in str(caught.value)


def test_product_order_and_folder_names():
    combos = expand(parse_search_args("--optimizer.lr 1e-2 1e-3 --runner.max_epochs 5 10"))
    assert [c.name for c in combos] == [
        "optimizer.lr=0.01,runner.max_epochs=5", "optimizer.lr=0.01,runner.max_epochs=10",
        "optimizer.lr=0.001,runner.max_epochs=5", "optimizer.lr=0.001,runner.max_epochs=10"]
    assert combos[1].options == ("optimizer.lr=1e-2", "runner.max_epochs=10")
    assert combos[1].values == {"optimizer.lr": 0.01, "runner.max_epochs": 10}


def test_names_are_filesystem_safe_unique_and_bounded():
    assert combination_name({"work_dir": "a/b c:d", "size": [224, 224], "t": (1, 5)}) == \
        "work_dir=a_b_c_d,size=[224,224],t=(1,5)"
    clashing = expand(parse_search_args("--x a/b a_b"))
    assert len({c.name for c in clashing}) == 2 and all(c.name.startswith("x=a_b-") for c in clashing)
    long = combination_name({"k": "v" * 500})
    assert len(long) <= 120 and long != combination_name({"k": "v" * 499})


# --- ranking and summaries -----------------------------------------------------------------------
def _run(name, best=None, status="done"):
    return RunResult(name, {"optimizer.lr": name}, status, f"w/{name}", f"w/{name}/gridsearch.log", best=best)


def test_ranking_puts_the_best_first_then_unscored_then_failed():
    runs = [_run("a", 50.0), _run("b", None, "failed"), _run("c", 70.0), _run("d"), _run("e", 50.0)]
    assert [r.name for r in rank_runs(runs, "greater")] == ["c", "a", "e", "d", "b"]
    assert [r.name for r in rank_runs(runs, "less")] == ["a", "e", "c", "d", "b"]


def _log(tmp_path, runner_type, records):
    from minim.gridsearch.summary import read_log

    header = {"config": f"runner = dict(type='{runner_type}', max_iters=8)", "seed": 0}
    path = tmp_path / f"{runner_type}.log.json"
    path.write_text("\n".join(json.dumps(r) for r in [header, *records]) + "\n")
    return read_log(path)


def test_best_of_validation_records(tmp_path):
    records = [{"mode": "val", "epoch": 1, "iter": 3, "accuracy_top-1": 50.0},
               {"mode": "val", "epoch": 2, "iter": 3, "accuracy_top-1": 75.0},
               {"mode": "val", "epoch": 3, "iter": 3, "accuracy_top-1": float("nan")},
               {"mode": "val", "epoch": 4, "iter": 3, "loss": 0.3}]
    log = _log(tmp_path, "EpochBasedRunner", records)
    assert best_of(log, "accuracy_top-1", "greater") == (75.0, 2)
    assert best_of(log, "accuracy_top-1", "less") == (50.0, 1)
    assert best_of(log, "missing", "greater") == (None, None)
    assert best_of(None, "accuracy_top-1", "greater") == (None, None)
    assert metric_keys(log) == ["accuracy_top-1"]


def test_best_of_an_iteration_based_run_is_at_an_iteration(tmp_path):
    records = [{"mode": "train", "epoch": 1, "iter": 4, "loss": 1.0},
               {"mode": "val", "epoch": 1, "iter": 4, "accuracy_top-1": 80.0},
               {"mode": "val", "epoch": 2, "iter": 8, "accuracy_top-1": 60.0}]
    assert best_of(_log(tmp_path, "IterBasedRunner", records), "accuracy_top-1", "greater") == (80.0, 4)


def test_summary_files(tmp_path):
    runs = [_run("0.1", 80.0), _run("0.01", None, "failed")]
    json_path, csv_path = write_summary(tmp_path, {"metric": "accuracy_top-1"}, runs, ["optimizer.lr"],
                                        "accuracy_top-1")
    data = json.loads(json_path.read_text())
    assert [(r["rank"], r["name"], r["status"]) for r in data["runs"]] == [(1, "0.1", "done"), (2, "0.01", "failed")]
    rows = list(csv.DictReader(csv_path.open()))
    assert rows[0]["accuracy_top-1"] == "80.0" and rows[1]["status"] == "failed"
    assert rows[1]["log"] == "w/0.01/gridsearch.log"
    assert not list(tmp_path.glob(".*tmp"))


# --- checks against the config (dry runs: nothing is trained) ------------------------------------
STALE_CONFIG = """\
base_lr = 0.1
optimizer = dict(type='SGD', lr=base_lr, momentum=0.9)
lr_config = dict(policy='CosineAnnealing', min_lr=base_lr * 0.01)
runner = dict(type='EpochBasedRunner', max_epochs=2)
evaluation = dict(save_best='accuracy_top-1')
"""


@pytest.fixture
def stale_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "stale.py"
    path.write_text(STALE_CONFIG)
    return path


def test_a_missing_key_names_itself_with_did_you_mean(stale_config):
    with pytest.raises(ConfigError) as caught:
        gridsearch("cls", str(stale_config), "--optimizer.lrr 0.1", dry_run=True, console=False)
    assert "optimizer.lrr is not in" in str(caught.value) and "'optimizer.lr'" in str(caught.value)


def test_a_searched_intermediate_variable_is_refused_unless_allowed(stale_config, capsys):
    with pytest.raises(ConfigError) as caught:
        gridsearch("cls", str(stale_config), "--base_lr 0.1 0.2", dry_run=True, console=False)
    message = str(caught.value)
    assert "base_lr" in message and "optimizer.lr" in message and "--allow-stale" in message
    result = gridsearch("cls", str(stale_config), "--base_lr 0.1 0.2", dry_run=True, allow_stale=True)
    assert len(result.runs) == 2 and "base_lr" in capsys.readouterr().err


def test_type_changes_are_fine_and_the_commands_are_exact(stale_config, capsys):
    result = gridsearch("cls", str(stale_config), "--optimizer.lr 1 2 --runner.max_epochs 1.5", dry_run=True,
                        work_dir="gs", cfg_options=["optimizer.momentum=0"], train_args=["--seed", "3"],
                        python="/py")
    assert [r.name for r in result.runs] == ["optimizer.lr=1,runner.max_epochs=1.5", "optimizer.lr=2,runner.max_epochs=1.5"]
    assert result.metric == "accuracy_top-1"  # evaluation.save_best
    assert result.dry_run and not capsys.readouterr().out  # the CLI prints the commands
    assert result.runs[0].command == [
        "/py", "-m", "minim", "train", "cls", str(stale_config), "--work-dir", "gs/optimizer.lr=1,runner.max_epochs=1.5",
        "--seed", "3", "--cfg-options", "optimizer.momentum=0", "optimizer.lr=1", "runner.max_epochs=1.5"]
    assert not Path("gs").exists()


@pytest.mark.parametrize("kwargs, words", [
    (dict(train_args=["--gpus", "2"]), "--gpus 2 needs one process per GPU: add --launcher pytorch"),
    (dict(metric="acuracy_top-1"), "is not logged by the runs' evaluation"),
    (dict(cfg_options=["optimizer.lr=0.5"]), "keep it in one of them"),
    (dict(train_args=["--work-dir", "x"]), "--work-dir cannot be passed"),
    (dict(train_args=["--resume"]), "skipped on a re-run"),
    (dict(max_jobs=2, train_args=["--master-port", "29500"]), "share one port"),
    (dict(max_jobs=0), "--max-jobs must be >= 1"),
])
def test_argument_conflicts(stale_config, kwargs, words):
    with pytest.raises(UsageError) as caught:
        gridsearch("cls", str(stale_config), "--optimizer.lr 0.1", dry_run=True, console=False, **kwargs)
    assert words in str(caught.value)


def test_cli_dry_run_passes_launcher_options_on(stale_config, run_cli):
    result = run_cli("gridsearch", "cls", str(stale_config), "--search-args", "--optimizer.lr 0.1 0.2",
                     "--launcher", "pytorch", "--gpus", "2", "--amp", "--dry-run", "--work-dir", "gs")
    assert result.exit_code == 0, result.err
    first = shlex.split(result.out.splitlines()[0])
    assert first[first.index("--work-dir"):] == ["--work-dir", "gs/optimizer.lr=0.1", "--launcher", "pytorch",
                                                 "--gpus", "2", "--amp", "--cfg-options", "optimizer.lr=0.1"]


# --- end to end -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_grid_runs_ranks_summarises_and_skips_finished_runs(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    args = ["gridsearch", "cls", str(config), "--search-args", "--optimizer.lr 1e-2 1e-3 --runner.max_epochs 1",
            "--work-dir", "gs", "--cfg-options", "optimizer.momentum=0.0", "--seed", "1"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.err
    names = ["optimizer.lr=0.01,runner.max_epochs=1", "optimizer.lr=0.001,runner.max_epochs=1"]
    for name in names:
        folder = tmp_path / "gs" / name
        assert (folder / "epoch_1.pth").is_file() and (folder / "gridsearch_done.json").is_file()
        assert "Training finished" in (folder / "gridsearch.log").read_text()
    summary = json.loads((tmp_path / "gs" / "summary.json").read_text())
    assert summary["metric"] == "accuracy_top-1" and summary["rule"] == "greater"
    assert sorted(r["name"] for r in summary["runs"]) == sorted(names)
    assert all(r["status"] == "done" and r["best"] is not None for r in summary["runs"])
    bests = [r["best"] for r in summary["runs"]]
    assert bests == sorted(bests, reverse=True)
    assert "best accuracy_top-1" in result.out and "summary:" in result.out
    rows = list(csv.DictReader((tmp_path / "gs" / "summary.csv").open()))
    assert [row["name"] for row in rows] == [r["name"] for r in summary["runs"]]
    # again: both finished, nothing trains
    mtime = (tmp_path / "gs" / names[0] / "epoch_1.pth").stat().st_mtime
    again = run_cli(*args)
    assert again.exit_code == 0, again.err
    assert again.err.count("finished by an earlier search, skipped") == 2
    assert (tmp_path / "gs" / names[0] / "epoch_1.pth").stat().st_mtime == mtime
    assert [r["status"] for r in json.loads((tmp_path / "gs" / "summary.json").read_text())["runs"]] == ["skipped"] * 2
    # a metric no run logged is an error naming the logged ones, and the summary stays as it was
    before = (tmp_path / "gs" / "summary.json").read_text()
    misspelt = run_cli(*args, "--metric", "acc_top-1")
    assert misspelt.exit_code == 2
    assert ("--metric 'acc_top-1' is not logged by the runs' evaluation, which logs accuracy_top-1 "
            "(did you mean 'accuracy_top-1'?)" in misspelt.err)  # before anything runs
    assert (tmp_path / "gs" / "summary.json").read_text() == before
    # a run finished with another config or other arguments trains again
    marker = tmp_path / "gs" / names[1] / "gridsearch_done.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "fingerprint": "an older config"}))
    changed = run_cli(*args)
    assert changed.exit_code == 0, changed.err
    assert f"{names[1]}: config or arguments changed since it finished; running it again" in changed.err
    statuses = {r["name"]: r["status"] for r in json.loads((tmp_path / "gs" / "summary.json").read_text())["runs"]}
    assert statuses == {names[0]: "skipped", names[1]: "done"}


@pytest.mark.slow
def test_a_failed_combination_is_reported_and_the_others_finish(tmp_path, monkeypatch, run_cli):
    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")  # parallel runs each get one of these (no GPU here: CPU)
    result = run_cli("gridsearch", "cls", str(config), "--search-args", "--optimizer.type SGD Sgdd",
                     "--cfg-options", "runner.max_epochs=1", "--work-dir", "gs", "--max-jobs", "2")
    assert result.exit_code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("minim: error:")]
    assert len(errors) == 1 and "1 of 2 combinations failed: optimizer.type=Sgdd" in errors[0]
    assert "gs/optimizer.type=Sgdd/gridsearch.log" in errors[0]
    log = (tmp_path / "gs" / "optimizer.type=Sgdd" / "gridsearch.log").read_text()
    assert "minim: error:" in log and "Sgdd" in log
    for name in ("optimizer.type=SGD", "optimizer.type=Sgdd"):
        header = (tmp_path / "gs" / name / "gridsearch.log").read_text().splitlines()[0]
        assert header.split(" ")[1] in ("CUDA_VISIBLE_DEVICES=3", "CUDA_VISIBLE_DEVICES=5")
    summary = json.loads((tmp_path / "gs" / "summary.json").read_text())
    assert [(r["name"], r["status"]) for r in summary["runs"]] == [("optimizer.type=SGD", "done"),
                                                                    ("optimizer.type=Sgdd", "failed")]
    assert not (tmp_path / "gs" / "optimizer.type=Sgdd" / "gridsearch_done.json").exists()


def test_ctrl_c_stops_the_search_without_calling_runs_failed(tmp_path, monkeypatch, capsys, ctrl_c_handled):
    """The terminal's Ctrl-C reaches the training process too; it dies of SIGINT, and the search stops
    there instead of reporting a failure and starting the next combination."""
    config = write_tiny_setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    python = tmp_path / "interrupted-python"
    python.write_text("#!/bin/sh\nkill -INT $$\n")
    python.chmod(0o755)
    with pytest.raises(KeyboardInterrupt):
        gridsearch("cls", str(config), "--optimizer.lr 0.1 0.01", work_dir=str(tmp_path / "gs"), python=str(python))
    err = capsys.readouterr().err
    assert "FAILED" not in err and "optimizer.lr=0.01: starting" not in err
    assert not (tmp_path / "gs" / "summary.json").exists()


def test_the_ranking_keeps_long_key_names_whole(capsys):
    from minim.cli.commands.gridsearch import _print_ranking
    from minim.gridsearch import GridSearchResult

    keys = ["optimizer.weight_decay", "data.train.pipeline.1.scale"]
    runs = [RunResult("a", {keys[0]: 1e-4, keys[1]: [0.08, 1.0]}, "done", "w/a", "w/a/gridsearch.log", best=90.0)]
    _print_ranking(GridSearchResult(Path("gs"), "accuracy_top-1", "greater", runs, keys, "gridsearch cfg.py: 1 runs"))
    out = capsys.readouterr().out
    assert all(key in out for key in keys)
