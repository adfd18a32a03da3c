"""Deterministic weights for a state dict, from each tensor's key and shape alone.

The small mmcls fixtures store no weights: ``scripts/check_mmcls_parity.py --record-small`` loads
these weights into the real mmcls model and records its logits; the tests build the same weights
from the recorded key names and shapes and load them into minim.  Every tensor gets distinct,
non-trivial values (BN gammas near 1, running variances in [0.5, 1.5], layer scales near 1), so
a wrong key mapping cannot hide.  Imports only torch: the mmcls side venv loads this file too.
"""

from __future__ import annotations

import math
import zlib
from typing import Mapping

import torch


def synthetic_tensor(key: str, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """The weights of ``key``: a function of the key, the shape and ``seed`` only."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
    name = key.rsplit(".", 1)[-1]
    if name == "running_var":
        return torch.rand(shape, generator=generator) + 0.5
    noise = torch.randn(shape, generator=generator)
    if len(shape) >= 2:
        return noise / math.sqrt(max(1, math.prod(shape[1:])))
    if name in ("weight", "gamma") or "scale" in name:
        return 1.0 + 0.1 * noise
    return 0.1 * noise


def synthetic_state(shapes: Mapping[str, tuple[int, ...]], integers: Mapping[str, torch.Tensor],
                    seed: int = 0) -> dict[str, torch.Tensor]:
    """A whole state dict: synthetic floating-point tensors of ``shapes`` plus the integer buffers as given."""
    state = {key: synthetic_tensor(key, tuple(shape), seed) for key, shape in shapes.items()}
    state.update({key: value.clone() for key, value in integers.items()})
    return state
