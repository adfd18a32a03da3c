"""Explain a BatchNorm failure on a one-image batch by finding the layer, not by reading torch's message.

A BatchNorm layer in training mode needs more than one value per channel (``N * H * W > 1``). When a
forward pass fails with ``ValueError``, :func:`one_value_batchnorm` re-runs it with forward pre-hooks on
every training BatchNorm layer and returns the first layer that receives one value per channel, if any.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class _OneValuePerChannel(Exception):
    def __init__(self, layer: str):
        super().__init__(layer)
        self.layer = layer


def _guard(name: str):
    def check(module: nn.Module, inputs: tuple) -> None:
        x = inputs[0]
        if module.training and x.dim() >= 2 and x.numel() // x.shape[1] <= 1:
            raise _OneValuePerChannel(name)
    return check


def one_value_batchnorm(model: nn.Module, forward: Callable[[], object]) -> str | None:
    """The name of the first training BatchNorm layer in ``model`` that ``forward()`` feeds one value per
    channel, or None. ``forward`` is run once without gradients (running statistics may move; call this
    only to explain a failure)."""
    handles = [module.register_forward_pre_hook(_guard(name)) for name, module in model.named_modules()
               if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    try:
        with torch.no_grad():
            forward()
    except _OneValuePerChannel as found:
        return found.layer
    except Exception:  # noqa: BLE001 - another failure: not this one to explain
        return None
    finally:
        for handle in handles:
            handle.remove()
    return None
