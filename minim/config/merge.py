"""mmcv 1.x merge rules, shared by ``_base_`` inheritance and ``--cfg-options`` overrides.

* a child dict merges key by key into a base dict; every other child value replaces the base value
  (lists are replaced, never merged element-wise);
* ``_delete_=True`` in a child dict replaces the base value instead of merging; the ``_delete_`` key
  is always consumed, also on keys the base does not have (mmcv leaves it there);
* a child dict over a base value that is not a dict is an error that suggests ``_delete_=True``;
* with ``list_indices`` (overrides only), numeric keys of a child dict index into a base list or tuple.

Inputs are never modified: the result shares untouched base subtrees and holds copies of child values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from minim.config.keys import DELETE_KEY
from minim.config.values import dotted
from minim.errors import ConfigKeyError, ConfigTypeError


@dataclass
class MergeContext:
    """Where the child values come from, for error messages."""

    source: str                                   #: child file name, or ``--cfg-options``
    locate: Callable[[tuple], str] = lambda path: ""  #: ``":line"`` of a child path, or ""
    base_origin: Callable[[tuple], str] = lambda path: "the base config"
    list_indices: bool = False
    delete_hint: Callable[[tuple], str] | None = None


def merge(child: dict, base: dict, context: MergeContext) -> dict:
    """``base`` updated with ``child`` by the rules of the module docstring."""
    return _merge_dict(child, base, (), context)


def consume(value: Any) -> Any:
    """A copy of a child value with every ``_delete_`` key removed."""
    if isinstance(value, dict):
        return {key: consume(item) for key, item in value.items() if key != DELETE_KEY}
    if isinstance(value, list):
        return [consume(item) for item in value]
    if isinstance(value, tuple):
        return tuple(consume(item) for item in value)
    return value


def _merge_dict(child: dict, base: dict, path: tuple, context: MergeContext) -> dict:
    result = dict(base)
    for key, value in child.items():
        if key == DELETE_KEY:
            continue
        if key in result:
            result[key] = _merge_value(value, result[key], path + (key,), context)
        else:
            result[key] = consume(value)
    return result


def _merge_value(value: Any, old: Any, path: tuple, context: MergeContext) -> Any:
    if not isinstance(value, dict) or value.get(DELETE_KEY, False):
        return consume(value)
    if isinstance(old, dict):
        return _merge_dict(value, old, path, context)
    if context.list_indices and isinstance(old, (list, tuple)):
        return _merge_sequence(value, old, path, context)
    raise _clash(path, old, context)


def _merge_sequence(child: dict, base: list | tuple, path: tuple, context: MergeContext) -> list | tuple:
    items = list(base)
    for key, value in child.items():
        if key == DELETE_KEY:
            continue
        index = _as_index(key)
        if index is None:
            raise ConfigTypeError(f"{context.source}{context.locate(path)}: {dotted(path + (key,))}: "
                                  f"{dotted(path)} is a {type(base).__name__}; index it with a number 0..{len(items) - 1}")
        if index >= len(items):
            raise ConfigKeyError(f"{context.source}{context.locate(path)}: {dotted(path + (key,))}: index {index} is "
                                 f"out of range for {dotted(path)} (a {type(base).__name__} of length {len(items)})")
        items[index] = _merge_value(value, items[index], path + (index,), context)
    return tuple(items) if isinstance(base, tuple) else items


def _as_index(key: Any) -> int | None:
    if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
        return key
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return None


def _clash(path: tuple, old: Any, context: MergeContext) -> ConfigTypeError:
    shown = repr(old)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    hint = context.delete_hint(path) if context.delete_hint else f"add _delete_=True to {dotted(path)} to replace it"
    return ConfigTypeError(
        f"{context.source}{context.locate(path)}: {dotted(path)}: cannot merge a dict into {shown} "
        f"({type(old).__name__}) from {context.base_origin(path)}", hint)
