"""Click side of launching: the launcher options of ``train``/``test`` and the switch to :mod:`minim.launch`.

``--launcher pytorch|slurm`` in the user's process builds a torchrun/srun command that re-runs the
same minim command in every process with ``--launcher-worker KIND`` (and without the launcher
options); the workers are the ones that train or test.
"""

from __future__ import annotations

import click

from minim.cli.options import MultiValueCommand, in_help_section

RAW_ARGS_KEY = "minim.raw_args"


class LaunchCommand(MultiValueCommand):
    """Keeps the command's own arguments as typed, so a launcher can pass them on to its workers."""

    def parse_args(self, ctx, args):
        ctx.meta[RAW_ARGS_KEY] = list(args)
        return super().parse_args(ctx, args)


_OPTIONS = [
    click.option("--launcher", type=click.Choice(["none", "pytorch", "slurm"]), default="none", show_default=True,
                 help="none: this process; pytorch: one process per GPU with torchrun here (CPU processes with "
                      "gloo when there is no GPU); slurm: srun tasks."),
    click.option("--gpus", type=int, default=None, help="GPUs = processes (all nodes together; 0 = CPU with "
                 "--launcher none; default with --launcher pytorch: every visible GPU)."),
    click.option("--gpus-per-node", type=int, default=None, help="Processes per node (default: --gpus / --nnodes; "
                 "slurm: min(--gpus, 8))."),
    click.option("--nnodes", type=int, default=None, help="[pytorch] Number of machines (default 1)."),
    click.option("--node-rank", type=int, default=None, help="[pytorch] This machine's index, 0..nnodes-1."),
    click.option("--master-addr", default=None, help="[pytorch] Address of the node with --node-rank 0 "
                 "(default 127.0.0.1)."),
    click.option("--master-port", type=int, default=None, help="Rendezvous port (default: a free one; slurm: "
                 "random 20000-29999)."),
    click.option("--partition", default=None, help="[slurm] Partition (srun -p)."),
    click.option("--cpus-per-task", type=int, default=None, help="[slurm] CPUs per task (default 2)."),
    click.option("--srun-args", default=None, metavar="'ARGS'", help="[slurm] More srun arguments, split like a "
                 "shell does, e.g. --srun-args '--time=1:00:00 --comment \"my run\"'."),
    click.option("--job-name", default=None, help="[slurm] Job name (default <config>_<command>)."),
    click.option("--dry-run", is_flag=True, default=False, help="Print the launch command and exit."),
    click.option("--launcher-worker", type=click.Choice(["pytorch", "slurm"]), default=None,
                 help="Run as one worker of a torchrun/srun launch (set by --launcher; use it when you start "
                      "torchrun or srun yourself)."),
]
LAUNCH_PARAMS = ("launcher", "gpus", "gpus_per_node", "nnodes", "node_rank", "master_addr", "master_port",
                 "partition", "cpus_per_task", "srun_args", "job_name", "dry_run", "launcher_worker")


#: options a command that only passes a launch on (gridsearch) has no use for
_LAUNCHING_ONLY = ("--job-name", "--dry-run", "--launcher-worker")


LAUNCH_SECTION = "Several GPUs, machines or Slurm (launcher options)"


def launcher_options(func):
    """Add the launcher options (see :data:`LAUNCH_PARAMS`) to a command."""
    return in_help_section(LAUNCH_SECTION, _OPTIONS)(func)


def passed_on_launcher_options(func):
    """The launcher options a command passes on to ``minim train`` (no --dry-run, --job-name, --launcher-worker)."""
    return in_help_section(LAUNCH_SECTION, [o for o in _OPTIONS if _option_flag(o) not in _LAUNCHING_ONLY])(func)


def _option_flag(decorator) -> str:
    probe = decorator(lambda: None)
    return probe.__click_params__[-1].opts[0]


def launch_if_requested(ctx: click.Context, codebase, command: str, config: str, launch: dict,
                        device: str | None = None) -> str:
    """Start the workers when ``--launcher`` asks for it.

    Returns 'launched' (the run happened in workers), 'worker' (this process is a worker: run with
    ``launcher=<kind>``) or 'single' (run in this process).
    """
    from minim.launch.options import LaunchOptions

    worker = launch.pop("launcher_worker")
    options = LaunchOptions(**launch)
    if worker is not None:
        if options.launcher != "none":
            raise click.UsageError("--launcher-worker is set by the launcher; do not combine it with --launcher")
        if options.gpus is not None:
            raise click.UsageError("--gpus is an option of the launching process, not of a worker")
        return "worker"
    options.check()
    if options.launcher == "none":
        return "single"
    from minim.launch import build_plan, run_plan

    params = {**ctx.params, "device": device}
    job_name = codebase.engine_function("launch_preflight")(config, _cfg_options(ctx), command, params)
    plan = build_plan(options, [command], ctx.meta[RAW_ARGS_KEY], job_name=job_name,
                      cuda_devices=_cuda_devices(), cpu=device == "cpu")
    for note in plan.notes:
        click.echo(f"minim: note: {note}", err=True)
    if options.dry_run:
        click.echo(plan.command_line())
        return "launched"
    run_plan(plan)
    return "launched"


def _cfg_options(ctx: click.Context) -> list[str]:
    return list(ctx.params.get("cfg_options") or [])


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
