"""GPUs for parallel grid-search runs: each run gets its own ``CUDA_VISIBLE_DEVICES``, never a shared GPU.

With ``--max-jobs J`` on a machine with GPUs, every run needs ``--gpus N`` of them (1 by default);
a :class:`GpuPool` hands out ``N`` free GPU ids per run and takes them back when the run ends, so at
most ``len(gpus) // N`` runs train at once whatever ``J`` says. The GPUs are the entries of
``CUDA_VISIBLE_DEVICES`` when it is set, else those ``nvidia-smi`` lists. Slurm runs are left alone
(Slurm assigns GPUs itself), as are CPU runs (``--device cpu``, ``--gpus 0``).
"""

from __future__ import annotations

import threading
from typing import Mapping, Sequence

from minim.errors import UsageError


def option_value(args: Sequence[str], flag: str) -> str | None:
    """The value of ``flag`` in ``args`` (``--flag V`` or ``--flag=V``; the last one wins)."""
    value = None
    for i, token in enumerate(args):
        if token == flag and i + 1 < len(args):
            value = args[i + 1]
        elif token.startswith(flag + "="):
            value = token.split("=", 1)[1]
    return value


def visible_gpus(env: Mapping[str, str]) -> list[str]:
    """GPU ids runs may use: ``CUDA_VISIBLE_DEVICES`` when set (``''`` means none), else nvidia-smi's."""
    explicit = env.get("CUDA_VISIBLE_DEVICES")
    if explicit is not None:
        return [part.strip() for part in explicit.split(",") if part.strip() and part.strip() != "-1"]
    from minim.env.gpu import detect_gpu

    info = detect_gpu()
    if not info.available or info.vendor != "nvidia":
        return []
    return [str(i) for i in range(len(info.names) or 1)]


def gpus_per_run(train_args: Sequence[str]) -> int:
    """GPUs one run uses (0: the pool is not needed -- Slurm, or a CPU run)."""
    if option_value(train_args, "--launcher") == "slurm" or option_value(train_args, "--device") == "cpu":
        return 0
    gpus = option_value(train_args, "--gpus")
    if gpus is None:
        return 1
    try:
        return max(0, int(gpus))
    except ValueError:
        raise UsageError(f"--gpus must be a number, got {gpus!r}") from None


class GpuPool:
    """Hands out disjoint sets of ``per_run`` GPU ids; :meth:`acquire` waits until enough are free."""

    def __init__(self, gpus: Sequence[str], per_run: int):
        if per_run > len(gpus):
            raise UsageError(f"each run needs {per_run} GPU(s) (--gpus) but only {len(gpus)} are visible "
                             f"({', '.join(gpus) or 'none'})", hint="lower --gpus or set CUDA_VISIBLE_DEVICES")
        self.per_run = per_run
        self.free = list(gpus)
        self.condition = threading.Condition()

    @property
    def concurrent_runs(self) -> int:
        return len(self.free) // self.per_run

    def acquire(self) -> list[str]:
        with self.condition:
            self.condition.wait_for(lambda: len(self.free) >= self.per_run)
            taken, self.free = self.free[: self.per_run], self.free[self.per_run:]
            return taken

    def release(self, gpus: Sequence[str]) -> None:
        with self.condition:
            self.free.extend(gpus)
            self.condition.notify_all()


def gpu_pool(train_args: Sequence[str], max_jobs: int, env: Mapping[str, str]) -> GpuPool | None:
    """The pool for a search running ``max_jobs`` runs at a time, or None when runs need no GPU split."""
    if max_jobs <= 1:
        return None
    per_run = gpus_per_run(train_args)
    if per_run == 0:
        return None
    gpus = visible_gpus(env)
    if not gpus:
        return None
    return GpuPool(gpus, per_run)
