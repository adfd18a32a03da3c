"""Necks between backbone and head."""

from __future__ import annotations

import torch
from torch import nn

from minim.cls.models.registry import NECKS


def _pool(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 2:
        return x
    if x.dim() in (3, 4, 5):
        return x.flatten(2).mean(dim=2)
    raise ValueError(f"GlobalAveragePooling expects (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs, "
                     f"got shape {tuple(x.shape)}")


@NECKS.register()
class GlobalAveragePooling(nn.Module):
    """mmcls ``GlobalAveragePooling``: averages feature maps to ``(N, C)``; ``(N, C)`` passes through.

    ``dim`` is accepted for mmcls compatibility (1, 2 or 3); pooling always averages over
    every spatial axis.
    """

    def __init__(self, dim: int = 2):
        super().__init__()
        if dim not in (1, 2, 3):
            raise ValueError(f"GlobalAveragePooling: dim must be 1, 2 or 3, got {dim!r}")
        self.dim = dim

    def forward(self, x):
        if isinstance(x, (tuple, list)):
            return tuple(_pool(item) for item in x)
        return _pool(x)
