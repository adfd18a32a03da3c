"""Export a classifier to TorchScript (softmax scores out) with its description as an extra file.

The traced module takes ``N x 3 x H x W`` normalised images and returns ``N x num_classes`` softmax
scores, like the ONNX export; ``torch.jit.load(path, _extra_files={METADATA_KEY: ''})`` reads the
description (see :mod:`minim.cls.apis.export_format`). torch marks TorchScript as deprecated in
favour of ``torch.export``; it still loads in plain PyTorch and LibTorch (C++) without minim.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

from minim.atomic import atomic_output
from minim.cls.apis.export_format import METADATA_KEY, TORCHSCRIPT_SUFFIXES, dumps, quiet_jit
from minim.cls.models.classifier import SoftmaxScores
from minim.errors import ExportError, UsageError


def export_torchscript(classifier, output_file: str | os.PathLike, shape: Sequence[int] = (3, 224, 224), *,
                       description: dict | None = None) -> Path:
    """Trace ``classifier``'s softmax scores on a ``1 x shape`` input and save them to ``output_file``
    (atomically) with ``description`` as the extra file ``METADATA_KEY``."""
    path = Path(output_file)
    if path.suffix.lower() not in TORCHSCRIPT_SUFFIXES:
        raise UsageError(f"--output-file {path.name}: the file name must end with {', '.join(TORCHSCRIPT_SUFFIXES)}")
    module = SoftmaxScores(classifier).eval()
    device = next(classifier.parameters()).device
    example = torch.randn((1, *shape), device=device)
    extra = {METADATA_KEY: dumps(description)} if description is not None else {}
    with atomic_output(path) as tmp, quiet_jit(), torch.no_grad():
        try:
            traced = torch.jit.trace(module, (example,), check_trace=False)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ExportError(f"TorchScript tracing failed: {str(exc).strip().splitlines()[0][:300]}") from exc
        torch.jit.save(traced, str(tmp), _extra_files=extra)
    return path


def verify_torchscript(classifier, path: str | os.PathLike, shape: Sequence[int] = (3, 224, 224), *,
                       rtol: float = 1e-4, atol: float = 1e-6) -> float:
    """The largest score difference between the saved module and ``classifier`` on random batches of 1 and 3
    (an :class:`ExportError` beyond the tolerance)."""
    module = SoftmaxScores(classifier).eval()
    device = next(classifier.parameters()).device
    with quiet_jit():
        loaded = torch.jit.load(os.fspath(path), map_location=device)
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    for batch in (1, 3):
        image = torch.randn((batch, *shape), generator=generator).to(device)
        with torch.no_grad():
            expected, actual = module(image), loaded(image)
        worst = max(worst, float((expected - actual).abs().max()))
        if not torch.allclose(actual, expected, rtol=rtol, atol=atol):
            raise ExportError(f"TorchScript scores differ from PyTorch's by up to {worst:.3g} on batch {batch}")
    return worst
