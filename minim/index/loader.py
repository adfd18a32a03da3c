"""Load a codebase's model index: the built-in file plus ``MINIM_INDEX_PATH`` extras."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Iterable

from minim.errors import ModelIndexError, NotFoundError
from minim.index.schema import ModelEntry, parse_entry
from minim.suggest import nearest


class ModelIndex:
    """All models of one codebase, addressable by name or alias (case-insensitive)."""

    def __init__(self, codebase: str, models: list[ModelEntry]):
        self.codebase = codebase
        self.models = models
        self._by_key: dict[str, ModelEntry] = {}
        for entry in models:
            for key in (entry.name, *entry.aliases):
                self._add_key(key, entry)

    def _add_key(self, key: str, entry: ModelEntry) -> None:
        other = self._by_key.get(key.lower())
        if other is None or other is entry:
            self._by_key[key.lower()] = entry
            return
        where = (f"{entry.index_file}" if other.index_file == entry.index_file
                 else f"{other.index_file} and {entry.index_file}")
        raise ModelIndexError(
            f"{where}: name or alias {key!r} is used by both model {other.name!r} and model {entry.name!r}"
        )

    def __len__(self) -> int:
        return len(self.models)

    def __iter__(self):
        return iter(self.models)

    def keys(self) -> list[str]:
        """Every name and alias."""
        return [k for e in self.models for k in (e.name, *e.aliases)]

    def get(self, name: str) -> ModelEntry | None:
        """The entry whose name or alias is ``name`` (case-insensitive), or None."""
        return self._by_key.get(name.lower())

    def resolve(self, name: str) -> ModelEntry:
        """Resolve a name, alias or unique prefix of one (with a warning naming the model it is taken as);
        raise with candidates or suggestions otherwise."""
        entry = self.get(name)
        if entry is not None:
            return entry
        lowered = name.lower()
        matches = {key: e for key, e in self._by_key.items() if key.startswith(lowered)}
        prefixed = {e.name: e for e in matches.values()}
        if len(prefixed) == 1:
            entry = next(iter(prefixed.values()))
            keys = sorted(k for k, e in matches.items() if k != entry.name.lower())
            taken = entry.name if len(keys) != 1 or len(matches) > 1 else f"{keys[0]} (model {entry.name})"
            warnings.warn(f"no {self.codebase} model is called {name!r}; taking {taken}, the only name that "
                          "begins with it", stacklevel=2)
            return entry
        if prefixed:
            names = sorted(prefixed)
            shown = ", ".join(names[:10]) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
            raise NotFoundError(f"{name!r} is ambiguous in the {self.codebase} index; candidates: {shown}")
        raise NotFoundError(f"no model {name!r} in the {self.codebase} index", hint=self.suggest(name))

    def suggest(self, word: str, candidates: Iterable[str] | None = None) -> str:
        """A hint for a name that matched nothing: the nearest real names (of ``candidates``, default every name
        and alias), else the search that lists every model (never a search that would fail too)."""
        names = nearest(word, self.keys() if candidates is None else candidates)
        if names:
            return "did you mean " + ", ".join(repr(n) for n in names[:-1]) + (" or " if len(names) > 1 else "") \
                + repr(names[-1]) + "?"
        return f"`minim search {self.codebase}` lists all {len(self)} models"


def text_line_of_offset(path: Path, offset: int) -> int:
    """The 1-based line of byte ``offset`` of ``path``."""
    with open(path, "rb") as handle:
        return handle.read(offset).count(b"\n") + 1


def read_index_file(path: Path, codebase: str | None = None) -> tuple[str, list[ModelEntry]]:
    """Parse and validate one index file; returns its codebase and entries."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelIndexError(f"{path}: index file not found") from None
    except UnicodeDecodeError as exc:
        line = text_line_of_offset(path, exc.start)
        raise ModelIndexError(f"{path}:{line}: the index file is not UTF-8 text (byte {exc.start})",
                              hint="save it as UTF-8 JSON") from None
    except OSError as exc:
        raise ModelIndexError(f"{path}: cannot read index file: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelIndexError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if isinstance(data, dict) and "models" not in data and isinstance(data.get("datasets"), list):
        data = {**data, "models": []}  # a dataset index only (minim.index.datasets)
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ModelIndexError(f'{path}: expected a JSON object {{"codebase": ..., "models": [...]}}')
    file_codebase = data.get("codebase")
    if not isinstance(file_codebase, str):
        raise ModelIndexError(f"{path}: missing 'codebase' (e.g. \"codebase\": \"cls\")")
    if codebase is not None and file_codebase != codebase:
        return file_codebase, []
    return file_codebase, [parse_entry(raw, path, i) for i, raw in enumerate(data["models"], 1)]


def _expand(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.json")))
        elif path.exists():
            files.append(path)
        else:
            raise ModelIndexError(f"MINIM_INDEX_PATH names {path}, which does not exist")
    return files


_cache: dict[tuple, ModelIndex] = {}


def load_index(codebase: str) -> ModelIndex:
    """The model index of ``codebase``: its built-in file merged with the files of ``MINIM_INDEX_PATH``."""
    from minim.codebases import get_codebase
    from minim.settings import extra_index_paths

    extras = tuple(extra_index_paths())
    key = (codebase, extras)
    if key not in _cache:
        builtin = get_codebase(codebase).index_file()
        models = read_index_file(builtin, codebase)[1]
        for path in _expand(extras):
            models.extend(read_index_file(path, codebase)[1])
        _cache[key] = ModelIndex(codebase, models)
    return _cache[key]
