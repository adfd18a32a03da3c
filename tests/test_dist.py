"""Distributed training and testing for real: 2 CPU processes with gloo over 127.0.0.1 (torchrun; srun emulated).

- DDP averages gradients: 2 ranks x batch 4 give the weights of 1 process x batch 8 (no BatchNorm),
  and the logged losses are averaged over the ranks;
- ``minim train --launcher pytorch --gpus 2``: identical replicas afterwards (per-rank state digests in
  the log, equal to the checkpoint's), rank-0-only files, config notes (gloo, sync_bn, auto_scale_lr);
- ``minim test --launcher pytorch --gpus 2 --out`` equals the single-process result on 9 images;
- a failing worker is one line with its rank and exit status, no traceback;
- ``--launcher slurm`` through a stand-in ``srun`` that starts the tasks with SLURM_* variables.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import minim_subprocess
from dist_support import train_plain, write_dist_setup
from minim.cls.engine import probe
from minim.launch.commands import usable_cpu_count

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
CPU_ENV = {"OMP_NUM_THREADS": "1"}


def _json_records(work_dir: Path) -> list[dict]:
    logs = list(work_dir.glob("*.log.json"))
    assert len(logs) == 1, logs
    return [json.loads(line) for line in logs[0].read_text().splitlines()]


def test_two_ranks_equal_one_process_with_twice_the_batch(tmp_path):
    from minim.launch import LaunchPlan, free_port, run_plan

    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2", "--nnodes=1", "--node-rank=0",
            "--master-addr=127.0.0.1", f"--master-port={free_port()}", str(HERE / "dist_support.py"),
            str(tmp_path), "4"]
    run_plan(LaunchPlan("pytorch", argv, {**CPU_ENV, "PYTHONPATH": str(HERE)}))
    distributed = torch.load(tmp_path / "weights.pt")
    single = train_plain(tmp_path / "single", 8, distributed=False).state_dict()
    for name, value in single.items():
        torch.testing.assert_close(distributed[name], value, rtol=1e-4, atol=1e-5, msg=name)
    assert not torch.equal(single["conv.weight"], train_plain(tmp_path / "other", 4, distributed=False)
                           .state_dict()["conv.weight"])  # the comparison can tell batch 4 from batch 8
    losses = [r["loss"] for r in _json_records(tmp_path / "rank0") if r.get("mode") == "train"]
    single_losses = [r["loss"] for r in _json_records(tmp_path / "single") if r.get("mode") == "train"]
    assert len(losses) == 6
    np.testing.assert_allclose(losses, single_losses, rtol=1e-4)
    assert not (tmp_path / "rank1").exists()  # only rank 0 writes


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``minim train`` with 2 CPU processes; returns (root, config, work dir, completed process)."""
    root = tmp_path_factory.mktemp("dist")
    config = write_dist_setup(root)
    done = minim_subprocess("train", "cls", str(config), "--launcher", "pytorch", "--gpus", "2", "--device", "cpu",
                            "--work-dir", str(root / "work"), "--auto-scale-lr", "--sync-bn", cwd=root, env=CPU_ENV)
    return root, config, root / "work", done


def test_distributed_training_keeps_the_replicas_identical(trained):
    from minim.cls.engine.dist import state_dict_sha256

    root, _config, work, done = trained
    assert done.returncode == 0, done.stderr
    assert "starting 2 CPU process(es) with the gloo backend" in done.stderr
    assert "Training finished" in done.stdout and done.stdout.count("Training finished") == 1
    logs = list(work.glob("*.log"))
    assert len(logs) == 1
    text = logs[0].read_text()
    digests = re.search(r"replica state sha256: rank 0: (\w+), rank 1: (\w+)", text)
    assert digests and digests.group(1) == digests.group(2)
    assert "world size 2 (gloo)" in text
    checkpoint = torch.load(work / "latest.pth", weights_only=False)
    assert state_dict_sha256(checkpoint["state_dict"]) == digests.group(1)
    assert "world size 2" in text
    assert "dist_params.backend='nccl' needs CUDA; using gloo" in text
    assert "sync_bn: SyncBatchNorm needs CUDA" in text
    assert "optimizer.lr 0.01 -> 0.02 (batch 6 = 3 x 2 process(es)" in text
    records = _json_records(work)
    train = [r for r in records[1:] if r["mode"] == "train"]
    assert [r["iter"] for r in train] == [1, 2, 1, 2]  # 12 images / (2 ranks x 3) per epoch
    assert [r["epoch"] for r in records if r.get("mode") == "val"] == [1, 2]
    assert {p.name for p in work.glob("*.pth")} >= {"epoch_1.pth", "epoch_2.pth", "latest.pth"}


def test_distributed_test_equals_single_process(trained, run_cli, monkeypatch):
    """Bit for bit with ``deterministic`` (a single CPU process then scores the loader's batches in its streams);
    without it a single CPU process measures its own batch size: equal to float rounding."""
    root, _config, work, done = trained
    assert done.returncode == 0, done.stderr
    config = work / "dist_cfg.py"
    metrics = ["--metrics", "accuracy", "precision", "recall", "f1_score", "support"]
    deterministic = ["--cfg-options", "deterministic=True"]
    dist = minim_subprocess("test", "cls", str(config), "--checkpoint", str(work / "latest.pth"), *metrics,
                            "--launcher", "pytorch", "--gpus", "2", "--device", "cpu", "--out",
                            str(root / "dist.json"), *deterministic, cwd=root, env=CPU_ENV)
    assert dist.returncode == 0, dist.stderr
    assert "9 images, 2 processes" in dist.stdout and dist.stdout.count("wrote ") == 1
    monkeypatch.chdir(root)
    monkeypatch.setattr(probe, "MIN_RUN_SHARE", 0.0)  # what is measured is remembered, whatever else runs
    for name, options in (("single", deterministic), ("measured", [])):
        single = run_cli("test", "cls", str(config), "--checkpoint", str(work / "latest.pth"), *metrics,
                         "--device", "cpu", "--out", str(root / f"{name}.json"), *options)
        assert single.exit_code == 0, single.err
        timed = name == "measured" and usable_cpu_count() > 1  # (the images per pass in CPU streams)
        assert probe.probe_cache_path("inference").exists() == timed  # deterministic: nothing timed
    a, b, measured = (json.loads((root / f"{name}.json").read_text()) for name in ("dist", "single", "measured"))
    assert a["metrics"] == b["metrics"] and a["classes"] == b["classes"]
    assert [p["file"] for p in a["predictions"]] == [p["file"] for p in b["predictions"]]
    assert [p["pred_label"] for p in a["predictions"]] == [p["pred_label"] for p in b["predictions"]]
    scores = np.array([p["scores"] for p in a["predictions"]])
    assert np.isfinite(scores).all()
    assert scores.tolist() == [p["scores"] for p in b["predictions"]]  # the same batches: bit for bit
    assert len(a["predictions"]) == 9
    assert np.allclose(scores, [p["scores"] for p in measured["predictions"]], atol=1e-6)


def test_a_failing_worker_is_one_line_with_its_status(trained):
    root, config, _work, _done = trained
    for name in ("cat", "dog", "fox"):  # class folders without images: the launcher's plan sees only the folders
        (root / "hollow" / name).mkdir(parents=True)
    done = minim_subprocess("train", "cls", str(config), "--launcher", "pytorch", "--gpus", "2", "--device", "cpu",
                            "--work-dir", str(root / "bad"), "--cfg-options", "data.train.data_prefix=hollow",
                            cwd=root, env=CPU_ENV)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "ChildFailedError" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("minim: error:")]
    # rank 0 prepares the data first and fails; the launcher stops rank 1, which never reached it
    assert errors == [f"minim: error: class folder {Path('hollow/cat')} has no images (looked for .jpg, .jpeg, .png, "
                      ".ppm, .bmp, .pgm, .tif, .tiff, .webp) (add images or remove the folder)",
                      "minim: error: torchrun: worker rank 0 exited with status 1; the workers' messages are above"]
    assert not (root / "bad").exists()


FAKE_SRUN = """\
#!{python}
# stands in for Slurm's srun on one machine: starts --ntasks copies of the command with SLURM_* set
import os, subprocess, sys
args = sys.argv[1:]
ntasks = int(next(a for a in args if a.startswith("--ntasks=")).split("=")[1])
start = next(i for i, a in enumerate(args) if not a.startswith("-") and os.path.isabs(a))
with open(os.environ["FAKE_SRUN_LOG"], "w") as log:
    log.write(" ".join(args[:start]))
procs = [subprocess.Popen(args[start:], env={{**os.environ, "SLURM_PROCID": str(i), "SLURM_NTASKS": str(ntasks),
         "SLURM_LOCALID": str(i), "SLURM_JOB_NODELIST": "localhost"}}) for i in range(ntasks)]
sys.exit(max(p.wait() for p in procs))
"""


def test_slurm_launch_runs_the_tasks_with_slurm_ranks(trained, tmp_path):
    root, _config, work, done = trained
    assert done.returncode == 0, done.stderr
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    srun = bin_dir / "srun"
    srun.write_text(FAKE_SRUN.format(python=sys.executable))
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    env = {**CPU_ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SRUN_LOG": str(tmp_path / "srun")}
    result = minim_subprocess("test", "cls", str(work / "dist_cfg.py"), "--checkpoint", str(work / "latest.pth"),
                              "--launcher", "slurm", "--gpus", "2", "--partition", "debug", "--device", "cpu",
                              "--srun-args", "--time=5 --comment 'two words'", "--out", str(tmp_path / "s.json"),
                              cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "srun").read_text() == (
        "-p debug --job-name=dist_cfg_test --gres=gpu:2 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=2 "
        "--kill-on-bad-exit=1 --time=5 --comment two words")
    assert "9 images, 2 processes" in result.stdout
    assert len(json.loads((tmp_path / "s.json").read_text())["predictions"]) == 9
