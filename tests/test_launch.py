"""minim.launch: exact torchrun/srun command lines, option checks, Slurm host lists, worker environments,
torchrun's failure report turned into one line, and the CLI's --dry-run."""

from __future__ import annotations

import shlex
import sys
import textwrap

import pytest

from minim.errors import UsageError
from minim.launch import (
    LaunchOptions,
    build_plan,
    expand_hostlist,
    srun_command,
    strip_launcher_args,
    torchrun_command,
    worker_env,
)
from minim.launch.run import LaunchError, TorchrunStderr, run_plan

PY = sys.executable


# --- stripping launcher options from the worker's arguments -------------------------------------
@pytest.mark.parametrize("args, kept", [
    (["cls", "c.py", "--launcher", "pytorch", "--gpus", "2"], ["cls", "c.py"]),
    (["cls", "c.py", "--gpus=2", "--dry-run", "--seed", "3"], ["cls", "c.py", "--seed", "3"]),
    (["cls", "c.py", "--srun-args", "--exclusive --time=1", "--amp"], ["cls", "c.py", "--amp"]),
    (["--master-port", "1234", "cls", "c.py", "--cfg-options", "a=1", "b=2"], ["cls", "c.py", "--cfg-options", "a=1", "b=2"]),
    (["cls", "c.py", "--", "--gpus", "2"], ["cls", "c.py", "--", "--gpus", "2"]),
])
def test_strip_launcher_args(args, kept):
    assert strip_launcher_args(args) == kept


# --- exact command lines --------------------------------------------------------------------------
def test_torchrun_command_is_exact():
    assert torchrun_command(4, 2, 1, "10.0.0.1", 29501, ["train", "cls", "c.py"], python="/py") == [
        "/py", "-m", "torch.distributed.run", "--nproc-per-node=4", "--nnodes=2", "--node-rank=1",
        "--master-addr=10.0.0.1", "--master-port=29501", "--module", "minim", "train", "cls", "c.py"]


def test_srun_command_splits_srun_args_like_a_shell():
    command = srun_command(ntasks=16, tasks_per_node=8, cpus_per_task=5, job_name="exp_train",
                           minim_args=["train", "cls", "c.py"], partition="gpu",
                           srun_args="--time=1:00:00 --comment 'my run'", python="/py")
    assert command == ["srun", "-p", "gpu", "--job-name=exp_train", "--gres=gpu:8", "--ntasks=16",
                       "--ntasks-per-node=8", "--cpus-per-task=5", "--kill-on-bad-exit=1", "--time=1:00:00",
                       "--comment", "my run", "/py", "-m", "minim", "train", "cls", "c.py"]


def test_unbalanced_srun_args_are_a_usage_error():
    with pytest.raises(UsageError, match="balance the quotes"):
        srun_command(ntasks=1, tasks_per_node=1, cpus_per_task=1, job_name="j", minim_args=[], srun_args="--x 'y")


def test_cpu_plan_starts_gloo_processes_and_shares_the_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    plan = build_plan(LaunchOptions(launcher="pytorch", gpus=2, master_port=29999), ["train"],
                      ["cls", "c.py", "--launcher", "pytorch", "--gpus", "2", "--seed", "1"],
                      job_name="c_train", cuda_devices=0, python="/py")
    assert plan.argv == ["/py", "-m", "torch.distributed.run", "--nproc-per-node=2", "--nnodes=1", "--node-rank=0",
                         "--master-addr=127.0.0.1", "--master-port=29999", "--module", "minim", "train", "cls", "c.py",
                         "--seed", "1", "--launcher-worker", "pytorch"]
    assert plan.cpu and plan.processes == 2
    assert plan.notes == ["no CUDA GPU here: starting 2 CPU process(es) with the gloo backend"]
    assert "OMP_NUM_THREADS" in plan.env
    assert plan.command_line().startswith("OMP_NUM_THREADS=")


def test_gpu_plan_defaults_to_every_visible_gpu_and_a_free_port():
    plan = build_plan(LaunchOptions(launcher="pytorch"), ["test"], ["cls", "c.py"], job_name="j", cuda_devices=4)
    assert "--nproc-per-node=4" in plan.argv and not plan.cpu and not plan.notes and plan.env == {}
    port = int(next(a for a in plan.argv if a.startswith("--master-port=")).split("=")[1])
    assert 0 < port < 65536
    with pytest.raises(UsageError, match="has 4 CUDA GPU"):
        build_plan(LaunchOptions(launcher="pytorch", gpus=8), ["train"], [], job_name="j", cuda_devices=4)


def test_a_master_port_in_use_is_refused_before_launching():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UsageError, match=f"--master-port {port} is already in use on this machine"):
            build_plan(LaunchOptions(launcher="pytorch", gpus=2, master_port=port), ["test"], ["cls", "c.py"],
                       job_name="j", cuda_devices=0)
        # another node's rank joins the port on the master; nothing to check here
        build_plan(LaunchOptions(launcher="pytorch", gpus=4, nnodes=2, node_rank=1, master_addr="node0",
                                 master_port=port), ["test"], [], job_name="j", cuda_devices=2)


def test_multi_node_plan_needs_the_rendezvous_address():
    with pytest.raises(UsageError, match="--master-addr and --master-port"):
        build_plan(LaunchOptions(launcher="pytorch", gpus=8, nnodes=2), ["train"], [], job_name="j", cuda_devices=4)
    plan = build_plan(LaunchOptions(launcher="pytorch", gpus=8, nnodes=2, node_rank=1, master_addr="node0",
                                    master_port=2000), ["train"], [], job_name="j", cuda_devices=4)
    assert plan.argv[3:8] == ["--nproc-per-node=4", "--nnodes=2", "--node-rank=1", "--master-addr=node0",
                              "--master-port=2000"]
    with pytest.raises(UsageError, match="--node-rank 2"):
        build_plan(LaunchOptions(launcher="pytorch", gpus=8, nnodes=2, node_rank=2, master_addr="a", master_port=1),
                   ["train"], [], job_name="j", cuda_devices=4)


def test_slurm_plan_defaults_and_port():
    plan = build_plan(LaunchOptions(launcher="slurm", gpus=16, master_port=23456), ["train"], ["cls", "c.py"],
                      job_name="c_train", cuda_devices=0, python="/py")
    assert plan.env == {"MASTER_PORT": "23456"}
    assert plan.command_line() == (
        "MASTER_PORT=23456 srun --job-name=c_train --gres=gpu:8 --ntasks=16 --ntasks-per-node=8 --cpus-per-task=2 "
        "--kill-on-bad-exit=1 /py -m minim train cls c.py --launcher-worker slurm")
    twelve = build_plan(LaunchOptions(launcher="slurm", gpus=12), ["train"], [], job_name="j", cuda_devices=0)
    assert "--ntasks=12 --ntasks-per-node=8" in twelve.command_line()  # 8 + 4 tasks, as srun and mim do


@pytest.mark.parametrize("options, words", [
    (LaunchOptions(gpus=2), "--launcher pytorch"),
    (LaunchOptions(partition="gpu"), "--partition only applies with --launcher slurm"),
    (LaunchOptions(nnodes=2), "--nnodes only applies with --launcher pytorch"),
    (LaunchOptions(dry_run=True), "--dry-run"),
    (LaunchOptions(launcher="pytorch", srun_args="--x"), "--srun-args only applies with --launcher slurm"),
    (LaunchOptions(launcher="slurm", master_addr="a"), "--master-addr only applies with --launcher pytorch"),
    (LaunchOptions(launcher="pytorch", gpus=-1), "--gpus must be >= 0"),
    (LaunchOptions(launcher="pytorch", master_port=70000), "--master-port must be 1-65535"),
    (LaunchOptions(launcher="pytroch"), "did you mean 'pytorch'"),
])
def test_option_checks(options, words):
    with pytest.raises(UsageError) as caught:
        options.check()
    assert words in str(caught.value)


# --- Slurm host lists and worker environments -----------------------------------------------------
@pytest.mark.parametrize("text, hosts", [
    ("node07", ["node07"]),
    ("node[01-03,07]", ["node01", "node02", "node03", "node07"]),
    ("a1,b[8-10],c", ["a1", "b8", "b9", "b10", "c"]),
    ("rack[1-2]-n[1,3]", ["rack1-n1", "rack1-n3", "rack2-n1", "rack2-n3"]),
    ("gpu-[009-011]", ["gpu-009", "gpu-010", "gpu-011"]),
])
def test_expand_hostlist(text, hosts):
    assert expand_hostlist(text) == hosts


@pytest.mark.parametrize("text", ["node[01-03", "node]1", "node[3-1]", "node[a-b]", ""])
def test_bad_hostlists_are_usage_errors(text):
    with pytest.raises(UsageError):
        expand_hostlist(text)


def test_worker_env_from_torchrun_and_slurm_variables():
    env = worker_env("pytorch", {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "MASTER_ADDR": "h",
                                 "MASTER_PORT": "123"})
    assert (env.rank, env.world_size, env.local_rank, env.master_addr, env.master_port) == (3, 8, 1, "h", 123)
    slurm = worker_env("slurm", {"SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_LOCALID": "1",
                                 "SLURM_JOB_NODELIST": "gpu[04-05]", "MASTER_PORT": "23456"})
    assert (slurm.rank, slurm.world_size, slurm.local_rank, slurm.master_addr, slurm.master_port) == (
        5, 16, 1, "gpu04", 23456)
    exported: dict = {}
    slurm.export(exported)
    assert exported == {"RANK": "5", "WORLD_SIZE": "16", "LOCAL_RANK": "1", "MASTER_ADDR": "gpu04",
                        "MASTER_PORT": "23456"}
    with pytest.raises(UsageError, match="RANK is not set"):
        worker_env("pytorch", {})
    with pytest.raises(UsageError, match="SLURM_NODELIST"):
        worker_env("slurm", {"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_LOCALID": "0"})


# --- torchrun's failure report -> one line ---------------------------------------------------------
TORCHRUN_FAILURE = """\
to stderr from a worker
E1126 00:28:03.275000 12277 torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: 3) local_rank: 1 (pid: 12281) of binary: /py
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/x/torch/distributed/launcher/api.py", line 386, in launch_agent
    raise ChildFailedError(
torch.distributed.elastic.multiprocessing.errors.ChildFailedError: 
============================================================
minim FAILED
------------------------------------------------------------
Failures:
  <NO_OTHER_FAILURES>
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-11-26_00:28:03
  host      : localhost
  rank      : 1 (local_rank: 1)
  exitcode  : 3 (pid: 12281)
  error_file: <N/A>
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
============================================================
after the report
"""

WORKER_TRACEBACK = """\
Traceback (most recent call last):
  File "x.py", line 1, in <module>
ValueError: a worker's own error
"""


def test_torchrun_report_is_dropped_and_its_root_cause_kept():
    watcher = TorchrunStderr()
    shown = [out for line in (TORCHRUN_FAILURE + WORKER_TRACEBACK).splitlines(keepends=True)
             for out in watcher.feed(line)]
    assert "".join(shown) == "to stderr from a worker\nafter the report\n" + WORKER_TRACEBACK
    assert (watcher.failure.rank, watcher.failure.status) == (1, 3)


def _fake_plan(tmp_path, stderr_text: str, code: int):
    from minim.launch import LaunchPlan

    script = tmp_path / "fake_torchrun.py"
    script.write_text(f"import sys\nsys.stderr.write({stderr_text!r})\nprint('worker stdout')\nsys.exit({code})\n")
    return LaunchPlan("pytorch", [PY, str(script)])


def test_run_plan_turns_a_failed_worker_into_one_error_line(tmp_path, capfd):
    with pytest.raises(LaunchError) as caught:
        run_plan(_fake_plan(tmp_path, TORCHRUN_FAILURE, 1))
    assert str(caught.value) == "torchrun: worker rank 1 exited with status 3; the workers' messages are above"
    assert caught.value.exit_code == 3
    captured = capfd.readouterr()
    assert "worker stdout" in captured.out
    assert "Traceback" not in captured.err and "ChildFailedError" not in captured.err
    assert "to stderr from a worker" in captured.err


def test_run_plan_succeeds_quietly_and_reports_signals(tmp_path):
    run_plan(_fake_plan(tmp_path, "", 0))
    killed = TORCHRUN_FAILURE.replace("exitcode  : 3", "exitcode  : -9")
    with pytest.raises(LaunchError, match="worker rank 1 was killed by signal SIGKILL") as caught:
        run_plan(_fake_plan(tmp_path, killed, 1))
    assert caught.value.exit_code == 128 + 9


def test_missing_srun_is_one_line():
    from minim.launch import LaunchPlan

    with pytest.raises(LaunchError, match="cannot start srun-that-does-not-exist: not found"):
        run_plan(LaunchPlan("slurm", ["srun-that-does-not-exist"]))


# --- the CLI ---------------------------------------------------------------------------------------
@pytest.fixture
def tiny_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "exp.py"
    config.write_text(textwrap.dedent("""\
        model = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18),
                     neck=dict(type='GlobalAveragePooling'), head=dict(type='LinearClsHead', num_classes=3, in_channels=512))
        optimizer = dict(type='SGD', lr=0.1)
        runner = dict(type='EpochBasedRunner', max_epochs=1)
        data = dict(samples_per_gpu=2, workers_per_gpu=0)
        """))
    return config


def test_dry_run_prints_the_exact_torchrun_command(tiny_config, run_cli, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result = run_cli("train", "cls", "exp.py", "--launcher", "pytorch", "--gpus", "2", "--master-port", "29511",
                     "--device", "cpu", "--work-dir", "runs/a b", "--cfg-options", "optimizer.lr=0.01",
                     "runner.max_epochs=2", "--dry-run")
    assert result.exit_code == 0, result.err
    assert shlex.split(result.out.strip()) == [
        PY, "-m", "torch.distributed.run", "--nproc-per-node=2", "--nnodes=1", "--node-rank=0",
        "--master-addr=127.0.0.1", "--master-port=29511", "--module", "minim", "train", "cls", "exp.py",
        "--device", "cpu", "--work-dir", "runs/a b", "--cfg-options", "optimizer.lr=0.01", "runner.max_epochs=2",
        "--launcher-worker", "pytorch"]
    assert "starting 2 CPU process(es) with the gloo backend" in result.err
    assert not (tiny_config.parent / "runs").exists()


def test_dry_run_slurm_without_srun_args_does_not_crash(tiny_config, run_cli):
    # mim 0.3.9 + click 8.5 crashes here ('Sentinel' object has no attribute 'split')
    (tiny_config.parent / "w.pth").write_bytes(b"")
    result = run_cli("test", "cls", "exp.py", "--checkpoint", "w.pth", "--launcher", "slurm", "--gpus", "2",
                     "--partition", "p1", "--master-port", "24000", "--dry-run")
    assert result.exit_code == 0, result.err
    assert shlex.split(result.out.strip()) == [
        "MASTER_PORT=24000", "srun", "-p", "p1", "--job-name=exp_test", "--gres=gpu:2", "--ntasks=2",
        "--ntasks-per-node=2", "--cpus-per-task=2", "--kill-on-bad-exit=1", PY, "-m", "minim", "test", "cls",
        "exp.py", "--checkpoint", "w.pth", "--launcher-worker", "slurm"]


@pytest.mark.parametrize("args, code, words", [
    (["--gpus", "2"], 2, "--launcher pytorch"),
    (["--launcher", "pytorch", "--partition", "p"], 2, "--partition only applies with --launcher slurm"),
    (["--launcher-worker", "pytorch"], 2, "RANK is not set"),
    (["--launcher-worker", "slurm", "--launcher", "pytorch"], 2, "do not combine it with --launcher"),
    (["--launcher", "pytorch", "--cfg-options", "optimizer.lr=[1"], 1, "unbalanced brackets"),
])
def test_launch_usage_errors_are_one_line(tiny_config, run_cli, args, code, words):
    result = run_cli("train", "cls", "exp.py", *args)
    assert result.exit_code == code, (result.out, result.err)
    errors = [line for line in result.err.splitlines() if line.startswith("minim: error:")]
    assert len(errors) == 1 and words in errors[0], result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("args, words", [
    (["test", "cls", "exp.py", "--checkpoint", "missing.pth"], "checkpoint missing.pth does not exist"),
    (["test", "cls", "exp.py", "--checkpoint", "w.pth", "--metrics", "acuracy"], "unknown metric 'acuracy'"),
    (["test", "cls", "exp.py", "--checkpoint", "w.pth", "--out", "r.yaml"], "--out must end in .json"),
    (["train", "cls", "exp.py", "--resume"], "no checkpoint to resume from"),
    (["train", "cls", "exp.py", "--resume", "gone.pth"], "checkpoint gone.pth does not exist"),
    (["train", "cls", "exp.py", "--device", "cuda"], "CUDA"),
])
def test_what_every_worker_would_refuse_fails_once_before_launching(tiny_config, run_cli, args, words):
    (tiny_config.parent / "w.pth").write_bytes(b"")
    result = run_cli(*args, "--launcher", "pytorch", "--gpus", "2", "--dry-run")
    assert result.exit_code != 0 and result.out == "", result.out
    errors = [line for line in result.err.splitlines() if line.startswith("minim: error:")]
    assert len(errors) == 1 and words in errors[0], result.err


# --- signals: no worker outlives the launcher --------------------------------------------------------
FAKE_LAUNCHER = """
import signal, subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
open(sys.argv[1], "w").write(str(worker.pid))
if sys.argv[2] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:  # torchrun reports the stop with a traceback
    def report(*_):
        sys.stderr.write("Traceback (most recent call last):\\n  File x\\nSignalException: got signal: 15\\n")
        sys.exit(1)
    signal.signal(signal.SIGTERM, report)
time.sleep(300)
"""

DRIVER = """
import sys
from minim.launch import LaunchPlan, run
from minim.errors import LaunchError
run.STOP_GRACE_SECONDS = 1
try:
    run.run_plan(LaunchPlan("pytorch", [sys.executable, sys.argv[1], sys.argv[2], sys.argv[3]]))
except LaunchError as error:
    print(f"LaunchError {error.exit_code}: {error.message}", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
"""


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\\nState:\\tZ" not in status  # a zombie has stopped


def _wait_for(predicate, seconds: float = 20) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how, mode, expected", [
    ("SIGTERM", "polite", "LaunchError 143: stopped by SIGTERM; the workers were stopped"),
    ("SIGINT", "stubborn", "KeyboardInterrupt"),  # the launcher ignores SIGTERM: its group is killed
    ("kill launcher", "polite", "LaunchError 137: torchrun was killed by signal SIGKILL; the workers' messages are above"),
])
def test_no_worker_outlives_the_launcher(tmp_path, how, mode, expected, ctrl_c_handled):
    import os
    import signal
    import subprocess

    (tmp_path / "fake_torchrun.py").write_text(FAKE_LAUNCHER)
    (tmp_path / "driver.py").write_text(DRIVER)
    pid_file = tmp_path / "worker.pid"
    driver = subprocess.Popen([PY, str(tmp_path / "driver.py"), str(tmp_path / "fake_torchrun.py"), str(pid_file),
                               mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert _wait_for(lambda: pid_file.exists() and pid_file.read_text())
    worker = int(pid_file.read_text())
    if how == "kill launcher":
        launcher = int(subprocess.check_output(["ps", "-o", "ppid=", "-p", str(worker)]).strip())
        os.kill(launcher, signal.SIGKILL)
    else:
        driver.send_signal(getattr(signal, how))
    out, err = driver.communicate(timeout=30)
    assert out.strip().splitlines()[-1] == expected
    assert "SignalException" not in err  # the launcher's report of a stop minim asked for is not shown
    assert _wait_for(lambda: not _alive(worker), 5)
