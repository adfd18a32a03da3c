"""Distributed helpers that also work, trivially, in a single process.

Only rank 0 logs, writes checkpoints and prints summaries; the helpers return
rank 0 / world size 1 whenever ``torch.distributed`` is not initialised, so the
single-process engine never has to special-case them.

:func:`init_distributed` joins the process group of a launched worker (NCCL on CUDA, gloo on
the CPU); :func:`broadcast_buffers`, :func:`all_reduce_mean` and :func:`replica_digests` keep
and check the replicas equal.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from minim.errors import UsageError
from minim.launch.worker import worker_env


def is_distributed() -> bool:
    """Whether a torch.distributed process group is up."""
    import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's rank (0 when not distributed)."""
    if not is_distributed():
        return 0
    import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

    return dist.get_rank()


def get_world_size() -> int:
    """Number of processes (1 when not distributed)."""
    if not is_distributed():
        return 1
    import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

    return dist.get_world_size()


def is_main_process() -> bool:
    """True on rank 0: the process that logs and saves."""
    return get_rank() == 0


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if is_distributed():
        import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (``[obj]`` when not distributed)."""
    if not is_distributed():
        return [obj]
    import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (``obj`` itself when not distributed)."""
    if not is_distributed():
        return obj
    import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


# --- setting up and checking a distributed run ---------------------------------------------
class DistSetup:
    """What :func:`init_distributed` chose: device, backend, rank, world size, and notes for the log."""

    def __init__(self, device, backend: str, rank: int, world_size: int, local_rank: int, notes: list[str]):
        self.device = device
        self.backend = backend
        self.rank = rank
        self.world_size = world_size
        self.local_rank = local_rank
        self.notes = notes


def init_distributed(launcher: str, backend: str | None = None, device: Any = None) -> DistSetup:
    """Join the process group of a ``pytorch`` (torchrun) or ``slurm`` (srun) launch.

    The device is ``cuda:<local rank>`` when CUDA is available and ``device`` is auto/None/'cuda',
    else the CPU. The backend is ``backend`` (e.g. ``dist_params.backend``), NCCL by default on CUDA;
    on the CPU it is always gloo (a note says so when something else was asked for).
    """
    import torch  # lazy: torch; minim train's plan imports this module
    import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

    env = worker_env(launcher)
    env.export()
    notes: list[str] = []
    spec = None if device in (None, "", "auto") else str(device)
    if spec not in (None, "cpu", "cuda"):
        raise UsageError(f"--device {spec} with a launcher: each process uses the GPU of its local rank",
                         hint="use --device cuda (the default) or --device cpu")
    use_cuda = torch.cuda.is_available() and spec != "cpu"
    if spec == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but no CUDA GPU is available", hint="use --device cpu")
    if use_cuda:
        if env.local_rank >= torch.cuda.device_count():
            raise UsageError(f"local rank {env.local_rank} has no GPU: {torch.cuda.device_count()} CUDA GPU(s) here")
        torch.cuda.set_device(env.local_rank)
        run_device = torch.device("cuda", env.local_rank)
        chosen = backend or "nccl"
    else:
        run_device = torch.device("cpu")
        chosen = "gloo"
        if backend not in (None, "gloo"):
            notes.append(f"dist_params.backend={backend!r} needs CUDA; using gloo for CPU processes")
    if not is_distributed():
        kwargs = {"device_id": run_device} if run_device.type == "cuda" else {}
        dist.init_process_group(chosen, init_method="env://", rank=env.rank, world_size=env.world_size, **kwargs)
    return DistSetup(run_device, chosen, env.rank, env.world_size, env.local_rank, notes)


def destroy_distributed() -> None:
    """Leave the process group (after a final barrier); no-op when not distributed."""
    if is_distributed():
        import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


def all_reduce_mean(tensor):
    """The mean of ``tensor`` over all ranks (``tensor`` itself when not distributed)."""
    if not is_distributed() or get_world_size() == 1:
        return tensor
    import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor / get_world_size()


def broadcast_buffers(model, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) to every rank, as mmcv does before
    evaluating: DDP syncs them at the start of each forward, so after the last step they differ."""
    if not is_distributed() or get_world_size() == 1:
        return
    import torch.distributed as dist  # lazy: torch; minim train's plan imports this module

    for buffer in model.buffers():
        dist.broadcast(buffer.data, src)


def state_dict_sha256(state_dict) -> str:
    """A digest of a state dict (names, dtypes, shapes and values), equal for equal weights."""
    import torch  # lazy: torch; minim train's plan imports this module

    digest = hashlib.sha256()
    for name in sorted(state_dict):
        value = state_dict[name]
        digest.update(name.encode())
        if hasattr(value, "detach"):
            tensor = value.detach().cpu().contiguous()
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            if tensor.numel():
                digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()


def replica_digests(model) -> list[str]:
    """Every rank's :func:`state_dict_sha256` of ``model`` (rank order); one entry when not distributed."""
    return all_gather_object(state_dict_sha256(model.state_dict()))


@contextlib.contextmanager
def main_process_first():
    """Rank 0 runs the block first (downloads, dataset preparation), the other ranks after it; no-op
    when not distributed. If rank 0 fails inside, the launcher stops the waiting ranks."""
    if not is_distributed():
        yield
        return
    if not is_main_process():
        barrier()
    yield
    if is_main_process():
        barrier()
