"""``LaunchOptions``: what ``--launcher``, ``--gpus`` and friends ask for, checked before anything starts."""

from __future__ import annotations

from dataclasses import dataclass

from minim.errors import UsageError
from minim.suggest import did_you_mean

LAUNCHERS = ("none", "pytorch", "slurm")
#: options that only make sense with one launcher (CLI spelling -> attribute)
_SLURM_ONLY = {"--partition": "partition", "--cpus-per-task": "cpus_per_task", "--srun-args": "srun_args",
               "--job-name": "job_name"}
_PYTORCH_ONLY = {"--nnodes": "nnodes", "--node-rank": "node_rank", "--master-addr": "master_addr"}
DEFAULT_CPUS_PER_TASK = 2
MAX_GPUS_PER_NODE = 8


@dataclass
class LaunchOptions:
    """The launcher options of ``minim train|test`` (``None`` = not given)."""

    launcher: str = "none"
    gpus: int | None = None
    gpus_per_node: int | None = None
    nnodes: int | None = None
    node_rank: int | None = None
    master_addr: str | None = None
    master_port: int | None = None
    partition: str | None = None
    cpus_per_task: int | None = None
    srun_args: str | None = None
    job_name: str | None = None
    dry_run: bool = False

    def given(self, attribute: str) -> bool:
        return getattr(self, attribute) not in (None, "")

    def check(self) -> None:
        """Refuse combinations that cannot work (one line naming the option)."""
        if self.launcher not in LAUNCHERS:
            raise UsageError(f"unknown launcher {self.launcher!r}; known: {', '.join(LAUNCHERS)}",
                             hint=did_you_mean(str(self.launcher), LAUNCHERS))
        for name in ("gpus", "gpus_per_node", "nnodes", "cpus_per_task"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "gpus" else 1):
                raise UsageError(f"--{name.replace('_', '-')} must be >= {0 if name == 'gpus' else 1}, got {value}")
        if self.master_port is not None and not 0 < self.master_port < 65536:
            raise UsageError(f"--master-port must be 1-65535, got {self.master_port}")
        if self.launcher == "none":
            self._check_none()
        elif self.launcher == "pytorch":
            self._refuse(_SLURM_ONLY, "slurm")
        else:
            self._refuse(_PYTORCH_ONLY, "pytorch", extra=" (Slurm places the tasks on nodes itself)")

    def _check_none(self) -> None:
        if self.gpus is not None and self.gpus > 1:
            raise UsageError(
                f"--gpus {self.gpus} needs one process per GPU: add --launcher pytorch (torchrun on this machine) "
                "or --launcher slurm",
                hint=f"e.g. --launcher pytorch --gpus {self.gpus}",
            )
        owners = {**{flag: "slurm" for flag in _SLURM_ONLY}, **{flag: "pytorch" for flag in _PYTORCH_ONLY},
                  "--gpus-per-node": "pytorch or slurm", "--master-port": "pytorch or slurm"}
        attributes = {**_SLURM_ONLY, **_PYTORCH_ONLY, "--gpus-per-node": "gpus_per_node", "--master-port": "master_port"}
        for flag, attribute in attributes.items():
            if self.given(attribute):
                raise UsageError(f"{flag} only applies with --launcher {owners[flag]}")
        if self.dry_run:
            raise UsageError("--dry-run prints the launch command of --launcher pytorch or slurm; "
                             "with --launcher none there is none")

    def _refuse(self, options: dict[str, str], owner: str, extra: str = "") -> None:
        for flag, attribute in options.items():
            if self.given(attribute):
                raise UsageError(f"{flag} only applies with --launcher {owner}, not --launcher {self.launcher}{extra}")
