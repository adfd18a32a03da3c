"""Parameters and FLOPs of a classifier, counted with torch's own flop counter.

``torch.utils.flop_counter.FlopCounterMode`` counts the floating-point operations of matrix
products and convolutions (a multiply-add is 2 FLOPs; biases, norms, activations and pooling are
not counted). mmcv's counter, which mmcls's ``get_flops.py`` used, reported multiply-accumulates
(MACs = FLOPs / 2) under the name "Flops", as torchvision's weight tables do; minim's model index
stores that MAC figure in ``flops_g``. The whole forward pass is counted, classifier head included
(mmcls stopped before the head's final layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from minim.cls.models import build_classifier
from minim.errors import BuildError, ConfigError, UsageError
from minim.index.configs import load_config_arg


@dataclass
class Complexity:
    """What one forward pass of one image costs."""

    input_shape: tuple[int, ...]  # (C, H, W)
    flops: int
    params: int
    by_operator: dict[str, int]

    @property
    def macs(self) -> float:
        """Multiply-accumulates (mmcv's "Flops", torchvision's "GFLOPS" tables): FLOPs / 2."""
        return self.flops / 2


def input_shape(shape: Sequence[int] | None, channels: int = 3) -> tuple[int, int, int]:
    """``(C, H, W)`` from mmcls's ``--shape``: ``[S]`` -> S x S, ``[H, W]``; default 224 x 224."""
    values = list(shape or (224,))
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or any(not isinstance(v, int) or v <= 0 for v in values):
        raise UsageError(f"--shape {' '.join(map(str, shape or ()))}: give one size or HEIGHT WIDTH (positive integers)")
    return (channels, values[0], values[1])


def count_complexity(model, shape: tuple[int, ...]) -> Complexity:
    """FLOPs and parameters of ``model`` on one ``shape`` (C, H, W) input (eval mode, no gradient)."""
    was_training = model.training
    model.eval()
    try:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        image = torch.zeros((1, *shape), device=device)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(image)
    except (RuntimeError, ValueError, AssertionError) as exc:  # shape checks of the model's own code
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise BuildError(f"the model cannot run on a 1x{'x'.join(map(str, shape))} input: {first}",
                         hint="pass the input size the model expects with --shape, e.g. --shape 224") from exc
    finally:
        model.train(was_training)
    by_operator = {str(op).replace("aten.", ""): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    params = sum(p.numel() for p in model.parameters())
    return Complexity(input_shape=tuple(shape), flops=int(counter.get_total_flops()), params=int(params),
                      by_operator=by_operator)


def config_complexity(config: Any, shape: Sequence[int] | None = None, cfg_options: Sequence[str] = ()) -> Complexity:
    """:func:`count_complexity` of the classifier a config (file or index name) describes, random weights."""
    cfg = load_config_arg("cls", config, list(cfg_options))
    if "model" not in cfg:
        raise ConfigError(f"{getattr(cfg, 'filename', None) or config}: config has no 'model'")
    model = build_classifier(cfg.model)
    return count_complexity(model, input_shape(shape))


def format_count(value: float, unit: str) -> str:
    """``1.8e9, 'FLOPs'`` -> ``'1.8 GFLOPs'`` (G, M or K, 3 significant decimals)."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {prefix}{unit}"
    return f"{value:.0f} {unit}"
