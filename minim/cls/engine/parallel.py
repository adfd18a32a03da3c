"""DistributedDataParallel for the engine's classifiers, and ``SyncBatchNorm`` on request.

DDP synchronises gradients only through its own ``forward``; the classifiers train through
``forward_train``, so :class:`TrainForward` exposes that as ``forward`` and DDP wraps it. The
runner keeps the plain model for evaluation and checkpoints (no ``module.`` prefix in files).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel


class TrainForward(nn.Module):
    """``forward(img, gt_label)`` = ``model.forward_train(img, gt_label)`` (the loss dict)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, img: torch.Tensor, gt_label: torch.Tensor) -> dict[str, Any]:
        return self.model.forward_train(img, gt_label)


def wrap_ddp(model: nn.Module, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
    """A DDP module whose forward trains ``model`` (``device_ids`` on CUDA, none on the CPU).

    Building it broadcasts rank 0's parameters and buffers, so every replica starts equal.
    """
    device_ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else None
    return DistributedDataParallel(TrainForward(model), device_ids=device_ids,
                                   find_unused_parameters=bool(find_unused_parameters))


def convert_sync_bn(model: nn.Module, device: torch.device) -> tuple[nn.Module, str]:
    """``model`` with its BatchNorm layers turned into ``SyncBatchNorm`` (CUDA only) and a log line."""
    if device.type != "cuda":
        return model, ("sync_bn: SyncBatchNorm needs CUDA in this torch version; BatchNorm statistics stay "
                       "per process on the CPU")
    count = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    return nn.SyncBatchNorm.convert_sync_batchnorm(model), f"sync_bn: {count} BatchNorm layer(s) -> SyncBatchNorm"
