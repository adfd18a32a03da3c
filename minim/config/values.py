"""Plain config data: what may be stored, how to walk it, and exact comparison.

Config values are built only from ``None``, ``bool``, ``int``, ``float``, ``str``,
``bytes``, ``list``, ``tuple``, ``set`` and ``dict``; anything else (a range, an
iterator, a function) cannot be dumped and reloaded, so it is rejected where it is
assigned.
"""

from __future__ import annotations

import math
from typing import Any

SCALAR_TYPES = (type(None), bool, int, float, str, bytes)

#: A path that does not exist in a tree (see :func:`get_path`).
MISSING = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


def dotted(path) -> str:
    """``('data', 'train', 0)`` -> ``'data.train.0'``."""
    return ".".join(str(part) for part in path)


def describe_non_data(value: Any) -> str:
    """A short description of a value that is not config data, with the usual fix."""
    kind = type(value).__name__
    if isinstance(value, range):
        return "a range object (wrap it in list(...))"
    if callable(value):
        return f"a function ({getattr(value, '__name__', kind)}), not data"
    if hasattr(value, "__next__") or kind.startswith("dict_"):
        return f"an iterator ({kind}; wrap it in list(...) or tuple(...))"
    return f"a {kind} object, not config data"


def find_non_data(value: Any, path: tuple = ()) -> tuple[tuple, str] | None:
    """The path and description of the first part of ``value`` that is not config data, or None."""
    return _find_non_data(value, path, set())


def _find_non_data(value: Any, path: tuple, active: set[int]) -> tuple[tuple, str] | None:
    if isinstance(value, SCALAR_TYPES):
        return None
    if not isinstance(value, (dict, list, tuple, set)):
        return path, describe_non_data(value)
    if id(value) in active:
        return path, "a value that contains itself"
    active.add(id(value))
    try:
        if isinstance(value, dict):
            for key, item in value.items():
                if not _is_key_data(key):
                    return path, f"a dict with a key that is {describe_non_data(key)}"
                found = _find_non_data(item, path + (key,), active)
                if found:
                    return found
            return None
        if isinstance(value, set):
            for item in value:
                if not _is_key_data(item):
                    return path, f"a set holding {describe_non_data(item)}"
            return None
        for index, item in enumerate(value):
            found = _find_non_data(item, path + (index,), active)
            if found:
                return found
        return None
    finally:
        active.discard(id(value))


def _is_key_data(key: Any) -> bool:
    if isinstance(key, tuple):
        return all(_is_key_data(part) for part in key)
    return isinstance(key, SCALAR_TYPES)


def get_path(tree: Any, path: tuple) -> Any:
    """The value at ``path`` (dict keys and list/tuple indices), or :data:`MISSING`."""
    node = tree
    for key in path:
        if isinstance(node, dict):
            if key not in node:
                return MISSING
            node = node[key]
        elif isinstance(node, (list, tuple)) and isinstance(key, int) and not isinstance(key, bool):
            if not -len(node) <= key < len(node):
                return MISSING
            node = node[key]
        else:
            return MISSING
    return node


def identical(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` are the same config data: types matter (``1`` is not ``1.0``,
    a tuple is not a list), ``nan`` equals ``nan`` and ``0.0`` is not ``-0.0``; any dict type
    compares with any other (a ConfigDict equals the plain dict with the same items)."""
    if a is b:
        return True
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(key in b and identical(item, b[key]) for key, item in a.items())
    if isinstance(a, (list, tuple)):
        if isinstance(a, list) != isinstance(b, list) or not isinstance(b, (list, tuple)) or len(a) != len(b):
            return False
        return all(identical(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def to_plain(value: Any, *, json_like: bool = False) -> Any:
    """A copy of ``value`` built from plain dicts and lists (tuples kept unless ``json_like``,
    which also turns sets into lists for JSON/YAML writers)."""
    if isinstance(value, dict):
        return {key: to_plain(item, json_like=json_like) for key, item in value.items()}
    if isinstance(value, list) or (json_like and isinstance(value, (tuple, set))):
        return [to_plain(item, json_like=json_like) for item in value]
    if isinstance(value, tuple):
        return tuple(to_plain(item, json_like=json_like) for item in value)
    if isinstance(value, set):
        return set(value)
    return value
