"""Distributed helpers that also work, trivially, in a single process.

Only rank 0 logs, writes checkpoints and prints summaries; the helpers return
rank 0 / world size 1 whenever ``torch.distributed`` is not initialised, so the
single-process engine never has to special-case them.
"""

from __future__ import annotations

from typing import Any


def _initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's rank (0 when not distributed)."""
    if not _initialized():
        return 0
    import torch.distributed as dist

    return dist.get_rank()


def get_world_size() -> int:
    """Number of processes (1 when not distributed)."""
    if not _initialized():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


def is_main_process() -> bool:
    """True on rank 0: the process that logs and saves."""
    return get_rank() == 0


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if _initialized():
        import torch.distributed as dist

        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (``[obj]`` when not distributed)."""
    if not _initialized():
        return [obj]
    import torch.distributed as dist

    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (``obj`` itself when not distributed)."""
    if not _initialized():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
