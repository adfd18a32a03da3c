"""Read one config file and its ``_base_`` chain into a merged dict, without executing anything.

``.py`` files go through :class:`~minim.config.evaluator.ConfigEvaluator`; ``.json`` and
``.yaml``/``.yml`` files are parsed as data (``yaml.safe_load``). Every file may declare
``_base_`` (one path or a list, relative to the declaring file), use the placeholders
``{{fileDirname}}``, ``{{fileBasename}}``, ``{{fileBasenameNoExtension}}``, ``{{fileExtname}}``
and read base values with ``{{_base_.key}}``.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import warnings as python_warnings
from dataclasses import dataclass, field
from typing import Any

from minim.config import provenance
from minim.config.allowed import TooLarge, expanded_size
from minim.config.evaluator import PLACEHOLDER_PATTERN, ConfigEvaluator, Record, find_base_statement
from minim.config.keys import BASE_KEY, CUSTOM_IMPORTS_KEY, DEPRECATION_KEY, RESERVED_KEYS
from minim.config.merge import MergeContext, merge
from minim.config.values import dotted, find_non_data
from minim.errors import (ConfigError, ConfigFileNotFoundError, ConfigKeyError, ConfigOSError, ConfigSyntaxError,
                          ConfigTypeError, ConfigValueError)
from minim.suggest import did_you_mean

EXTENSIONS = (".py", ".json", ".yaml", ".yml")
#: Largest config file minim reads (mmcls's biggest is under 20 kB).
MAX_CONFIG_BYTES = 10_000_000
_BASE_REFERENCE = re.compile(r"\{\{\s*_base_\.([\w.]+)\s*\}\}")
_TOKEN = "__minim_base_reference__:"


@dataclass
class LoadedConfig:
    """A file merged with its bases."""

    values: dict = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)   #: see :mod:`minim.config.provenance`
    origins: dict[str, str] = field(default_factory=dict)  #: top-level key -> file that defined it
    warnings: list[str] = field(default_factory=list)
    #: mmcv's ``Config.text``: each file's absolute path and source, bases first
    text: str = ""


def load_file(path: str, use_predefined_variables: bool = True, confine_to: str | None = None) -> LoadedConfig:
    """Load ``path`` (``.py``, ``.json``, ``.yaml``, ``.yml``) with its ``_base_`` chain merged; without
    ``use_predefined_variables`` the ``{{fileDirname}}``-style placeholders stay as written.  With
    ``confine_to`` (a folder: an index's), every ``_base_`` path must lie inside it (no ``..`` out of it,
    no absolute path elsewhere; links inside the folder are the index owner's and are followed)."""
    path = os.fspath(path)
    root = None if confine_to is None else os.path.abspath(confine_to)
    try:
        return _load(path, (), None, use_predefined_variables, root)
    except RecursionError:
        raise ConfigError(f"{path}: values nested too deeply for a config",
                          "a config nests dicts and lists a few levels deep") from None


def load_text(text: str, extension: str) -> LoadedConfig:
    """Load a config from its source ``text`` in the format of ``extension`` (mmcv's ``Config.fromstring``)."""
    if extension not in EXTENSIONS:
        raise ConfigOSError(f"unsupported config type {extension or '(no extension)'!r}",
                            "use '.py', '.json', '.yaml' or '.yml'")
    source = _source_of(f"<string>{extension}", text, extension, predefined=False)
    if source.base_specs()[0]:
        raise ConfigValueError("a config given as a string cannot have _base_ (its paths are relative to a file)")
    own, records, lines = source.evaluate(None)
    loaded = _finish("<string>", own, records, lines, LoadedConfig())
    loaded.text = text
    return loaded


def placeholders_for(path: str) -> dict[str, str]:
    """The predefined ``{{fileDirname}}``-style values for ``path`` (always with ``/`` separators)."""
    absolute = os.path.abspath(os.path.expanduser(path))
    dirname, basename = os.path.split(absolute)
    stem, extension = os.path.splitext(basename)
    values = {"fileDirname": dirname, "fileBasename": basename,
              "fileBasenameNoExtension": stem, "fileExtname": extension}
    return {key: value.replace("\\", "/") for key, value in values.items()}


def _load(path: str, chain: tuple[str, ...], included_at: str | None, predefined: bool = True,
          root: str | None = None) -> LoadedConfig:
    source = _open_source(path, included_at, predefined)
    real = os.path.realpath(path)
    specs, line = source.base_specs()
    bases = []
    for spec in specs:
        if "://" in spec:
            raise ConfigValueError(f"{path}:{line}: _base_ {spec!r} is a URL; minim reads base configs from files",
                                   "download it and give its file path")
        base_path = os.path.normpath(os.path.join(os.path.dirname(path), spec))
        if root is not None and os.path.commonpath([root, os.path.abspath(base_path)]) != root:
            raise ConfigValueError(f"{path}:{line}: _base_ {spec!r} lies outside the index folder {root}",
                                   "an index config may only inherit configs of its own index")
        if os.path.realpath(base_path) in chain + (real,):
            cycle = " -> ".join(os.path.basename(p) for p in chain + (real, base_path))
            raise ConfigError(f"{path}:{line}: _base_ {spec!r} includes itself ({cycle})", "remove the cycle")
        bases.append((base_path, _load(base_path, chain + (real,), f"{path}:{line}", predefined, root)))
    base = _merge_bases(bases, path, line)
    own, records, lines = source.evaluate(base if specs or line else None)
    loaded = _finish(path, own, records, lines, base)
    own_text = os.path.abspath(os.path.expanduser(path)) + "\n" + source.text
    loaded.text = base.text + "\n" + own_text if base.text else own_text
    return loaded


def _open_source(path: str, included_at: str | None, predefined: bool):
    extension = os.path.splitext(path)[1].lower()
    if extension not in EXTENSIONS:
        raise ConfigOSError(f"{path}: unsupported config type {extension or '(no extension)'!r}",
                            "use a .py, .json, .yaml or .yml file")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise _not_found(path, included_at) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigOSError(f"{path}: cannot read config: {exc}") from None
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigValueError(f"{path}: the config is larger than {MAX_CONFIG_BYTES // 1_000_000} MB; "
                               "configs are small text files", "is this the right file?")
    return _source_of(path, text, extension, predefined)


def _source_of(path: str, text: str, extension: str, predefined: bool):
    placeholders = placeholders_for(path) if predefined else {}
    if extension == ".py":
        return _PythonSource(path, text, placeholders)
    return _DataSource(path, text, extension, placeholders)


def _not_found(path: str, included_at: str | None) -> ConfigError:
    folder = os.path.dirname(path) or "."
    try:
        siblings = [name for name in os.listdir(folder) if name.endswith(EXTENSIONS)]
    except OSError:
        siblings = []
    where = f"{included_at}: base config" if included_at else "config file"
    return ConfigFileNotFoundError(f"{where} {path} not found", did_you_mean(os.path.basename(path), siblings))


def _merge_bases(bases: list[tuple[str, LoadedConfig]], path: str, line: int | None) -> LoadedConfig:
    merged = LoadedConfig()
    for base_path, base in bases:
        for key in base.values:
            if key in merged.values:
                raise ConfigKeyError(
                    f"{path}:{line}: key {key!r} is defined in two bases: {merged.origins[key]} and {base.origins[key]}",
                    "a top-level key may come from one base only; remove it from one of them")
        merged.values.update(base.values)
        merged.origins.update(base.origins)
        merged.records.extend(base.records)
        merged.warnings.extend(w for w in base.warnings if w not in merged.warnings)
        merged.text = merged.text + "\n" + base.text if merged.text else base.text
    return merged


def _finish(path: str, own: dict, records: list[Record], lines: dict[tuple, int], base: LoadedConfig) -> LoadedConfig:
    def locate(key_path: tuple) -> str:
        for n in range(len(key_path), 0, -1):
            if key_path[:n] in lines:
                return f":{lines[key_path[:n]]}"
        return ""

    warnings = list(base.warnings)
    deprecation = own.pop(DEPRECATION_KEY, None)
    if deprecation is not None:
        message = _deprecation_message(path, deprecation)
        warnings.append(message)
        python_warnings.warn(message, DeprecationWarning, stacklevel=2)
    if CUSTOM_IMPORTS_KEY in own:
        warnings.append(_custom_imports_message(path, own[CUSTOM_IMPORTS_KEY]))
    for key in RESERVED_KEYS:
        if key in own:
            raise ConfigKeyError(f"{path}{locate((key,))}: {key!r} is a reserved name and cannot be a config key",
                              "rename it")
    context = MergeContext(source=path, locate=locate,
                           base_origin=lambda key_path: base.origins.get(key_path[0], "the base config"))
    merged = merge(own, base.values, context)
    redefined = [key for key in own if key in base.values]
    base_records = provenance.with_copies(base.records, base.values, redefined)
    for var, places in provenance.stale_paths(base_records, base.values, merged, redefined).items():
        warnings.append(provenance.stale_warning(var, places, path, base.origins.get(var)))
    return LoadedConfig(
        values=merged,
        records=provenance.surviving(base.records, base.values, merged) + records,
        origins={**base.origins, **{key: path for key in own}},
        warnings=warnings,
    )


def _deprecation_message(path: str, info: Any) -> str:
    message = f"{path} is deprecated"
    if isinstance(info, dict):
        if info.get("expected"):
            message += f"; use {info['expected']} instead"
        if info.get("reference"):
            message += f" (see {info['reference']})"
    return message


def _custom_imports_message(path: str, value: Any) -> str:
    modules = value.get("imports") if isinstance(value, dict) else value
    shown = ", ".join(map(str, modules)) if isinstance(modules, (list, tuple)) else repr(modules)
    return (f"{path}: custom_imports ({shown}) is not imported: minim does not run code from configs, so the types "
            "those modules register are unknown to minim")


def _base_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ConfigTypeError(f"{where}: _base_ must be a path or a list of paths, got {type(value).__name__}",
                      "write _base_ = ['../_base_/models/resnet18.py', ...]")


class _PythonSource:
    """A ``.py`` config: parsed with :mod:`ast`, evaluated by :class:`ConfigEvaluator`."""

    def __init__(self, path: str, text: str, placeholders: dict[str, str]):
        self.path = path
        self.text = text
        self.placeholders = placeholders
        try:
            self.tree = ast.parse(text, filename=path)
        except RecursionError:
            raise ConfigSyntaxError(f"{path}: an expression is nested too deeply for a config",
                                    "split it into named parts") from None
        except SyntaxError as exc:
            detail = f" (column {exc.offset})" if exc.offset else ""
            raise ConfigSyntaxError(f"{path}:{exc.lineno}: invalid Python syntax: {exc.msg}{detail}") from None
        except ValueError as exc:  # e.g. null bytes
            raise ConfigSyntaxError(f"{path}: invalid Python source: {exc}") from None
        self.base_statement = find_base_statement(self.tree, path)

    def base_specs(self) -> tuple[list[str], int | None]:
        if self.base_statement is None:
            return [], None
        evaluator = ConfigEvaluator(self.path, placeholders=self.placeholders)
        value = evaluator.eval(self.base_statement.value)
        line = self.base_statement.lineno
        return _base_list(value, f"{self.path}:{line}"), line

    def evaluate(self, base: LoadedConfig | None) -> tuple[dict, list[Record], dict[tuple, int]]:
        evaluator = ConfigEvaluator(self.path, placeholders=self.placeholders,
                                    base_values=base.values if base is not None else None,
                                    base_records=base.records if base is not None else ())
        evaluator.run(self.tree, skip=self.base_statement)
        return evaluator.values(), evaluator.file_records(), evaluator.lines


class _DataSource:
    """A ``.json`` / ``.yaml`` config: placeholders and ``{{_base_.x}}`` are substituted in the text."""

    def __init__(self, path: str, text: str, extension: str, placeholders: dict[str, str]):
        self.path = path
        self.text = text
        is_json = extension == ".json"
        quote = (lambda value: json.dumps(value)[1:-1]) if is_json else (lambda value: value)
        if placeholders:
            text = PLACEHOLDER_PATTERN.sub(lambda m: quote(placeholders[m.group(1)]), text)
        text = _BASE_REFERENCE.sub(lambda m: f'"{_TOKEN}{m.group(1)}"', text)
        data = self._parse_json(text) if is_json else self._parse_yaml(text)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}:1: a config must be a mapping at the top level, got {type(data).__name__}")
        try:
            expanded_size(data)  # YAML anchors can expand to billions of items ("billion laughs")
        except TooLarge as exc:
            raise ConfigValueError(f"{path}:1: {exc}") from None
        self.data = data

    def _parse_json(self, text: str) -> Any:
        try:
            return json.loads(text)
        except RecursionError:
            raise ConfigValueError(f"{self.path}:1: JSON nested too deeply for a config") from None
        except json.JSONDecodeError as exc:
            raise ConfigValueError(f"{self.path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None

    def _parse_yaml(self, text: str) -> Any:
        import yaml  # only YAML configs pay for the import

        try:
            return yaml.safe_load(text)
        except RecursionError:
            raise ConfigValueError(f"{self.path}:1: YAML nested too deeply for a config") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{self.path}{line}: invalid YAML: {problem}") from None

    def _line_of(self, key: str) -> int | None:
        for number, text in enumerate(self.text.splitlines(), start=1):
            if key in text:
                return number
        return None

    def base_specs(self) -> tuple[list[str], int | None]:
        if BASE_KEY not in self.data:
            return [], None
        line = self._line_of(BASE_KEY)
        return _base_list(self.data.pop(BASE_KEY), f"{self.path}:{line}"), line

    def evaluate(self, base: LoadedConfig | None) -> tuple[dict, list[Record], dict[tuple, int]]:
        records: list[Record] = []
        values = {key: self._substitute(value, (key,), base, records) for key, value in self.data.items()}
        found = find_non_data(values)
        if found:
            bad_path, description = found
            line = self._line_of(str(bad_path[0]))
            raise ConfigError(f"{self.path}:{line}: the value of {dotted(bad_path)} is {description}",
                              "quote it to keep it as a string")
        return values, records, {}

    def _substitute(self, value: Any, path: tuple, base: LoadedConfig | None, records: list[Record]) -> Any:
        if isinstance(value, str) and value.startswith(_TOKEN):
            return self._base_value(value[len(_TOKEN):], path, base, records)
        if isinstance(value, dict):
            return {key: self._substitute(item, path + (key,), base, records) for key, item in value.items()}
        if isinstance(value, list):
            return [self._substitute(item, path + (index,), base, records) for index, item in enumerate(value)]
        return value

    def _base_value(self, reference: str, path: tuple, base: LoadedConfig | None, records: list[Record]) -> Any:
        where = f"{self.path}:{self._line_of(reference)}"
        if base is None:
            raise ConfigError(f"{where}: {{{{_base_.{reference}}}}} is used but this config has no _base_")
        keys: list[Any] = []
        node: Any = base.values
        for part in reference.split("."):
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                keys.append(int(part))
            elif isinstance(node, dict) and part in node:
                node = node[part]
                keys.append(part)
            else:
                choices = node if isinstance(node, dict) else ()
                raise ConfigKeyError(f"{where}: _base_.{reference}: key {part!r} not found in the base configs",
                                  did_you_mean(part, choices))
        records.append((path, keys[0], tuple(keys[1:])))
        return copy.deepcopy(node)
