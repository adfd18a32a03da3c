"""Prepare a checkpoint for release: keep the weights and meta, name the file after its SHA-256.

The published name is ``<OUT stem>-<first 8 hex of sha256>.pth`` (timm's ``clean_checkpoint``
convention; with ``with_date`` mmcls's ``<OUT stem>_<YYYYMMDD>-<hash8>.pth``); an OUT ending with
``.safetensors`` gives a safetensors file (the meta as JSON in its metadata) named the same way.
Both carry the hash where ``torch.hub`` (``load_state_dict_from_url(check_hash=True)``) and minim's
downloader look for it: the first ``-<hex>.`` run of the file name.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from minim.atomic import default_file_mode
from minim.cls.checkpoint import (
    is_safetensors,
    read_checkpoint,
    safetensors_bytes,
    split_checkpoint,
    without_raw_weights,
)
from minim.net.verify import file_sha256
from minim.errors import UsageError

#: torch.hub's pattern for the hash in a file name (``torch.hub.HASH_REGEX``)
HUB_HASH = re.compile(r"-([a-f0-9]*)\.")
#: meta entries that name files of the training machine
LOCAL_PATH_MSGS = ("last_ckpt", "best_ckpt")
#: meta entries only a resumed training run needs
TRAINING_META = ("rng_state",)


@dataclass
class PublishedCheckpoint:
    """A written release checkpoint."""

    path: Path
    sha256: str
    size: int
    meta: dict[str, Any]
    dropped: list[str] = field(default_factory=list)
    format: str = "minim"  # 'minim', 'mmcls' or 'torchvision' (a bare state dict)

    @property
    def stem(self) -> str:
        return _without_suffix(self.path.name)


def hub_hash(file_name: str) -> str | None:
    """The hash prefix torch.hub reads from a file name (None when it has none)."""
    match = HUB_HASH.search(file_name)
    return match.group(1) if match and match.group(1) else None


def release_content(checkpoint: Mapping[str, Any], source: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """``(content to save, meta, dropped keys)``: plain state dicts stay plain; wrapped checkpoints keep
    ``{'state_dict', 'meta'}`` (meta without local checkpoint paths); training state is dropped."""
    state_dict, meta = split_checkpoint(checkpoint, source)
    if len(state_dict) == len(checkpoint) and "state_dict" not in checkpoint:
        return dict(checkpoint), {}, []
    dropped = sorted(str(k) for k in checkpoint if k not in ("state_dict", "meta"))
    averaged = without_raw_weights(state_dict)
    if len(averaged) < len(state_dict):
        dropped.append(f"state_dict.ema_* ({len(state_dict) - len(averaged)} tensors: an EMAHook run's raw weights; "
                       "the averaged ones are kept)")
        state_dict = averaged
    dropped += [f"meta.{k}" for k in TRAINING_META if k in meta]
    meta = {k: v for k, v in meta.items() if k not in TRAINING_META}
    msgs = meta.get("hook_msgs")
    if isinstance(msgs, Mapping):
        kept = {k: v for k, v in msgs.items() if k not in LOCAL_PATH_MSGS}
        number = best_number(msgs)
        if number is not None:
            kept["best_number"] = number  # which evaluation was the best, without the local path
        meta["hook_msgs"] = kept
    return {"state_dict": state_dict, "meta": meta}, meta, dropped


def checkpoint_format(checkpoint: Mapping[str, Any]) -> str:
    """``'minim'``, ``'mmcls'`` or ``'torchvision'`` (a plain state dict) for a loaded checkpoint."""
    meta = checkpoint.get("meta") if isinstance(checkpoint.get("meta"), Mapping) else {}
    if "state_dict" not in checkpoint:
        return "torchvision"
    if "minim_version" not in meta and ("mmcls_version" in meta or "mmpretrain_version" in meta
                                        or "dataset_meta" in meta):
        return "mmcls"
    return "minim"


def best_number(hook_msgs: Mapping[str, Any]) -> int | None:
    """The epoch / iteration of the best evaluation: ``best_number``, or the N of ``best_..._epoch_N.pth``."""
    number = hook_msgs.get("best_number")
    if isinstance(number, int) and not isinstance(number, bool):
        return number
    match = re.search(r"_(?:epoch|iter)_(\d+)\.pth$", str(hook_msgs.get("best_ckpt") or ""))
    return int(match.group(1)) if match else None


def published_name(stem: str, sha256: str, with_date: bool = False, today: str | None = None,
                   suffix: str = ".pth") -> str:
    """``<stem>-<hash8><suffix>`` or ``<stem>_<YYYYMMDD>-<hash8><suffix>``."""
    if with_date:
        stem = f"{stem}_{today or time.strftime('%Y%m%d')}"
    return f"{stem}-{sha256[:8]}{suffix}"


_SUFFIXES = (".pth", ".safetensors")


def _without_suffix(name: str) -> str:
    return next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), name)


def out_stem(out: str | os.PathLike) -> tuple[Path, str]:
    """``(folder, stem)`` of the OUT argument (``.pth`` or ``.safetensors`` removed)."""
    text = os.fspath(out)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        raise UsageError(f"OUT {text} is a folder; give a file name such as {Path(text) / 'model.pth'}")
    name = _without_suffix(path.name)
    if not name:
        raise UsageError(f"OUT {text} has no file name")
    return path.parent, name


def publish_checkpoint(src: str | os.PathLike, out: str | os.PathLike, *, with_date: bool = False) -> PublishedCheckpoint:
    """Write the release version of ``src`` next to ``out`` under its hashed name (atomically); an ``out``
    ending with ``.safetensors`` writes a safetensors file."""
    folder, stem = out_stem(out)
    suffix = ".safetensors" if is_safetensors(out) else ".pth"
    content, meta, dropped = release_content(read_checkpoint(src), os.fspath(src))
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=f"{suffix}.tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:  # through a handle: the archive's inner name is fixed,
            if suffix == ".safetensors":     # so the same weights always give the same bytes
                handle.write(safetensors_bytes(content.get("state_dict", content), meta if "meta" in content else None))
            else:
                torch.save(content, handle)
            handle.flush()
            os.fsync(handle.fileno())
        sha256 = file_sha256(tmp).hexdigest()
        name = published_name(stem, sha256, with_date, suffix=suffix)
        if hub_hash(name) != sha256[:8]:
            raise UsageError(f"published name {name}: torch.hub would read the hash {hub_hash(name)!r} from it",
                             hint="avoid '-<hex digits>.' in OUT's name, e.g. write 'v1_5' instead of '-1.5'")
        target = folder / name
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return PublishedCheckpoint(path=target, sha256=sha256, size=target.stat().st_size, meta=meta, dropped=dropped,
                               format=checkpoint_format(content))

