"""Model-index entries and their validation.

An index file is ``{"codebase": "cls", "models": [entry, ...]}``; each entry names a
config (relative to the index file's folder), optional weights and metadata. See the
README's "Model index format" section for the full schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from minim.errors import ModelIndexError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$")
HEX_PATTERN = re.compile(r"^[0-9a-f]{8,64}$")
#: checkpoint layouts an entry's weights may declare (what ``publish_model`` detects)
WEIGHTS_FORMATS = ("minim", "mmcls", "torchvision")
METADATA_NUMBERS = ("top1", "top5", "params_m", "flops_g")


@dataclass(frozen=True)
class Weights:
    """Where an entry's checkpoint comes from and how to verify it."""

    url: str
    sha256: str
    size: int | None = None
    format: str = "minim"

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def digest(self) -> str:
        """``full`` when the index holds the whole sha256, ``prefix`` when only its start (as in file names)."""
        return "full" if len(self.sha256) == 64 else "prefix"


@dataclass(frozen=True)
class ModelEntry:
    """One model of an index."""

    name: str
    aliases: tuple[str, ...]
    collection: str
    config: str | None
    config_path: Path | None  #: None for a weights-only entry (its publisher gives no config)
    weights: Weights | None
    metadata: dict[str, Any]
    source: str
    index_file: Path
    extra: dict[str, Any] = field(default_factory=dict)
    #: the same weights in other files (``weights`` may list several; the preferred one is ``weights``)
    other_weights: tuple[Weights, ...] = ()

    def field_value(self, name: str) -> Any:
        """The value of a search field (entry attribute or metadata key)."""
        if name in ENTRY_FIELDS:
            return ENTRY_FIELDS[name](self)
        return self.metadata.get(name)

    def to_json(self) -> dict[str, Any]:
        """The entry as it appears in an index file (plus ``config_path``)."""
        weights = None
        if self.weights is not None:
            listed = [{"url": w.url, "sha256": w.sha256, "size": w.size, "format": w.format}
                      for w in (self.weights, *self.other_weights)]
            weights = listed if self.other_weights else listed[0]
        data = {"name": self.name, "aliases": list(self.aliases), "collection": self.collection,
                "config": self.config, "weights": weights, "metadata": dict(self.metadata),
                "source": self.source}
        data.update(self.extra)
        data["config_path"] = None if self.config_path is None else str(self.config_path)
        return data


#: search fields that are not metadata keys
ENTRY_FIELDS = {
    "name": lambda e: e.name,
    "aliases": lambda e: ", ".join(e.aliases),
    "collection": lambda e: e.collection,
    "config": lambda e: e.config,
    "source": lambda e: e.source,
    "weights": lambda e: e.weights.filename if e.weights else None,
    "url": lambda e: e.weights.url if e.weights else None,
    "sha256": lambda e: e.weights.sha256 if e.weights else None,
    "digest": lambda e: e.weights.digest if e.weights else None,
    "size_mb": lambda e: (round(e.weights.size / 1e6, 1) if e.weights.size else e.metadata.get("file_size_mb"))
    if e.weights else None,
}


def _fail(index_file: Path, entry: str, message: str) -> ModelIndexError:
    return ModelIndexError(f"{index_file}: model {entry}: {message}")


def _require(data: dict, key: str, kind, index_file: Path, entry: str):
    if key not in data:
        raise _fail(index_file, entry, f"missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise _fail(index_file, entry, f"field {key!r} must be a non-empty {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({str: "string", dict: "object", list: "list", int: "integer", float: "number"}.get(k, k.__name__) for k in kinds)


def parse_weights(data: Any, index_file: Path, entry: str) -> Weights | None:
    """Validate an entry's ``weights`` object (or null)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise _fail(index_file, entry, f"field 'weights' must be an object or null, got {data!r}")
    url = _require(data, "url", str, index_file, entry)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or not parsed.path.strip("/"):
        raise _fail(index_file, entry, f"bad weights url {url!r}: expected http(s)://host/path/file")
    sha256 = _require(data, "sha256", str, index_file, entry).lower()
    if not HEX_PATTERN.match(sha256):
        raise _fail(index_file, entry, f"bad sha256 {sha256!r}: expected 8 to 64 hex digits")
    size = data.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
        raise _fail(index_file, entry, f"bad weights size {size!r}: expected a positive integer or null")
    fmt = data.get("format", "minim")
    if fmt not in WEIGHTS_FORMATS:
        raise _fail(index_file, entry, f"bad weights format {fmt!r}: expected one of {', '.join(WEIGHTS_FORMATS)} "
                                       "(the checkpoint's layout)")
    return Weights(url=url, sha256=sha256, size=size, format=fmt)


def parse_weights_list(data: Any, index_file: Path,
                       entry: str) -> tuple[Weights | None, tuple[Weights, ...]]:
    """``(preferred, others)`` of an entry's ``weights``: one object, or a list of the same weights in several
    files (``.pth`` and ``.safetensors``), of which a ``.safetensors`` file is preferred (no pickle)."""
    if not isinstance(data, list):
        return parse_weights(data, index_file, entry), ()
    if not data:
        raise _fail(index_file, entry, "field 'weights' is an empty list: give null or at least one object")
    options = [parse_weights(item, index_file, entry) for item in data]
    if None in options:
        raise _fail(index_file, entry, "field 'weights' lists null: list objects only")
    preferred = next((w for w in options if w.filename.endswith(".safetensors")), options[0])
    return preferred, tuple(w for w in options if w is not preferred)


def parse_metadata(data: Any, index_file: Path, entry: str) -> dict[str, Any]:
    """Validate an entry's ``metadata`` object: ``dataset`` is required, numbers must be numbers."""
    _require(data, "dataset", str, index_file, entry)
    for key in METADATA_NUMBERS:
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _fail(index_file, entry, f"metadata {key!r} must be a number or null, got {value!r}")
    return dict(data)


def parse_config(data: dict, index_file: Path, entry: str) -> str | None:
    """An entry's ``config``: a path relative to the index folder, or null for weights published without one
    (the entry must then have weights)."""
    if data.get("config", "") is None:
        if data.get("weights") is None:
            raise _fail(index_file, entry, "field 'config' may be null only when the entry has weights")
        return None
    config = _require(data, "config", str, index_file, entry)
    if Path(config).is_absolute() or ".." in Path(config).parts:
        raise _fail(index_file, entry, f"config path {config!r} must be relative to the index folder, without '..'")
    return config


def parse_entry(data: Any, index_file: Path, position: int) -> ModelEntry:
    """Validate one raw entry of ``index_file`` (``position`` names it when it has no name)."""
    label = f"#{position}"
    if not isinstance(data, dict):
        raise _fail(index_file, label, f"expected an object, got {type(data).__name__}")
    name = _require(data, "name", str, index_file, label)
    label = repr(name)
    if not NAME_PATTERN.match(name):
        raise _fail(index_file, label, "names may contain only letters, digits, '.', '_', '+' and '-'")
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and NAME_PATTERN.match(a) for a in aliases):
        raise _fail(index_file, label, f"field 'aliases' must be a list of names, got {aliases!r}")
    collection = _require(data, "collection", str, index_file, label)
    config = parse_config(data, index_file, label)
    source = _require(data, "source", str, index_file, label)
    known = {"name", "aliases", "collection", "config", "weights", "metadata", "source"}
    weights, other_weights = parse_weights_list(data.get("weights"), index_file, label)
    return ModelEntry(
        name=name,
        aliases=tuple(aliases),
        collection=collection,
        config=config,
        config_path=None if config is None else index_file.parent / config,
        weights=weights,
        metadata=parse_metadata(_require(data, "metadata", dict, index_file, label), index_file, label),
        source=source,
        index_file=index_file,
        extra={k: v for k, v in data.items() if k not in known},
        other_weights=other_weights,
    )
