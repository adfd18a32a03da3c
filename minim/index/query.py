"""Filtering and sorting index entries: ``--model``, ``--dataset``, ``--condition``, ``--sort``."""

from __future__ import annotations

import fnmatch
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from minim.errors import UsageError
from minim.index.schema import ENTRY_FIELDS, ModelEntry
from minim.suggest import did_you_mean

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
    ">": operator.gt, "<": operator.lt, "=": operator.eq,
}
CONDITION = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(==|!=|>=|<=|>|<|=)\s*(.+?)\s*$")
DEFAULT_FIELDS = ("name", "collection", "dataset", "top1", "top5", "params_m", "flops_g", "input_size", "digest")


def available_fields(entries: Iterable[ModelEntry]) -> list[str]:
    """Every field a search can show, filter or sort on: entry fields plus all metadata keys."""
    fields = dict.fromkeys(DEFAULT_FIELDS)
    fields.update(dict.fromkeys(ENTRY_FIELDS))
    for entry in entries:
        fields.update(dict.fromkeys(entry.metadata))
    return list(fields)


def check_field(name: str, fields: Sequence[str]) -> str:
    """Return ``name`` if it is a known field; otherwise raise listing the valid ones."""
    if name in fields:
        return name
    raise UsageError(f"unknown field {name!r}; valid fields: {', '.join(fields)}", hint=did_you_mean(name, fields))


@dataclass(frozen=True)
class Condition:
    """``field OP value``, e.g. ``top1>75`` or ``dataset==ImageNet-1k``."""

    field: str
    op: str
    value: Any

    def matches(self, entry: ModelEntry) -> bool:
        if self.field == "aliases" and self.op in ("==", "=", "!="):
            member = any(_normalise(a) == _normalise(str(self.value)) for a in entry.aliases)
            return member if self.op != "!=" else not member
        actual = entry.field_value(self.field)
        if actual is None:
            return False
        if isinstance(self.value, float):
            if not _is_number(actual):
                return False
            return OPERATORS[self.op](actual, self.value)
        if self.op in ("==", "=", "!="):
            equal = _normalise(str(actual)) == _normalise(str(self.value))
            return equal if self.op != "!=" else not equal
        return OPERATORS[self.op](str(actual).lower(), str(self.value).lower())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric_fields(entries: Iterable[ModelEntry], fields: Sequence[str]) -> set[str]:
    """The fields whose every present value is a number (``top1``, ``params_m``, ...)."""
    entries = list(entries)
    numeric = set()
    for name in fields:
        values = [v for v in (e.field_value(name) for e in entries) if v is not None]
        if values and all(_is_number(v) for v in values):
            numeric.add(name)
    return numeric


def _normalise(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def parse_condition(text: str, fields: Sequence[str], numeric: Iterable[str] = ()) -> Condition:
    """Parse one ``--condition`` expression; a ``numeric`` field takes only a number."""
    match = CONDITION.match(text)
    if not match:
        raise UsageError(
            f"malformed condition {text!r}: expected FIELD OP VALUE with OP one of == != >= <= > < "
            f"(e.g. 'top1>75'); valid fields: {', '.join(fields)}"
        )
    field, op, raw = match.groups()
    check_field(field, fields)
    raw = raw.strip("'\"")
    parts = [part.strip() for part in re.split(r",|&&|\band\b", raw)]
    if len(parts) > 1 and any(CONDITION.match(part) for part in parts[1:]):
        rest = [part for part in parts[1:] if part]
        raise UsageError(f"condition {text!r} holds more than one test; give each its own --condition",
                         hint="e.g. " + " ".join(f"--condition '{c}'" for c in [f"{field}{op}{parts[0]}", *rest]))
    try:
        value: Any = float(raw[:-1] if raw.endswith("%") else raw)  # top1>70% reads as top1>70
    except ValueError:
        value = raw
    if field in set(numeric) and not isinstance(value, float):
        raise UsageError(f"condition {text!r}: {field} is a number, but {raw!r} is not one",
                         hint=f"e.g. --condition '{field}{op}70'")
    return Condition(field, op, value)


def matches_pattern(entry: ModelEntry, pattern: str) -> bool:
    """``--model``: a glob (``*?[``) or a substring over name, aliases and collection, case-insensitive."""
    pattern = pattern.lower()
    haystack = [entry.name.lower(), entry.collection.lower(), *(a.lower() for a in entry.aliases)]
    if any(ch in pattern for ch in "*?["):
        return any(fnmatch.fnmatchcase(text, pattern) for text in haystack)
    return any(pattern in text or _normalise(pattern) in _normalise(text) for text in haystack)


def sort_entries(entries: list[ModelEntry], keys: Sequence[str], descending: bool) -> list[ModelEntry]:
    """Sort by several fields; entries lacking a value go last whatever the direction."""
    result = list(entries)
    for key in reversed(keys):
        present = [e for e in result if e.field_value(key) is not None]
        missing = [e for e in result if e.field_value(key) is None]
        present.sort(key=lambda e: _sort_key(e.field_value(key)), reverse=descending)
        result = present + missing
    return result


def group_by_collection(entries: list[ModelEntry]) -> list[ModelEntry]:
    """Index order, but each family together (``MobileNetV2`` and mmcls's ``MobileNet V2`` are one family), families
    in the order they first appear."""
    first: dict[str, int] = {}
    for entry in entries:
        first.setdefault(_normalise(entry.collection), len(first))
    return sorted(entries, key=lambda e: first[_normalise(e.collection)])


def _sort_key(value: Any):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, str(value).lower())
