"""Convert checkpoints: minim / mmcls layouts to plain torchvision / timm state dicts and back, and to safetensors.

- ``to='torchvision'`` / ``'timm'``: the classifier's tensors under the plain model's keys (the head's
  linear layers back to ``fc`` / ``classifier.1`` / ...), which ``torchvision.models.get_model(arch,
  num_classes=N).load_state_dict`` / ``timm.create_model(name, num_classes=N)`` take as they are. Each
  backbone declares whether it has such a counterpart (``plain_formats``) and converts its own tensors
  (``own_key_to_plain`` / ``to_plain_state``).
- ``to='minim'``: any checkpoint minim loads (plain, mmcls, mmpretrain, minim; ``.pth`` or ``.safetensors``),
  loaded into the config's classifier and saved as a minim checkpoint (class names and config in its meta).
- ``to='safetensors'``: the same layout and meta in a ``.safetensors`` file.

The classifier comes from ``config``, or from the config text a minim / mmcls checkpoint keeps in its
meta. OUT's suffix picks the file type: ``.safetensors``, else ``torch.save``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minim.atomic import atomic_output
from minim.config import Config
from minim.errors import CheckpointError, UsageError
from minim.suggest import did_you_mean

TARGETS = ("minim", "torchvision", "timm", "safetensors")


@dataclass
class Conversion:
    """A written conversion."""

    path: Path
    target: str
    tensors: int
    backbone: str | None = None


def convert_checkpoint(src: str | os.PathLike, out: str | os.PathLike, to: str = "minim",
                       config: Any = None) -> Conversion:
    """Convert the checkpoint ``src`` to layout ``to`` (see the module docstring) and write it to ``out``."""
    from minim.cls.checkpoint import (  # lazy: torch; `minim run cls --list` imports this module
        is_safetensors, read_checkpoint, save_checkpoint, save_safetensors, split_checkpoint)

    if to not in TARGETS:
        raise UsageError(f"--to {to!r}: choose one of {', '.join(TARGETS)}", hint=did_you_mean(to, TARGETS))
    out = Path(out)
    if to == "safetensors":
        if not is_safetensors(out):
            raise UsageError(f"--to safetensors: OUT {out.name} must end with .safetensors")
        state_dict, meta = split_checkpoint(read_checkpoint(src), os.fspath(src))
        return Conversion(save_safetensors(out, state_dict, meta or None), to, len(state_dict))
    model = load_classifier(src, config)
    backbone = type(model.backbone).__name__
    if to == "minim":
        classes = model.CLASSES if model.classes_from_checkpoint else None
        save_checkpoint(out, model, meta={"CLASSES": classes})
        return Conversion(out, to, len(model.state_dict()), backbone)
    plain = plain_state_dict(model, to)
    if is_safetensors(out):
        save_safetensors(out, plain)
    else:
        _save_plain(out, plain)
    return Conversion(out, to, len(plain), backbone)


def load_classifier(src: str | os.PathLike, config: Any = None):
    """``config``'s classifier (or the one the checkpoint's meta describes) with ``src`` loaded, in eval mode."""
    from minim.cls.apis.inference import ClassNamesWarning, init_model  # lazy: torch; `minim run cls --list` imports this module

    if config is None:
        config = _config_from_meta(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassNamesWarning)  # a plain checkpoint has no class names
        return init_model(config, os.fspath(src), strict=True)


def _config_from_meta(src) -> Any:
    from minim.cls.checkpoint import read_checkpoint, split_checkpoint  # lazy: torch; `minim run cls --list` imports this module

    _, meta = split_checkpoint(read_checkpoint(src), os.fspath(src))
    text = meta.get("config")
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"{src} does not hold its config: give --config CFG (the config of its model)")
    return Config.fromstring(text, ".py")


def plain_state_dict(model, fmt: str) -> dict:
    """``model``'s tensors under the keys of the plain ``fmt`` ('torchvision' or 'timm') model it corresponds to.

    Raises :class:`CheckpointError` when its backbone has no such counterpart, or the neck or head hold
    tensors a plain model has no place for."""
    backbone, head = model.backbone, model.head
    name = type(backbone).__name__
    formats = tuple(backbone.plain_formats)
    if fmt not in formats:
        if formats:
            raise CheckpointError(f"{name}'s plain counterpart is {' or '.join(formats)}'s, not {fmt}'s",
                                  hint=f"use --to {formats[0]}")
        raise CheckpointError(f"backbone {name} (as configured) has no plain torchvision/timm counterpart",
                              hint="keep the minim checkpoint (--to minim or --to safetensors)")
    sources = tuple(backbone.plain_head_layers.get(fmt, backbone.head_layers))
    targets = tuple(head.linear_layer_paths())
    if len(sources) != len(targets):
        raise CheckpointError(f"head {type(head).__name__} has {len(targets)} linear layer(s) but {fmt}'s classifier "
                              f"has {len(sources)} ({', '.join(sources) or 'none'})")
    own, plain = {}, {}
    for key, value in model.state_dict().items():
        part, _, rest = key.partition(".")
        if part == "backbone":
            own[rest] = value
            continue
        target = next((t for t in targets if part == "head" and rest.startswith(t + ".")), None)
        if target is None:
            raise CheckpointError(f"tensor {key}: a plain {fmt} model has no place for it",
                                  hint="use a head of linear layers only (LinearClsHead) and a neck without weights")
        plain[sources[targets.index(target)] + rest[len(target):]] = value
    return {**backbone.to_plain_state(own, fmt), **plain}


def _save_plain(path: Path, state_dict: dict) -> None:
    import torch  # lazy: torch; `minim run cls --list` imports this module

    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        torch.save({key: value.detach().cpu() for key, value in state_dict.items()}, handle)
