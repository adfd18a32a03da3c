"""The functions and methods a config file may call: pure ones only, with size guards.

Everything a config evaluates is built from literals and these callables, so no
value ever gives access to code, files or the network.
"""

from __future__ import annotations

import functools
import math
import operator
import string
from typing import Any, Callable

#: Largest range / sequence repetition a config may build (guards against typos like 10**10).
MAX_ITEMS = 1_000_000
#: Largest integer result, in bits, of ``**`` and ``<<``.
MAX_INT_BITS = 100_000


def _range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_ITEMS:
        raise ValueError(f"range of {len(result)} items is too large for a config (limit {MAX_ITEMS})")
    return result


BUILTINS: dict[str, Callable] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "enumerate": enumerate,
    "float": float, "int": int, "len": len, "list": list, "max": max, "min": min,
    "range": _range, "reversed": reversed, "round": round, "set": set, "sorted": sorted,
    "str": str, "sum": sum, "tuple": tuple, "zip": zip,
}
_BUILTIN_IDS = {id(function) for function in BUILTINS.values()}


def is_allowed_function(value: Any) -> bool:
    """True for the whitelisted builtins (config values that are functions are never called)."""
    return id(value) in _BUILTIN_IDS


class _SafeFormatter(string.Formatter):
    """``str.format`` without attribute lookups in fields (``'{0.__class__}'``)."""

    def get_field(self, field_name, args, kwargs):
        depth = 0
        for char in field_name:
            if char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            elif char == "." and depth == 0:
                raise ValueError(f"attribute access in format field {{{field_name}}} is not allowed in a config")
        return super().get_field(field_name, args, kwargs)


_FORMATTER = _SafeFormatter()

STR_METHODS = frozenset("""
    capitalize casefold center count endswith expandtabs find format format_map index isalnum isalpha
    isascii isdecimal isdigit isidentifier islower isnumeric isspace istitle isupper join ljust lower
    lstrip partition removeprefix removesuffix replace rfind rindex rjust rpartition rsplit rstrip split
    splitlines startswith strip swapcase title upper zfill
""".split())
DICT_METHODS = frozenset({"get", "copy", "keys", "values", "items"})
LIST_METHODS = frozenset({"copy", "count", "index"})
TUPLE_METHODS = frozenset({"count", "index"})
SET_METHODS = frozenset({"copy", "union", "intersection", "difference", "symmetric_difference",
                         "issubset", "issuperset", "isdisjoint"})
#: Methods refused with a "changes the value in place" explanation.
MUTATING_METHODS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault",
                              "popitem", "sort", "reverse", "add", "discard", "difference_update",
                              "intersection_update", "symmetric_difference_update"})


def allowed_methods(receiver: Any) -> frozenset[str]:
    """The method names a config may call on ``receiver``."""
    if isinstance(receiver, str):
        return STR_METHODS
    if isinstance(receiver, dict):
        return DICT_METHODS
    if isinstance(receiver, list):
        return LIST_METHODS
    if isinstance(receiver, tuple):
        return TUPLE_METHODS
    if isinstance(receiver, (set, frozenset)):
        return SET_METHODS
    return frozenset()


def bound_method(receiver: Any, name: str) -> Callable | None:
    """The callable for ``receiver.name(...)`` when the method is whitelisted, else None."""
    if name not in allowed_methods(receiver):
        return None
    if isinstance(receiver, str):
        if name == "format":
            return functools.partial(_FORMATTER.format, receiver)
        if name == "format_map":
            return lambda mapping: _FORMATTER.vformat(receiver, (), mapping)
    return getattr(receiver, name)


def _check_repeat(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(count, int):
            if len(sequence) * count > MAX_ITEMS * 10:
                raise ValueError(f"repeating a sequence {count} times is too large for a config")


def _check_pow(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if exponent * math.log2(abs(base)) > MAX_INT_BITS:
            raise ValueError(f"{base} ** {exponent} is too large for a config")


def _check_shift(value: Any, count: Any) -> None:
    if isinstance(count, int) and count > MAX_INT_BITS:
        raise ValueError(f"shifting by {count} bits is too large for a config")


def _guarded(function: Callable, check: Callable) -> Callable:
    def apply(left, right):
        check(left, right)
        return function(left, right)
    return apply


BINARY_OPERATORS: dict[str, Callable] = {
    "Add": operator.add, "Sub": operator.sub, "Mult": _guarded(operator.mul, _check_repeat),
    "Div": operator.truediv, "FloorDiv": operator.floordiv, "Mod": operator.mod,
    "Pow": _guarded(operator.pow, _check_pow), "LShift": _guarded(operator.lshift, _check_shift),
    "RShift": operator.rshift, "BitOr": operator.or_, "BitXor": operator.xor, "BitAnd": operator.and_,
}
UNARY_OPERATORS: dict[str, Callable] = {
    "UAdd": operator.pos, "USub": operator.neg, "Not": operator.not_, "Invert": operator.invert,
}
COMPARISONS: dict[str, Callable] = {
    "Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt,
    "GtE": operator.ge, "Is": operator.is_, "IsNot": operator.is_not,
    "In": lambda a, b: a in b, "NotIn": lambda a, b: a not in b,
}
