"""Read, convert, load and save classifier checkpoints.

Reads (always with ``torch.load(..., weights_only=True)``: a checkpoint cannot run code):

- torchvision / timm checkpoints: plain state dicts (``conv1.weight``, ..., ``fc.weight``);
- minim checkpoints: ``{'state_dict', 'meta', 'optimizer', 'scheduler'}``;
- mmcls 0.x checkpoints: ``{'state_dict', 'meta': {'CLASSES', ...}}`` with ``backbone.`` /
  ``head.`` keys (mmcls MobileNetV2 keys are mapped onto torchvision's layout);
- mmpretrain 1.x checkpoints (class names in ``meta['dataset_meta']['classes']``);
- ``.safetensors`` files of any of these layouts (no pickle at all): the tensors, and the meta that
  minim writes as JSON under the metadata key ``minim.meta`` (:func:`save_safetensors`).

The layout is detected from the keys: ``backbone.*`` keys mean a classifier checkpoint,
anything else a plain one that the model's backbone maps onto its own keys (its dropped
classification layers go to the head).  Loading is strict, except that head tensors whose
shape differs (fine-tuning 1000 classes -> 10) are skipped with one warning.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import pickle
import re
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import safetensors.torch
import torch
import torchvision.models
from safetensors import SafetensorError, safe_open
from torch import nn

import minim
from minim.atomic import atomic_output
from minim.errors import CheckpointError, caused_by_interrupt
from minim.filekinds import not_a_regular_file
from minim.net.download import fetch_cached

_DEFAULT_REVISE_KEYS = ((r"^module\.", ""),)
_UNSUPPORTED_SCHEMES = ("open-mmlab://", "mmcls://", "openmmlab://", "modelzoo://", "pavi://", "s3://")
_SHOWN_KEYS = 8
SAFETENSORS_SUFFIX = ".safetensors"
#: the safetensors metadata key holding a checkpoint's meta (class names, config text, ...) as JSON
SAFETENSORS_META_KEY = "minim.meta"
#: meta entries a safetensors file leaves out (a resumed training run's random state)
_UNSAVED_META = ("rng_state",)


# ----------------------------------------------------------------------------- reading
def resolve_checkpoint(filename_or_url: str | os.PathLike) -> Path:
    """The local path of a checkpoint: a file, an http(s) URL (downloaded into the shared cache) or
    ``torchvision://<arch or weights name>`` (torchvision's published weights, as mmcv spelled it)."""
    name = os.fspath(filename_or_url)
    if name.startswith("torchvision://"):
        name = torchvision_weights_url(name[len("torchvision://"):])
    if name.startswith(("http://", "https://")):
        return Path(fetch_cached(name))
    if name.startswith(_UNSUPPORTED_SCHEMES):
        scheme = name.split("://", 1)[0]
        raise CheckpointError(f"checkpoint {name}: the {scheme}:// scheme is not supported",
                              hint="use a local file, an http(s) URL or torchvision://<arch>")
    path = Path(name).expanduser()
    problem = not_a_regular_file(path)
    if problem:
        raise CheckpointError(f"checkpoint {name} {problem}")
    return path


class SkippedTensorsWarning(UserWarning):
    """Checkpoint tensors left out because their shape differs from the model's (a head with another class
    count); ``shapes`` names them with both shapes."""

    def __init__(self, message: str, shapes: str):
        super().__init__(message)
        self.shapes = shapes


def torchvision_weights_url(name: str) -> str:
    """URL of torchvision weights named ``resnet50`` (IMAGENET1K_V1, as mmcv's table) or
    ``ResNet50_Weights.IMAGENET1K_V2``."""
    try:
        if "." in name:
            return torchvision.models.get_weight(name).url
        enum = torchvision.models.get_model_weights(name)
    except (ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"torchvision://{name}: torchvision has no weights of that name",
                              hint="use an arch name such as resnet50 or a weights name such as "
                                   "ResNet50_Weights.IMAGENET1K_V2") from exc
    member = enum.__members__.get("IMAGENET1K_V1") or enum.DEFAULT
    return member.url


def read_checkpoint(filename_or_url: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """``torch.load`` a checkpoint with ``weights_only=True`` (a ``.safetensors`` file with safetensors);
    any failure is a :class:`CheckpointError`."""
    path = resolve_checkpoint(filename_or_url)
    if is_safetensors(path):
        return _read_safetensors(path, map_location)
    _check_format(path)
    try:
        with warnings.catch_warnings():  # torch's "please file an issue" about pickle protocols
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        refused = isinstance(exc, pickle.UnpicklingError)  # the weights-only unpickler met a non-tensor object
        obj = _load_training_state(path, map_location) if refused else None
        if obj is None:
            raise CheckpointError(f"cannot read checkpoint {path}: {_first_line(exc)}", hint=_read_hint(exc)) from exc
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} is not a checkpoint: it holds a {type(obj).__name__}, not a dict of tensors")
    return dict(obj)


def is_safetensors(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a safetensors file (by its suffix)."""
    return os.fspath(path).lower().endswith(SAFETENSORS_SUFFIX)


def _read_safetensors(path: Path, map_location: Any) -> dict:
    """``{'state_dict', 'meta'}`` when the file holds minim's meta, else its plain tensors."""
    try:
        with safe_open(os.fspath(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read safetensors file {path}: {_first_line(exc)}",
                              hint="the file is truncated or not a safetensors file; download it again") from exc
    if map_location not in (None, "cpu") and not callable(map_location):
        tensors = {key: value.to(map_location) for key, value in tensors.items()}
    if SAFETENSORS_META_KEY not in metadata:
        return tensors
    try:
        meta = json.loads(metadata[SAFETENSORS_META_KEY])
    except ValueError as exc:
        raise CheckpointError(f"{path}: its {SAFETENSORS_META_KEY!r} metadata is not JSON ({exc})") from exc
    return {"state_dict": tensors, "meta": meta}


class _TrainingState:
    """Stands in for an mmengine object (a ``message_hub``'s ``HistoryBuffer``) in a checkpoint: its
    state is kept as data, and no mmengine code runs."""

    def __setstate__(self, state) -> None:
        self.state = state


def _numpy_data_global(name: str) -> bool:
    """numpy names a training-state checkpoint may need besides mmengine's: arrays, dtypes, scalars (data)."""
    module, _, attribute = name.rpartition(".")
    return (name in ("numpy.ndarray", "numpy.dtype")
            or module in ("numpy.core.multiarray", "numpy._core.multiarray") and attribute in ("_reconstruct", "scalar")
            or module == "numpy.dtypes" and attribute.endswith("DType"))


def _load_training_state(path, map_location: Any) -> Any:
    """The checkpoint read with mmengine's training-state objects as inert data, or None when it needs
    anything else (or still fails)."""
    stand_ins = _training_state_globals(path)
    if not stand_ins:
        return None
    try:
        with torch.serialization.safe_globals(stand_ins):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # noqa: BLE001 - the caller reports the first, more telling error
        return None


def _training_state_globals(path) -> list | None:
    """What ``safe_globals`` needs to read an mmengine/mmpretrain training checkpoint (``epoch_N.pth``),
    whose ``message_hub`` holds mmengine objects and numpy arrays; None when the file needs anything else."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - not a zip checkpoint, or unreadable: keep the first error
        return None
    found = []
    for name in names:
        module, _, attribute = name.rpartition(".")
        if name.startswith("mmengine."):
            found.append((_TrainingState, name))
        elif _numpy_data_global(name):
            try:
                found.append(getattr(importlib.import_module(module), attribute))
            except (ImportError, AttributeError):
                return None
        else:
            return None
    if any(not isinstance(item, tuple) for item in found):  # numpy arrays: their dtypes are built too
        found += [getattr(np.dtypes, n) for n in dir(getattr(np, "dtypes", None)) if n.endswith("DType")]
    return found or None


def _check_format(path) -> None:
    """A checkpoint is a zip archive (torch.save) or a pickle (the legacy format); say so for anything else."""
    if not os.path.isfile(path):
        return  # torch.load's own error names what is wrong
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise CheckpointError(f"{path} is empty", hint="download or write it again")
    if not (head.startswith(b"PK\x03\x04") or head[0] == 0x80):
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (neither a zip archive nor a pickle)",
                              hint="give the .pth file that training, publish_model or a download wrote")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    marker = "WeightsUnpickler error:"
    if marker in text:  # torch's "Please file an issue ..." preamble is not for minim's users
        detail = next((line.strip() for line in text.split(marker, 1)[1].splitlines() if line.strip()), "")
        return f"the weights-only unpickler refused it ({detail[:200] or 'unsupported content'})"
    for line in text.splitlines():
        if "unsupported global" in line.lower():
            return line.strip()[:300]
    for line in text.splitlines():
        line = line.strip()
        if line and not line.lower().startswith(("weights only load failed", "(1) in pytorch 2.6")):
            return line[:300]
    return text.splitlines()[0][:300]


def _read_hint(exc: Exception) -> str:
    if isinstance(exc, pickle.UnpicklingError):
        return ("the file holds Python objects besides tensors, or is a plain pickle that torch.save did not "
                "write; minim only loads weights-only checkpoints")
    return "the file is truncated, corrupt or not a PyTorch checkpoint; download it again"


def split_checkpoint(checkpoint: Mapping[str, Any], source: str = "checkpoint") -> tuple[dict, dict]:
    """``(state_dict, meta)`` of a loaded checkpoint of any supported layout.

    ``meta`` is ``{}`` for plain state dicts; mmpretrain's ``dataset_meta['classes']`` is
    copied to ``meta['CLASSES']``.
    """
    meta: dict = {}
    if isinstance(checkpoint.get("state_dict"), Mapping):
        state_dict = checkpoint["state_dict"]
        meta = dict(checkpoint.get("meta") or {})
    elif isinstance(checkpoint.get("model"), Mapping) and _is_state_dict(checkpoint["model"]):
        state_dict = checkpoint["model"]
        meta = dict(checkpoint.get("meta") or {})
    elif _is_state_dict(checkpoint):
        state_dict = checkpoint
    else:
        keys = ", ".join(map(str, list(checkpoint)[:_SHOWN_KEYS]))
        raise CheckpointError(f"{source} has no state_dict (top-level keys: {keys})")
    dataset_meta = meta.get("dataset_meta")
    if "CLASSES" not in meta and isinstance(dataset_meta, Mapping) and dataset_meta.get("classes") is not None:
        meta["CLASSES"] = list(dataset_meta["classes"])
    tensors = {str(k): v for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{source} has an empty state_dict")
    return tensors, meta


def _is_state_dict(obj: Mapping) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def revise_state_dict_keys(state_dict: Mapping[str, torch.Tensor],
                           revise_keys: Sequence[tuple[str, str]] | None = None) -> dict:
    """Apply ``(regex, replacement)`` pairs to every key (default: strip a leading ``module.``)."""
    rules = _DEFAULT_REVISE_KEYS if revise_keys is None else revise_keys
    revised = {}
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    return revised


# ----------------------------------------------------------------------------- layout conversion
def _is_classifier(model: nn.Module) -> bool:
    return hasattr(model, "backbone") and hasattr(model, "head") and hasattr(model.head, "linear_layer_paths")


def convert_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> dict:
    """Map a checkpoint's keys onto ``model``'s own keys (see the module docstring)."""
    if not _is_classifier(model):
        return dict(state_dict)
    if any(key.startswith("backbone.") for key in state_dict):
        return _convert_classifier_layout(model, state_dict)
    return _convert_plain(model, state_dict, source)


def _convert_classifier_layout(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> dict:
    """Each part (backbone, neck, head) converts its own tensors with its ``convert_mmcls_state``."""
    parts: dict[str, dict[str, torch.Tensor]] = {}
    converted = {}
    for key, value in state_dict.items():
        part, dot, rest = key.partition(".")
        if dot and part in ("backbone", "neck", "head") and getattr(model, part, None) is not None:
            parts.setdefault(part, {})[rest] = value
        else:
            converted[key] = value
    for part, tensors in parts.items():
        convert = getattr(getattr(model, part), "convert_mmcls_state", None)
        own = convert(tensors) if convert is not None else tensors
        converted.update({f"{part}.{key}": value for key, value in own.items()})
    return converted


def _convert_plain(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> dict:
    backbone, head = model.backbone, model.head
    sources = _plain_head_layers(backbone, state_dict)
    targets = head.linear_layer_paths()
    present = [path for path in sources if any(key.startswith(path + ".") for key in state_dict)]
    if present and len(sources) != len(targets):
        raise CheckpointError(
            f"{source}: its classifier has {len(sources)} linear layer(s) ({', '.join(sources)}) but head "
            f"{type(head).__name__} has {len(targets)} ({', '.join(targets) or 'none'})",
            hint=_head_hint(backbone))
    plain_to_own = getattr(backbone, "plain_key_to_own", lambda k: k)
    converted, own_state = {}, {}
    for key, value in state_dict.items():
        for src, dst in zip(sources, targets):
            if key.startswith(src + "."):
                converted["head." + dst + key[len(src):]] = value
                break
        else:
            own = plain_to_own(key)
            if own is not None:
                own_state[own] = value
    convert_tensors = getattr(backbone, "convert_plain_state", None)  # layouts that differ by more than names
    if convert_tensors is not None:
        own_state = convert_tensors(own_state)
    converted.update({"backbone." + key: value for key, value in own_state.items()})
    return converted


def _plain_head_layers(backbone: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> tuple[str, ...]:
    """The backbone's ``head_layers``, or those of the plain layout (``plain_head_layers``) ``state_dict`` has."""
    for layers in getattr(backbone, "plain_head_layers", {}).values():
        if any(key.startswith(layers[0] + ".") for key in state_dict):
            return tuple(layers)
    return tuple(getattr(backbone, "head_layers", ()))


def _head_hint(backbone: nn.Module) -> str:
    if type(backbone).__name__ == "MobileNetV3":
        return "use head=dict(type='StackedLinearClsHead', mid_channels=[1024 or 1280], act_cfg=dict(type='HSwish'))"
    return "use the head that minim.cls.models.zoo.model_config_for_arch gives for this architecture"


# ----------------------------------------------------------------------------- loading
def load_checkpoint(model: nn.Module, filename_or_url: str | os.PathLike, map_location: Any = "cpu", *,
                    revise_keys: Sequence[tuple[str, str]] | None = None,
                    logger: logging.Logger | None = None, skip_mismatched_head: bool = True) -> dict:
    """Load a checkpoint (file, URL, ``torchvision://``) into ``model``; returns its meta (``{}`` if none).

    Strict: missing / unexpected keys and shape mismatches are a :class:`CheckpointError`,
    except head tensors whose shape differs (another class count), which are skipped with one
    warning unless ``skip_mismatched_head`` is False (evaluating a checkpoint: a fresh head is useless).
    """
    source = os.fspath(filename_or_url)
    checkpoint = read_checkpoint(source, map_location)
    state_dict, meta = split_checkpoint(checkpoint, source)
    state_dict = revise_state_dict_keys(state_dict, revise_keys)
    target = _unwrap(model)
    state_dict = without_raw_weights(state_dict, target)
    converted = convert_state_dict(target, state_dict, source)
    head = _tolerant_prefixes(target, "head.")
    _load_into(target, converted, source, logger, tolerant=head if skip_mismatched_head else (), head=head)
    return meta


def load_prefixed_checkpoint(model: nn.Module, filename_or_url: str | os.PathLike, prefix: str = "backbone",
                             map_location: Any = "cpu", *, revise_keys=None,
                             logger: logging.Logger | None = None) -> dict:
    """Load only the ``<prefix>.*`` tensors of a checkpoint into ``model.<prefix>`` (mmcv's
    ``init_cfg=dict(type='Pretrained', prefix='backbone')``); returns the checkpoint's meta."""
    source = os.fspath(filename_or_url)
    state_dict, meta = split_checkpoint(read_checkpoint(source, map_location), source)
    state_dict = revise_state_dict_keys(state_dict, revise_keys)
    target = _unwrap(model)
    converted = convert_state_dict(target, state_dict, source)
    start = prefix + "."
    part = {key[len(start):]: value for key, value in converted.items() if key.startswith(start)}
    if not part:
        raise CheckpointError(f"{source} has no tensors under {prefix!r}")
    submodule = target.get_submodule(prefix)
    tolerant = tuple(p[len(start):] for p in _tolerant_prefixes(target, "") if p.startswith(start))
    _load_into(submodule, part, source, logger, tolerant=tolerant, key_prefix=start)
    return meta


def without_raw_weights(state_dict: dict, model: nn.Module | None = None) -> dict:
    """``state_dict`` without the ``ema_*`` tensors of an EMAHook run (its raw training weights; the
    parameters hold the averaged ones), except those ``model`` has buffers for."""
    own = model.state_dict() if model is not None else {}
    return {k: v for k, v in state_dict.items() if not k.startswith("ema_") or k in own}


def _unwrap(model: nn.Module) -> nn.Module:
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) else model


def _tolerant_prefixes(model: nn.Module, head_prefix: str) -> tuple[str, ...]:
    prefixes = [head_prefix] if head_prefix else ["head."]
    backbone = getattr(model, "backbone", None)
    for key in getattr(backbone, "num_classes_keys", ()):
        prefixes.append("backbone." + key)
    return tuple(prefixes)


def _load_into(model: nn.Module, state_dict: dict, source: str, logger, *, tolerant: tuple[str, ...],
               key_prefix: str = "", head: tuple[str, ...] = ()) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [k for k in state_dict if k in own and state_dict[k].shape != own[k].shape]
    skipped = [k for k in mismatched if tolerant and k.startswith(tolerant)]
    fatal = [k for k in mismatched if k not in skipped]
    if missing or unexpected or fatal:
        hint = _mismatch_hint(missing, unexpected)
        if fatal and head and not missing and not unexpected and all(k.startswith(head) for k in fatal):
            hint = (f"the checkpoint's head has {state_dict[fatal[0]].shape[0]} classes and the model's "
                    f"{own[fatal[0]].shape[0]}: give the checkpoint your fine-tuning wrote, or the config it was "
                    "trained with")
        raise CheckpointError(_mismatch_message(source, model, missing, unexpected, fatal, state_dict, own,
                                                key_prefix), hint=hint)
    if skipped:
        shapes = ", ".join(f"{key_prefix}{k} (checkpoint {list(state_dict[k].shape)}, model {list(own[k].shape)})"
                           for k in skipped)
        message = (f"{source}: skipped tensors whose shape differs from the model (a different class count; "
                   f"these layers keep their fresh initialisation): {shapes}")
        if logger is not None:
            logger.warning(message)
        else:
            warnings.warn(SkippedTensorsWarning(message, shapes), stacklevel=3)
    loadable = {k: v for k, v in state_dict.items() if k not in skipped}
    model.load_state_dict(loadable, strict=False)


def _shown(keys: Iterable[str], prefix: str) -> str:
    keys = list(keys)
    text = ", ".join(prefix + k for k in keys[:_SHOWN_KEYS])
    if len(keys) > _SHOWN_KEYS:
        text += f", ... ({len(keys)} in all)"
    return text


def _mismatch_message(source, model, missing, unexpected, fatal, state_dict, own, prefix) -> str:
    parts = [f"checkpoint {source} does not fit {type(model).__name__}"]
    if missing:
        parts.append(f"missing keys: {_shown(missing, prefix)}")
    if unexpected:
        parts.append(f"unexpected keys: {_shown(unexpected, prefix)}")
    if fatal:
        shapes = [f"{k} (checkpoint {list(state_dict[k].shape)}, model {list(own[k].shape)})" for k in fatal]
        parts.append(f"shape mismatches: {_shown(shapes, prefix)}")
    return "; ".join(parts)


def _mismatch_hint(missing, unexpected) -> str:
    if missing and not unexpected and all(k.startswith("head.") for k in missing):
        return ("the checkpoint has no head weights; to load only the backbone use model.backbone.init_cfg="
                "dict(type='Pretrained', checkpoint=..., prefix='backbone')")
    return "check that the config's model (architecture, depth, head) matches the checkpoint"


# ----------------------------------------------------------------------------- saving
def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer=None, scheduler=None,
                    meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``{'state_dict', 'meta', 'optimizer', 'scheduler'}`` to ``path`` atomically.

    ``state_dict`` holds CPU tensors without a DDP ``module.`` prefix; ``meta`` gets
    ``CLASSES`` (from ``meta`` or ``model.CLASSES``), ``config`` (flattened text), ``epoch``,
    ``iter``, ``minim_version``, ``torch_version``, ``time`` and whatever ``meta`` holds.
    A ``path`` ending with ``.safetensors`` gets the weights and meta only (:func:`save_safetensors`).
    """
    target = _unwrap(model)
    full_meta = dict(meta or {})
    classes = full_meta.get("CLASSES", getattr(target, "CLASSES", None))
    full_meta["CLASSES"] = list(classes) if classes is not None else None
    config = full_meta.get("config", getattr(target, "cfg", None))
    full_meta["config"] = _config_text(config)
    full_meta.setdefault("epoch", 0)
    full_meta.setdefault("iter", 0)
    full_meta["minim_version"] = minim.__version__
    full_meta["torch_version"] = str(torch.__version__)
    full_meta.setdefault("time", time.strftime("%Y-%m-%d %H:%M:%S"))
    state_dict = {key: value.detach().cpu() for key, value in target.state_dict().items()}
    if is_safetensors(path):
        return save_safetensors(path, state_dict, full_meta)
    checkpoint: dict[str, Any] = {"state_dict": state_dict, "meta": _weights_only_safe(full_meta)}
    if optimizer is not None:
        checkpoint["optimizer"] = _weights_only_safe(_state_of(optimizer))
    if scheduler is not None:
        checkpoint["scheduler"] = _weights_only_safe(_state_of(scheduler))
    path = Path(path)
    try:
        with atomic_output(path) as tmp, open(tmp, "wb") as handle:  # the usual permissions, not mkstemp's 0600
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
    except (OSError, RuntimeError) as exc:
        if caused_by_interrupt(exc):  # torch turns Ctrl-C inside its zip writer into a RuntimeError
            raise KeyboardInterrupt from exc
        # torch's zip writer reports a short write as "[enforce fail at inline_container.cc] unexpected pos"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "the write was cut short"
        raise CheckpointError(f"cannot write checkpoint {path}: {reason}",
                              hint="is the disk full, or a file size limit set? any earlier file of that name is "
                                   "untouched") from exc
    return path


def save_safetensors(path: str | os.PathLike, state_dict: Mapping[str, torch.Tensor],
                     meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``state_dict`` (any layout) to a ``.safetensors`` file atomically, with ``meta`` (when given)
    as JSON under the metadata key ``minim.meta``; what JSON cannot hold (tensors) is left out."""
    path = Path(path)
    if not is_safetensors(path):
        raise CheckpointError(f"{path.name}: a safetensors file name must end with {SAFETENSORS_SUFFIX}")
    with atomic_output(path) as tmp:
        tmp.write_bytes(safetensors_bytes(state_dict, meta))
    return path


def safetensors_bytes(state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, Any] | None = None) -> bytes:
    """The bytes of a safetensors file of ``state_dict`` and ``meta`` (see :func:`save_safetensors`); the same
    tensors and meta always give the same bytes."""
    tensors = {str(k): v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}  # no shared storage
    # one metadata key: safetensors writes several in no fixed order, and the bytes must not change
    metadata = {"format": "pt"}
    if meta is not None:
        kept = {k: v for k, v in meta.items() if k not in _UNSAVED_META}
        metadata = {SAFETENSORS_META_KEY: json.dumps(_weights_only_safe(kept), default=_json_value)}
    return safetensors.torch.save(tensors, metadata=metadata)


def _json_value(value: Any) -> Any:
    return value.tolist() if isinstance(value, torch.Tensor) and value.numel() <= 64 else None


def _state_of(obj) -> Any:
    if isinstance(obj, Mapping):
        return {key: _state_of(value) for key, value in obj.items()}
    return obj.state_dict() if hasattr(obj, "state_dict") else obj


def _config_text(config: Any) -> str | None:
    if config is None or isinstance(config, str):
        return config
    if hasattr(config, "dump"):
        text = config.dump()
        if isinstance(text, str):
            return text
    if hasattr(config, "pretty_text"):
        return str(config.pretty_text)
    if isinstance(config, Mapping):
        return "\n".join(f"{key} = {value!r}" for key, value in config.items()) + "\n"
    return str(config)


def _weights_only_safe(value: Any) -> Any:
    """Turn ``value`` into types ``torch.load(weights_only=True)`` accepts (tensors, containers, scalars)."""
    if isinstance(value, torch.Tensor) or value is None or type(value) in (bool, int, float, str):
        return value
    for kind in (bool, int, float, str):  # subclasses (torch.__version__ is a str subclass) pickle as classes
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, Mapping):
        return {(_weights_only_safe(k) if not isinstance(k, (str, int)) else k): _weights_only_safe(v)
                for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_weights_only_safe(v) for v in value)
    if isinstance(value, (list, set, frozenset)):
        return [_weights_only_safe(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return torch.as_tensor(value)
    return repr(value)
