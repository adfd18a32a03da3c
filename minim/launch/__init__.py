"""Launching distributed runs: torchrun and Slurm command lines, the worker side, failures as one line.

The parent process (``minim train|test CODEBASE CONFIG --launcher pytorch|slurm``) builds a command
that re-runs minim once per process with ``--launcher-worker pytorch|slurm`` (and without the
launcher options), prints it (``--dry-run``) or runs it. Each worker reads its rank from the
environment (:func:`minim.launch.worker.worker_env`) and the engine sets up the process group.

Nothing here imports torch or click.
"""

from minim.launch.commands import (
    LAUNCHER_FLAGS,
    LAUNCHER_VALUE_OPTIONS,
    LaunchPlan,
    build_plan,
    format_command,
    free_port,
    srun_command,
    strip_launcher_args,
    torchrun_command,
)
from minim.launch.options import LAUNCHERS, LaunchOptions
from minim.launch.run import LaunchError, run_plan
from minim.launch.slurm import expand_hostlist
from minim.launch.worker import WorkerEnv, worker_env

__all__ = [
    "LAUNCHERS",
    "LAUNCHER_FLAGS",
    "LAUNCHER_VALUE_OPTIONS",
    "LaunchError",
    "LaunchOptions",
    "LaunchPlan",
    "WorkerEnv",
    "build_plan",
    "expand_hostlist",
    "format_command",
    "free_port",
    "run_plan",
    "srun_command",
    "strip_launcher_args",
    "torchrun_command",
    "worker_env",
]
