"""Run a classifier exported by minim (ONNX or TorchScript) from the file alone.

The file's description (:mod:`minim.cls.apis.export_format`) gives the class names and the
test pipeline, which minim's own pipeline code runs, so the exported model sees the pixels the
``.pth`` sees. ONNX files run through onnxruntime (the optional ``minim[onnx]`` extra).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any, Callable

import torch

from minim.cls.apis.export_format import METADATA_KEY, TORCHSCRIPT_SUFFIXES, loads, quiet_jit
from minim.cls.engine.device import resolve_device
from minim.errors import ExportError

ONNX_HINT = "pip install 'minim[onnx]'"


def exported_kind(model: Any) -> str | None:
    """``'onnx'`` or ``'torchscript'`` for the path of an exported model file, else None (a config, a name)."""
    if not isinstance(model, (str, os.PathLike)):
        return None
    path = Path(model).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in TORCHSCRIPT_SUFFIXES and path.is_file() and _is_torchscript_archive(path):
        return "torchscript"
    return None


def _is_torchscript_archive(path: Path) -> bool:
    """A TorchScript archive holds ``<name>/code/`` and ``<name>/constants.pkl`` (a checkpoint neither)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.count("/") == 1 and name.endswith("/constants.pkl") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


class ExportedModel:
    """An exported classifier with its class names (``CLASSES``), description and preprocessing."""

    def __init__(self, path: Path, kind: str, description: dict, run: Callable[[Any], Any],
                 fixed_size: tuple[int, int] | None, *, dynamic_batch: bool, device: Any):
        from minim.cls.apis.inference import _Preprocessor  # lazy: cycle with minim.cls.apis.inference

        self.path, self.kind, self.description = path, kind, description
        self.CLASSES = list(description["classes"])
        self.preprocess = _Preprocessor(list(description["test_pipeline"]))
        #: whether it takes batches of any size (else one image at a time), and where its inputs go
        self.dynamic_batch, self.device = dynamic_batch, device
        self._run = run
        self._fixed_size = fixed_size

    def batch_scores(self, batch) -> Any:
        """Softmax scores (an ``N x classes`` float tensor on the CPU) of a preprocessed ``N x C x H x W`` batch
        (N must be 1 unless :attr:`dynamic_batch`)."""
        size = tuple(batch.shape[-2:])
        if self._fixed_size is not None and size != self._fixed_size:
            raise ExportError(f"{self.path.name} takes {self._fixed_size[0]}x{self._fixed_size[1]} images but the "
                              f"test pipeline made this one {size[0]}x{size[1]}",
                              hint="export again with --dynamic-export, or a --shape matching the pipeline")
        return torch.as_tensor(self._run(batch.float())).float().cpu()

    def __repr__(self) -> str:
        return f"ExportedModel({str(self.path)!r}, kind={self.kind!r}, classes={len(self.CLASSES)})"


def load_exported(path: str | os.PathLike, device: Any = "cpu") -> ExportedModel:
    """The exported model at ``path`` (``.onnx``, or TorchScript ``.pt``) ready for ``inference_model``."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ExportError(f"exported model {file} does not exist")
    kind = exported_kind(file)
    if kind == "onnx":
        return _load_onnx(file, device)
    if kind == "torchscript":
        return _load_torchscript(file, device)
    raise ExportError(f"{file} is neither an ONNX file nor a TorchScript archive")


def _load_onnx(path: Path, device: Any) -> ExportedModel:
    try:
        import onnxruntime  # lazy: optional package (minim[onnx])
    except ImportError:
        raise ExportError(f"running {path.name} needs onnxruntime, which is not installed", hint=ONNX_HINT) from None
    providers = ["CPUExecutionProvider"]
    if str(device or "").startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = onnxruntime.InferenceSession(os.fspath(path), providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ExportError(f"onnxruntime cannot load {path}: {str(exc).strip().splitlines()[0][:300]}") from None
    description = loads(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY), str(path))
    graph_input = session.get_inputs()[0]
    output_name = description["output"]["name"]
    height, width = graph_input.shape[2:4]
    fixed = (height, width) if isinstance(height, int) and isinstance(width, int) else None

    def run(batch):
        return session.run([output_name], {graph_input.name: batch.numpy()})[0]

    return ExportedModel(path, "onnx", description, run, fixed, dynamic_batch=not isinstance(graph_input.shape[0], int),
                         device=torch.device("cpu"))


def _load_torchscript(path: Path, device: Any) -> ExportedModel:
    target = device if isinstance(device, torch.device) else resolve_device(device)
    extra = {METADATA_KEY: ""}
    with quiet_jit():
        try:
            module = torch.jit.load(os.fspath(path), map_location=target, _extra_files=extra)
        except RuntimeError as exc:
            raise ExportError(f"torch cannot load {path}: {str(exc).strip().splitlines()[0][:300]}") from None
    description = loads(extra[METADATA_KEY], str(path))

    def run(batch):
        with torch.inference_mode():
            return module(batch.to(target))

    # traced with a batch of 1 and checked on batches of 1 and 3 (see minim.cls.analysis.torchscript_export)
    return ExportedModel(path, "torchscript", description, run, None,
                         dynamic_batch=bool(description["input"].get("dynamic_batch", False)), device=target)
