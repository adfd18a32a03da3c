"""Export a classifier to ONNX (softmax scores out) and check the file against PyTorch.

The graph takes ``input`` (N x 3 x H x W, normalised as the test pipeline does) and returns ``probs``
(N x num_classes softmax scores), as mmcls's ``pytorch2onnx.py`` did. ``exporter='auto'`` uses torch's
``torch.export``-based exporter when ``onnxscript`` is installed and the TorchScript-based one otherwise.
Verification runs the file with onnxruntime (the optional ``minim[onnx]`` extra). The file can carry
its own description (class names, preprocessing; :mod:`minim.cls.apis.export_format`) in its
``metadata_props``, which ``minim infer cls model.onnx`` reads.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from minim.atomic import atomic_output
from minim.cls.apis.export_format import METADATA_KEY, dumps
from minim.cls.apis.inference import init_model
from minim.cls.models.classifier import SoftmaxScores
from minim.cls.plan.config import load_cls_config, weights_path
from minim.errors import BuildError, OnnxError, UsageError

INPUT_NAME = "input"
OUTPUT_NAME = "probs"
EXPORTERS = ("auto", "dynamo", "legacy")
#: the opset used when none is asked for (the dynamo exporter needs >= 18)
DEFAULT_OPSET = {"legacy": 17, "dynamo": 18}
ORT_HINT = "pip install onnxruntime (or pip install 'minim[onnx]')"


@dataclass
class Verification:
    """How the ONNX model's scores compare with PyTorch's."""

    max_abs_diff: float
    shapes: list[tuple[int, ...]]
    onnxruntime_version: str


def pick_exporter(exporter: str, opset_version: int | None = None) -> str:
    """``'dynamo'`` or ``'legacy'`` for the ``--exporter`` choice (auto: dynamo when onnxscript is installed
    and the opset is at least 18, which is all it writes)."""
    if exporter not in EXPORTERS:
        raise UsageError(f"exporter {exporter!r}: choose one of {', '.join(EXPORTERS)}")
    has_onnxscript = importlib.util.find_spec("onnxscript") is not None
    if exporter == "auto":
        new_enough = opset_version is None or opset_version >= DEFAULT_OPSET["dynamo"]
        return "dynamo" if has_onnxscript and new_enough else "legacy"
    if exporter == "dynamo" and not has_onnxscript:
        raise OnnxError("the dynamo exporter needs the onnxscript package", hint="pip install onnxscript")
    return exporter


def export_onnx(classifier, output_file: str | os.PathLike, shape: Sequence[int] = (3, 224, 224), *,
                opset_version: int | None = None, dynamic: bool = False, exporter: str = "auto",
                description: dict | None = None) -> tuple[Path, str, int]:
    """Write ``classifier``'s softmax-score graph to ``output_file`` atomically; returns (path, exporter, opset).

    ``dynamic`` makes the batch size (and, with the legacy exporter, height and width) dynamic.
    ``description`` (see :mod:`minim.cls.apis.export_format`) is stored in the file's
    ``metadata_props``, which needs the ``onnx`` package. The file is checked with ``onnx.checker``
    when the ``onnx`` package is installed.
    """
    path = Path(output_file)
    if path.suffix.lower() != ".onnx":
        raise UsageError(f"--output-file {path.name}: the file name must end with .onnx")
    kind = pick_exporter(exporter, opset_version)
    opset = opset_version or DEFAULT_OPSET[kind]
    module = SoftmaxScores(classifier).eval()
    device = next(classifier.parameters()).device
    example = torch.randn((1, *shape), device=device)
    with atomic_output(path) as tmp, _quiet_exporter():
        try:
            if kind == "legacy":
                axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, OUTPUT_NAME: {0: "batch"}} if dynamic else None
                torch.onnx.export(module, (example,), str(tmp), dynamo=False, input_names=[INPUT_NAME],
                                  output_names=[OUTPUT_NAME], opset_version=opset, dynamic_axes=axes,
                                  do_constant_folding=True)
            else:
                shapes = {INPUT_NAME: {0: torch.export.Dim("batch", min=1)}} if dynamic else None
                torch.onnx.export(module, (example,), str(tmp), dynamo=True, input_names=[INPUT_NAME],
                                  output_names=[OUTPUT_NAME], opset_version=opset, dynamic_shapes=shapes,
                                  external_data=False)
        except (RuntimeError, ValueError, TypeError, torch.onnx.errors.OnnxExporterError) as exc:
            raise OnnxError(f"ONNX export ({kind} exporter, opset {opset}) failed: {_first_line(exc)}",
                            hint="try another --opset-version or --exporter") from exc
        if description is not None:
            write_description(tmp, description)
        check_onnx_file(tmp)
        written = file_opset(tmp)
        if written is not None and written != opset:
            raise OnnxError(f"the {kind} exporter wrote opset {written}, not {opset}",
                            hint="use --exporter legacy for opsets below 18" if kind == "dynamo" else None)
    return path, kind, opset


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporters' deprecation / tracer / version-conversion chatter (real errors still raise)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), _stdout_fd_silenced():
                yield
    finally:
        logging.disable(previous)


@contextlib.contextmanager
def _stdout_fd_silenced():
    """File descriptor 1 to /dev/null: what torch's C++ prints there (the IR graph of a failed export)."""
    try:
        saved = os.dup(1)
    except OSError:  # no descriptor 1 (an embedded interpreter)
        yield
        return
    if sys.__stdout__ is not None:
        sys.__stdout__.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def write_description(path: str | os.PathLike, description: dict) -> None:
    """Store ``description`` as JSON under ``metadata_props[METADATA_KEY]`` of the ONNX file at ``path``."""
    try:
        import onnx  # lazy: optional package (minim[onnx])
    except ImportError:
        raise OnnxError("writing the model's description into the ONNX file needs the onnx package",
                        hint="pip install 'minim[onnx]'") from None
    model = onnx.load(os.fspath(path))
    props = {prop.key: prop.value for prop in model.metadata_props}
    onnx.helper.set_model_props(model, {**props, METADATA_KEY: dumps(description)})
    onnx.save(model, os.fspath(path))


def check_onnx_file(path: str | os.PathLike) -> bool:
    """Run ``onnx.checker`` on the file; False when the ``onnx`` package is not installed."""
    try:
        import onnx  # lazy: optional package (minim[onnx])
    except ImportError:
        return False
    try:
        onnx.checker.check_model(os.fspath(path), full_check=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises several types
        raise OnnxError(f"the exported model does not pass onnx.checker: {_first_line(exc)}") from exc
    return True


def file_opset(path: str | os.PathLike) -> int | None:
    """The default-domain opset of an ONNX file (None without the ``onnx`` package)."""
    try:
        import onnx  # lazy: optional package (minim[onnx])
    except ImportError:
        return None
    model = onnx.load(os.fspath(path), load_external_data=False)
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401  # lazy: optional package (minim[onnx])
    except ImportError:
        return False
    return True


def verify_onnx(classifier, onnx_file: str | os.PathLike, shape: Sequence[int] = (3, 224, 224), *,
                dynamic: bool = False, rtol: float = 1e-3, atol: float = 1e-5) -> Verification:
    """Compare onnxruntime's scores with PyTorch's on random inputs (batch 1, and batch 3 when dynamic).

    Raises :class:`OnnxError` on a mismatch and when onnxruntime is missing.
    """
    try:
        import onnxruntime  # lazy: optional package (minim[onnx])
    except ImportError:
        raise OnnxError("verification needs onnxruntime, which is not installed", hint=ORT_HINT) from None
    session = onnxruntime.InferenceSession(os.fspath(onnx_file), providers=["CPUExecutionProvider"])
    module = SoftmaxScores(classifier).eval()
    device = next(classifier.parameters()).device
    generator = torch.Generator().manual_seed(0)
    batches = [1, 3] if dynamic else [1]
    worst, shapes = 0.0, []
    for batch in batches:
        image = torch.randn((batch, *shape), generator=generator)
        with torch.no_grad():
            expected = module(image.to(device)).float().cpu().numpy()
        if not np.isfinite(expected).all():
            raise OnnxError("PyTorch's own scores contain NaN or inf: the model's weights are broken")
        (actual,) = session.run([OUTPUT_NAME], {INPUT_NAME: image.numpy()})
        if actual.shape != expected.shape:
            raise OnnxError(f"ONNX output shape {actual.shape} differs from PyTorch's {expected.shape}")
        diff = float(np.max(np.abs(actual - expected)))
        worst = max(worst, diff)
        shapes.append(tuple(image.shape))
        if not np.allclose(actual, expected, rtol=rtol, atol=atol):
            raise OnnxError(f"ONNX scores differ from PyTorch's by up to {diff:.3g} on input {tuple(image.shape)}",
                            hint="try another --opset-version or --exporter")
    return Verification(max_abs_diff=worst, shapes=shapes, onnxruntime_version=onnxruntime.__version__)


def load_classifier(config: Any, checkpoint: str | None, cfg_options: Sequence[str] = (), device: str = "cpu"):
    """``(model, checkpoint path or None)``: CONFIG's classifier with ``checkpoint`` (or the index entry's
    weights) loaded, in eval mode. Without any weights the model keeps random weights (a warning)."""
    cfg, entry = load_cls_config(config, list(cfg_options))
    if "model" not in cfg:
        raise BuildError(f"{getattr(cfg, 'filename', None) or config}: config has no 'model'")
    path = weights_path(checkpoint, entry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # class names do not matter for the graph
        model = init_model(cfg, path, device=device, strict=True)
    return model, path
