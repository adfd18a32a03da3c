"""The command lines a launch runs: ``python -m torch.distributed.run ...`` and ``srun ...``.

Both re-run minim itself in each process: ``python -m minim COMMAND CODEBASE ARGS... --launcher-worker
KIND``, where ARGS are the user's arguments without the launcher options (see
:func:`strip_launcher_args`).
"""

from __future__ import annotations

import errno
import os
import shlex
import socket
import sys
from dataclasses import dataclass, field
from typing import Sequence

from minim.errors import UsageError
from minim.launch.options import DEFAULT_CPUS_PER_TASK, MAX_GPUS_PER_NODE, LaunchOptions

#: launcher options that take a value / that are flags (stripped from the arguments passed to workers)
LAUNCHER_VALUE_OPTIONS = ("--launcher", "--gpus", "--gpus-per-node", "--nnodes", "--node-rank", "--master-addr",
                          "--master-port", "--partition", "--cpus-per-task", "--srun-args", "--job-name")
LAUNCHER_FLAGS = ("--dry-run",)
WORKER_OPTION = "--launcher-worker"


def strip_launcher_args(args: Sequence[str]) -> list[str]:
    """``args`` without the launcher options (``--gpus 2``, ``--gpus=2``, ``--dry-run``...); tokens after
    ``--`` are kept as they are."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            out.extend(args[i:])
            break
        name = token.split("=", 1)[0]
        if name in LAUNCHER_VALUE_OPTIONS or name == WORKER_OPTION:
            i += 1 if "=" in token else 2
            continue
        if token in LAUNCHER_FLAGS:
            i += 1
            continue
        out.append(token)
        i += 1
    return out


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _check_port_free(port: int) -> None:
    """The rendezvous port must be free here, where torchrun's store will listen on it (every interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise UsageError(f"--master-port {port}: {exc.strerror}") from None
            raise UsageError(f"--master-port {port} is already in use on this machine",
                             hint="pick another port, or leave --master-port out to get a free one") from None


def format_command(argv: Sequence[str], env: dict[str, str] | None = None) -> str:
    """A shell-ready line: ``VAR=value ... program args`` with every word quoted as needed."""
    prefix = [f"{key}={shlex.quote(value)}" for key, value in (env or {}).items()]
    return " ".join(prefix + [shlex.quote(str(word)) for word in argv])


def torchrun_command(nproc_per_node: int, nnodes: int, node_rank: int, master_addr: str, master_port: int,
                     minim_args: Sequence[str], python: str | None = None) -> list[str]:
    """``python -m torch.distributed.run --nproc-per-node=N ... --module minim ARGS``."""
    return [
        python or sys.executable, "-m", "torch.distributed.run",
        f"--nproc-per-node={nproc_per_node}",
        f"--nnodes={nnodes}",
        f"--node-rank={node_rank}",
        f"--master-addr={master_addr}",
        f"--master-port={master_port}",
        "--module", "minim", *minim_args,
    ]


def srun_command(*, ntasks: int, tasks_per_node: int, cpus_per_task: int, job_name: str, minim_args: Sequence[str],
                 partition: str | None = None, srun_args: str | None = None, gres: bool = True,
                 python: str | None = None) -> list[str]:
    """``srun -p P --job-name=J --gres=gpu:M --ntasks=N --ntasks-per-node=M --cpus-per-task=C
    --kill-on-bad-exit=1 [SRUN_ARGS] python -m minim ARGS``; ``srun_args`` is split like a shell does."""
    try:
        extra = shlex.split(srun_args or "")
    except ValueError as exc:
        raise UsageError(f"--srun-args {srun_args!r}: {exc}", hint="balance the quotes") from None
    command = ["srun"]
    if partition:
        command += ["-p", partition]
    command.append(f"--job-name={job_name}")
    if gres:
        command.append(f"--gres=gpu:{tasks_per_node}")
    command += [f"--ntasks={ntasks}", f"--ntasks-per-node={tasks_per_node}", f"--cpus-per-task={cpus_per_task}",
                "--kill-on-bad-exit=1", *extra, python or sys.executable, "-m", "minim", *minim_args]
    return command


@dataclass
class LaunchPlan:
    """A command to run (``argv`` with ``env`` added), how many processes it starts, and what to tell the user."""

    kind: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    processes: int = 1
    cpu: bool = False
    notes: list[str] = field(default_factory=list)

    def command_line(self) -> str:
        return format_command(self.argv, self.env)


def build_plan(options: LaunchOptions, command: Sequence[str], args: Sequence[str], *, job_name: str,
               cuda_devices: int, cpu: bool = False, python: str | None = None) -> LaunchPlan:
    """The launch of ``minim COMMAND... ARGS`` (``command`` e.g. ``['train', 'cls']``) under ``options``.

    ``cuda_devices``: GPUs visible here (decides the torchrun default and the CPU fallback);
    ``cpu``: the user asked for CPU processes (``--device cpu``).
    """
    options.check()
    if options.launcher == "none":
        raise UsageError("nothing to launch with --launcher none")
    minim_args = [*command, *strip_launcher_args(args), WORKER_OPTION, options.launcher]
    if options.launcher == "pytorch":
        return _torchrun_plan(options, minim_args, cuda_devices, cpu, python)
    return _slurm_plan(options, minim_args, job_name, python)


def _torchrun_plan(options: LaunchOptions, minim_args: list[str], cuda_devices: int, cpu: bool,
                   python: str | None) -> LaunchPlan:
    cpu = cpu or cuda_devices == 0
    nnodes = options.nnodes or 1
    if options.gpus is not None:
        gpus = options.gpus
    elif options.gpus_per_node:
        gpus = options.gpus_per_node * nnodes
    else:  # default: every visible GPU (one CPU process without GPUs)
        gpus = (1 if cpu else cuda_devices) * nnodes
    if gpus < 1:
        raise UsageError("--launcher pytorch needs --gpus >= 1 (the number of processes)")
    per_node = options.gpus_per_node or gpus // nnodes
    if per_node * nnodes != gpus:
        raise UsageError(f"--gpus {gpus} is not --nnodes {nnodes} x --gpus-per-node {per_node}",
                         hint="--gpus counts processes on all nodes together")
    node_rank = options.node_rank or 0
    if not 0 <= node_rank < nnodes:
        raise UsageError(f"--node-rank {node_rank} must be in 0..{nnodes - 1} (--nnodes {nnodes})")
    notes = []
    if nnodes > 1 and (options.master_addr is None or options.master_port is None):
        raise UsageError(f"--nnodes {nnodes} needs --master-addr and --master-port (the same on every node: "
                         "the address of the node with --node-rank 0 and a free port there)")
    if cpu:
        why = "--device cpu" if cuda_devices else "no CUDA GPU here"
        notes.append(f"{why}: starting {per_node} CPU process(es) with the gloo backend")
    elif per_node > cuda_devices:
        raise UsageError(f"--gpus-per-node {per_node} but this machine has {cuda_devices} CUDA GPU(s)",
                         hint=f"use --gpus {cuda_devices * nnodes}" if cuda_devices else None)
    if options.master_port is not None and node_rank == 0:
        _check_port_free(options.master_port)
    port = options.master_port or free_port()
    argv = torchrun_command(per_node, nnodes, node_rank, options.master_addr or "127.0.0.1", port, minim_args, python)
    env = {}
    if cpu and "OMP_NUM_THREADS" not in os.environ:
        # share the cores between the processes instead of torchrun's blanket OMP_NUM_THREADS=1 (and its warning)
        env["OMP_NUM_THREADS"] = str(max(1, usable_cpu_count() // per_node))
    return LaunchPlan("pytorch", argv, env, processes=gpus, cpu=cpu, notes=notes)


def _slurm_plan(options: LaunchOptions, minim_args: list[str], job_name: str, python: str | None) -> LaunchPlan:
    gpus = options.gpus if options.gpus is not None else 1
    if gpus < 1:
        raise UsageError("--launcher slurm needs --gpus >= 1 (the number of tasks)")
    per_node = options.gpus_per_node or min(gpus, MAX_GPUS_PER_NODE)  # srun fills nodes, the last one maybe partly
    port = options.master_port or _slurm_port()
    argv = srun_command(
        ntasks=gpus, tasks_per_node=per_node, cpus_per_task=options.cpus_per_task or DEFAULT_CPUS_PER_TASK,
        job_name=options.job_name or job_name, minim_args=minim_args, partition=options.partition,
        srun_args=options.srun_args, python=python,
    )
    return LaunchPlan("slurm", argv, {"MASTER_PORT": str(port)}, processes=gpus)


def _slurm_port() -> int:
    """A port for the rendezvous on the first Slurm node (it cannot be probed from here): random in 20000-29999."""
    import random

    return random.randint(20000, 29999)


def usable_cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
