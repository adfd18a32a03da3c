"""The worker side of a launch: this process's rank, world size and rendezvous address from the environment.

``pytorch`` (torchrun) sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``. ``slurm`` (srun) sets ``SLURM_PROCID``, ``SLURM_NTASKS``,
``SLURM_LOCALID`` and the node list; the master is the first node of the step (``MASTER_ADDR``
wins when set) and the port comes from ``MASTER_PORT`` (exported by ``minim ... --launcher slurm``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from minim.errors import UsageError
from minim.launch.slurm import expand_hostlist

DEFAULT_MASTER_PORT = 29500
_NODELIST_VARIABLES = ("SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST")


@dataclass(frozen=True)
class WorkerEnv:
    """Where this process sits in a distributed run."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int

    def export(self, environ: dict | None = None) -> None:
        """Set the ``env://`` variables torch's ``init_process_group`` reads."""
        environ = os.environ if environ is None else environ
        environ.update(RANK=str(self.rank), WORLD_SIZE=str(self.world_size), LOCAL_RANK=str(self.local_rank),
                       MASTER_ADDR=self.master_addr, MASTER_PORT=str(self.master_port))


def worker_env(launcher: str, environ: Mapping[str, str] | None = None) -> WorkerEnv:
    """This worker's :class:`WorkerEnv` under ``launcher`` ('pytorch' or 'slurm')."""
    environ = os.environ if environ is None else environ
    if launcher == "pytorch":
        return WorkerEnv(
            rank=_int(environ, "RANK", launcher),
            world_size=_int(environ, "WORLD_SIZE", launcher),
            local_rank=_int(environ, "LOCAL_RANK", launcher),
            master_addr=_text(environ, "MASTER_ADDR", launcher),
            master_port=_int(environ, "MASTER_PORT", launcher),
        )
    if launcher == "slurm":
        master = environ.get("MASTER_ADDR") or _first_slurm_host(environ)
        return WorkerEnv(
            rank=_int(environ, "SLURM_PROCID", launcher),
            world_size=_int(environ, "SLURM_NTASKS", launcher),
            local_rank=_int(environ, "SLURM_LOCALID", launcher),
            master_addr=master,
            master_port=int(environ.get("MASTER_PORT") or DEFAULT_MASTER_PORT),
        )
    raise UsageError(f"--launcher-worker must be pytorch or slurm, got {launcher!r}")


def _missing(name: str, launcher: str) -> UsageError:
    starter = "torchrun" if launcher == "pytorch" else "srun"
    return UsageError(
        f"--launcher-worker {launcher}: {name} is not set; this process was not started by {starter}",
        hint=f"start it with minim ... --launcher {launcher}, which runs {starter} for you",
    )


def _text(environ: Mapping[str, str], name: str, launcher: str) -> str:
    value = environ.get(name)
    if not value:
        raise _missing(name, launcher)
    return value


def _int(environ: Mapping[str, str], name: str, launcher: str) -> int:
    value = _text(environ, name, launcher)
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{name}={value!r} is not an integer") from None


def _first_slurm_host(environ: Mapping[str, str]) -> str:
    for name in _NODELIST_VARIABLES:
        if environ.get(name):
            return expand_hostlist(environ[name])[0]
    raise _missing("SLURM_NODELIST", "slurm")
