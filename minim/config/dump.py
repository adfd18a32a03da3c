"""Write a config as flattened, self-contained Python (or JSON/YAML) that reloads to the same dict.

Python output: one ``key = value`` line per top-level key in definition order; ``dict(k=v)`` for
dicts whose keys are identifiers, ``{'k': v}`` otherwise; short containers on one line, long ones
and lists of dicts one item per line. Floats use ``repr`` (exact); ``inf``/``nan`` become
``float('inf')``/``float('nan')``.
"""

from __future__ import annotations

import json
import keyword
import math
import re
import unicodedata
from typing import Any

from minim.config.keys import BASE_KEY, DEPRECATION_KEY, RESERVED_KEYS, is_key_name
from minim.config.values import dotted, find_non_data, to_plain
from minim.errors import ConfigError

WIDTH = 79
INDENT = "    "
_BRACES = re.compile(r"(?<=\{)(?=\{)")
_SPECIAL_KEYS = (BASE_KEY, DEPRECATION_KEY) + RESERVED_KEYS


def format_python(data: dict) -> str:
    """The config ``data`` as Python source (see the module docstring)."""
    found = find_non_data(data)
    if found:
        raise ConfigError(f"cannot dump: the value of {dotted(found[0])} is {found[1]}")
    for key in data:
        if not (isinstance(key, str) and _is_identifier(key) and is_key_name(key)) or key in _SPECIAL_KEYS:
            raise ConfigError(f"cannot dump key {key!r} as a Python config: top-level keys must be identifiers "
                              "that do not start with '__' and are not reserved", "dump it as .json or .yaml instead")
    # A key named like a builtin the dump calls would shadow it: fall back to pure literals.
    formatter = _Formatter(literal_only=bool({"dict", "float", "set"} & set(data)))
    lines = [f"{key} = {formatter.value(value, 0, len(key) + 3)}" for key, value in data.items()]
    return "\n".join(lines) + "\n" if lines else ""


def _is_identifier(key: Any) -> bool:
    """Keys that survive as ``name=`` / ``name = ``: Python NFKC-normalises identifiers ('ª' reads as 'a')."""
    return (isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)
            and unicodedata.normalize("NFKC", key) == key)


class _Formatter:
    def __init__(self, literal_only: bool):
        self.literal_only = literal_only

    def value(self, value: Any, depth: int, used: int) -> str:
        """``value`` formatted for a line indented ``depth`` levels with ``used`` characters before it."""
        if not isinstance(value, (dict, list, tuple, set)) or not value:
            return self.inline(value)
        if not _has_list_of_dicts(value):
            inline = self.inline(value)
            if len(INDENT) * depth + used + len(inline) + 1 <= WIDTH:
                return inline
        return self.block(value, depth)

    def block(self, value: Any, depth: int) -> str:
        pad = INDENT * (depth + 1)
        lines: list[str] = []
        if isinstance(value, dict):
            keyword_style = self._keyword_style(value)
            for key, item in value.items():
                prefix = f"{key}=" if keyword_style else f"{self.inline(key)}: "
                lines.append(pad + prefix + self.value(item, depth + 1, len(prefix)) + ",")
            opening, closing = ("dict(", ")") if keyword_style else ("{", "}")
        else:
            lines = [pad + self.value(item, depth + 1, 0) + "," for item in value]
            opening, closing = {list: ("[", "]"), tuple: ("(", ")"), set: ("{", "}")}[_kind(value)]
        return opening + "\n" + "\n".join(lines) + "\n" + INDENT * depth + closing

    def inline(self, value: Any) -> str:
        if isinstance(value, dict):
            if not value:
                return "{}"
            if self._keyword_style(value):
                return "dict(" + ", ".join(f"{key}={self.inline(item)}" for key, item in value.items()) + ")"
            return "{" + ", ".join(f"{self.inline(key)}: {self.inline(item)}" for key, item in value.items()) + "}"
        if isinstance(value, (list, tuple, set)):
            items = [self.inline(item) for item in value]
            kind = _kind(value)
            if kind is tuple:
                return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
            if kind is set:
                return "{" + ", ".join(items) + "}" if items else ("{*()}" if self.literal_only else "set()")
            return "[" + ", ".join(items) + "]"
        if isinstance(value, float):
            return self.float(value)
        if isinstance(value, str) and "{{" in value:
            # split '{{' so that a reload does not substitute {{fileDirname}}-style placeholders
            return " + ".join(repr(part) for part in _BRACES.split(value))
        return repr(value)

    def float(self, value: float) -> str:
        if math.isnan(value):
            return "(1e999 - 1e999)" if self.literal_only else "float('nan')"
        if math.isinf(value):
            text = "1e999" if self.literal_only else "float('inf')"
            return text if value > 0 else "-" + text
        return repr(value)

    def _keyword_style(self, value: dict) -> bool:
        return not self.literal_only and all(_is_identifier(key) for key in value)


def _kind(value: Any) -> type:
    return list if isinstance(value, list) else tuple if isinstance(value, tuple) else set


def _has_list_of_dicts(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_list_of_dicts(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(isinstance(item, dict) or _has_list_of_dicts(item) for item in value)
    return False


def format_as(data: dict, suffix: str) -> str:
    """``data`` rendered for a file with ``suffix`` (``.py``, ``.json``, ``.yaml``, ``.yml``)."""
    suffix = suffix.lower()
    if suffix == ".py":
        return format_python(data)
    if suffix == ".json":
        try:
            return json.dumps(to_plain(data, json_like=True), indent=4, ensure_ascii=False) + "\n"
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"cannot dump config as JSON: {exc}", "dump it as .py instead") from None
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_dump(to_plain(data, json_like=True), sort_keys=False, allow_unicode=True)
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot dump config as YAML: {exc}", "dump it as .py instead") from None
    raise ConfigError(f"cannot dump a config to {suffix or 'a file without extension'!r}",
                      "use a .py, .json, .yaml or .yml file name")


