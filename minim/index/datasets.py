"""The dataset index of a codebase: ``datasets.json`` beside its model index, plus ``MINIM_INDEX_PATH`` files.

A dataset index file is ``{"codebase": "cls", "datasets": [entry, ...]}`` (a file may hold ``models``
too). An entry::

    {"name": "cifar10", "aliases": ["CIFAR-10"], "description": "...", "num_classes": 10,
     "homepage": "https://...", "checksums_from": "where the checksums are published",
     "files": [{"url": "https://.../cifar-10-python.tar.gz", "md5": "...", "unpack": "tar.gz"}],
     "layout": "extract", "layout_options": {}, "config": "datasets/cifar10.py"}

Each file needs ``sha256`` or ``md5`` (as its publisher gives it; ``sha256`` preferred), may give
``size`` and ``unpack`` (an archive format of :mod:`minim.archive`, or null to keep the file as it
is). ``layout`` names how the downloaded files become the folders the codebase's datasets read
(:mod:`minim.dataset_layouts`); ``config`` is a config template relative to the index file whose
strings hold ``{data_root}`` where the download folder goes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minim.archive import FORMATS
from minim.errors import ModelIndexError, NotFoundError
from minim.index.schema import NAME_PATTERN
from minim.suggest import did_you_mean

DATASET_INDEX_NAME = "datasets.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class DatasetFile:
    """One file of a dataset: where it comes from, its checksum and whether it is unpacked."""

    url: str
    sha256: str | None
    md5: str | None
    size: int | None
    unpack: str | None

    @property
    def filename(self) -> str:
        from minim.net.names import filename_from_url

        return filename_from_url(self.url)


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset of an index."""

    name: str
    aliases: tuple[str, ...]
    description: str
    num_classes: int | None
    homepage: str
    checksums_from: str
    files: tuple[DatasetFile, ...]
    layout: str
    layout_options: dict[str, Any]
    config_path: Path
    index_file: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int | None:
        """Total download size in bytes when every file gives one."""
        sizes = [f.size for f in self.files]
        return None if None in sizes else sum(sizes)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": list(self.aliases), "description": self.description,
                "num_classes": self.num_classes, "homepage": self.homepage, "checksums_from": self.checksums_from,
                "files": [{"url": f.url, "sha256": f.sha256, "md5": f.md5, "size": f.size, "unpack": f.unpack}
                          for f in self.files],
                "layout": self.layout, "layout_options": self.layout_options,
                "config_path": str(self.config_path), **self.extra}


def _fail(index_file: Path, label: str, message: str) -> ModelIndexError:
    return ModelIndexError(f"{index_file}: dataset {label}: {message}")


def _text(data: dict, key: str, index_file: Path, label: str, required: bool = True) -> str:
    value = data.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(index_file, label, f"field {key!r} must be a non-empty string, got {value!r}")
    return value


def parse_file(data: Any, index_file: Path, label: str) -> DatasetFile:
    """Validate one entry of ``files``."""
    if not isinstance(data, dict):
        raise _fail(index_file, label, f"each of 'files' must be an object, got {data!r}")
    url = _text(data, "url", index_file, label)
    from minim.errors import DownloadError
    from minim.net.names import filename_from_url

    try:
        filename_from_url(url)
    except DownloadError as exc:
        raise _fail(index_file, label, f"bad url: {exc.message}") from None
    sha256, md5 = (data.get(k) for k in ("sha256", "md5"))
    sha256 = sha256.lower() if isinstance(sha256, str) else sha256
    md5 = md5.lower() if isinstance(md5, str) else md5
    if sha256 is None and md5 is None:
        raise _fail(index_file, label, f"file {url} needs 'sha256' (64 hex digits) or 'md5' (32 hex digits)")
    if sha256 is not None and not (isinstance(sha256, str) and _SHA256.match(sha256)):
        raise _fail(index_file, label, f"bad sha256 {sha256!r}: expected 64 hex digits")
    if md5 is not None and not (isinstance(md5, str) and _MD5.match(md5)):
        raise _fail(index_file, label, f"bad md5 {md5!r}: expected 32 hex digits")
    size = data.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise _fail(index_file, label, f"bad size {size!r}: expected a positive integer or null")
    unpack = data.get("unpack")
    if unpack is not None and unpack not in FORMATS:
        raise _fail(index_file, label, f"bad unpack {unpack!r}: expected null or one of {', '.join(FORMATS)}")
    return DatasetFile(url=url, sha256=sha256, md5=md5, size=size, unpack=unpack)


def parse_dataset(data: Any, index_file: Path, position: int) -> DatasetEntry:
    """Validate one raw dataset entry of ``index_file``."""
    from minim.dataset_layouts import LAYOUTS

    label = f"#{position}"
    if not isinstance(data, dict):
        raise _fail(index_file, label, f"expected an object, got {type(data).__name__}")
    name = _text(data, "name", index_file, label)
    label = repr(name)
    aliases = data.get("aliases", [])
    if not NAME_PATTERN.match(name) or not isinstance(aliases, list) or \
            not all(isinstance(a, str) and NAME_PATTERN.match(a) for a in aliases):
        raise _fail(index_file, label, "names and aliases may contain only letters, digits, '.', '_', '+' and '-'")
    files = data.get("files")
    if not isinstance(files, list) or not files:
        raise _fail(index_file, label, "field 'files' must be a non-empty list")
    layout = _text(data, "layout", index_file, label)
    if layout not in LAYOUTS:
        raise _fail(index_file, label, f"unknown layout {layout!r}; known: {', '.join(sorted(LAYOUTS))}")
    options = data.get("layout_options", {})
    if not isinstance(options, dict):
        raise _fail(index_file, label, f"field 'layout_options' must be an object, got {options!r}")
    config = _text(data, "config", index_file, label)
    if Path(config).is_absolute() or ".." in Path(config).parts:
        raise _fail(index_file, label, f"config path {config!r} must be relative to the index folder, without '..'")
    num_classes = data.get("num_classes")
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)):
        raise _fail(index_file, label, f"num_classes must be an integer or null, got {num_classes!r}")
    known = {"name", "aliases", "description", "num_classes", "homepage", "checksums_from", "files", "layout",
             "layout_options", "config"}
    return DatasetEntry(
        name=name, aliases=tuple(aliases), description=_text(data, "description", index_file, label, False),
        num_classes=num_classes, homepage=_text(data, "homepage", index_file, label, False),
        checksums_from=_text(data, "checksums_from", index_file, label, False),
        files=tuple(parse_file(f, index_file, label) for f in files), layout=layout, layout_options=options,
        config_path=index_file.parent / config, index_file=index_file,
        extra={k: v for k, v in data.items() if k not in known})


def read_dataset_file(path: Path, codebase: str) -> list[DatasetEntry]:
    """The dataset entries of one index file for ``codebase`` (none when it lists no ``datasets``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelIndexError(f"{path}: cannot read index file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ModelIndexError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or data.get("codebase") != codebase or "datasets" not in data:
        return []
    if not isinstance(data["datasets"], list):
        raise ModelIndexError(f'{path}: "datasets" must be a list of dataset entries')
    return [parse_dataset(raw, path, i) for i, raw in enumerate(data["datasets"], 1)]


class DatasetIndex:
    """The datasets of one codebase, by name or alias (case-insensitive)."""

    def __init__(self, codebase: str, datasets: list[DatasetEntry]):
        self.codebase = codebase
        self.datasets = datasets
        self._by_key: dict[str, DatasetEntry] = {}
        for entry in datasets:
            for key in (entry.name, *entry.aliases):
                other = self._by_key.setdefault(key.lower(), entry)
                if other is not entry:
                    raise ModelIndexError(f"{entry.index_file}: dataset name or alias {key!r} is used by both "
                                          f"{other.name!r} ({other.index_file}) and {entry.name!r}")

    def __len__(self) -> int:
        return len(self.datasets)

    def __iter__(self):
        return iter(self.datasets)

    def resolve(self, name: str) -> DatasetEntry:
        """The dataset called ``name`` (or with that alias); a :class:`NotFoundError` with suggestions if none."""
        entry = self._by_key.get(name.lower())
        if entry is not None:
            return entry
        hint = did_you_mean(name, [k for e in self.datasets for k in (e.name, *e.aliases)]) or \
            f"`minim search {self.codebase} --dataset-index` lists all {len(self)} datasets"
        raise NotFoundError(f"no dataset {name!r} in the {self.codebase} dataset index", hint=hint)


def load_dataset_index(codebase: str) -> DatasetIndex:
    """The built-in ``datasets.json`` beside ``codebase``'s model index, merged with ``MINIM_INDEX_PATH`` files."""
    from minim.codebases import get_codebase
    from minim.index.loader import _expand
    from minim.settings import extra_index_paths

    builtin = get_codebase(codebase).index_file().parent / DATASET_INDEX_NAME
    datasets = read_dataset_file(builtin, codebase) if builtin.is_file() else []
    for path in _expand(extra_index_paths()):
        datasets.extend(read_dataset_file(path, codebase))
    return DatasetIndex(codebase, datasets)
