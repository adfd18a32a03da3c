"""The functions and methods a config file may call: pure ones only, with size guards.

Everything a config evaluates is built from literals and these callables, so no
value ever gives access to code, files or the network.
"""

from __future__ import annotations

import functools
import math
import itertools
import operator
import re
import string
from typing import Any, Callable

#: Largest range / sequence repetition a config may build (guards against typos like 10**10).
MAX_ITEMS = 1_000_000
#: Largest integer result, in bits, of ``**`` and ``<<``.
MAX_INT_BITS = 100_000
#: Largest value a config may hold, in items, counting an object repeated inside lists each time it
#: appears (what printing, dumping or copying it costs) and a string as one item per 100 characters.
MAX_EXPANDED_ITEMS = 1_000_000
#: Longest string a config may build (padding widths and precisions included).
MAX_STRING = 10_000_000
_WIDTH = re.compile(r"\d+")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


class TooLarge(ValueError):
    """A value or string beyond the limits above."""


def expanded_size(value: Any, limit: int = MAX_EXPANDED_ITEMS) -> int:
    """Items of ``value`` counting repeats (see :data:`MAX_EXPANDED_ITEMS`); raises TooLarge past ``limit``.

    Shared sub-values are measured once (memoised by identity), so the cost follows the number of
    distinct objects, not the expanded size.
    """
    memo: dict[int, tuple[Any, int]] = {}  # id -> (the object, kept alive so that its id is not reused; size)

    def size(item: Any) -> int:
        if isinstance(item, str):
            return 1 + len(item) // 100
        if not isinstance(item, (list, tuple, dict, set, frozenset)):
            return 1
        known = memo.get(id(item))
        if known is not None:
            return known[1]
        total = 1
        for child in (itertools.chain(item.keys(), item.values()) if isinstance(item, dict) else item):
            total += size(child)
            if total > limit:
                raise TooLarge(f"a value of more than {limit:,} items (counting items repeated inside lists) "
                               "is too large for a config")
        memo[id(item)] = (item, total)
        return total

    return size(value)


def check_string_length(length: int, what: str) -> None:
    if length > MAX_STRING:
        raise TooLarge(f"{what} would build a string of {length:,} characters; a config's strings stay under "
                       f"{MAX_STRING:,}")


def check_format_spec(spec: str) -> None:
    """Widths and precisions in a format spec (``'>3000000000'``) must stay under :data:`MAX_STRING`."""
    for number in _WIDTH.findall(spec):
        check_string_length(int(number), f"format spec {spec[:40]!r}")


def check_percent_format(template: str, args: Any) -> None:
    """``template % args``: widths, precisions and ``*`` arguments under :data:`MAX_STRING`."""
    star = False
    for width, precision in _PERCENT_SPEC.findall(template):
        for part in (width, precision):
            if part == "*":
                star = True
            elif part:
                check_string_length(int(part), "a % format width")
    if star:
        for arg in args if isinstance(args, tuple) else (args,):
            if isinstance(arg, int) and not isinstance(arg, bool):
                check_string_length(abs(arg), "a % format * width")


def _range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_ITEMS:
        raise ValueError(f"range of {len(result)} items is too large for a config (limit {MAX_ITEMS})")
    return result


def _str(*args: Any) -> str:
    if args:
        expanded_size(args[0])
    return str(*args)


def _sum(iterable: Any, start: Any = 0) -> Any:
    """``sum``; concatenating lists or tuples runs in linear time and within the size limits."""
    if isinstance(start, (list, tuple)):
        items = list(iterable)
        expanded_size([start, items])
        return type(start)(itertools.chain(start, *items))
    return sum(iterable, start)


BUILTINS: dict[str, Callable] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "enumerate": enumerate,
    "float": float, "int": int, "len": len, "list": list, "max": max, "min": min,
    "range": _range, "reversed": reversed, "round": round, "set": set, "sorted": sorted,
    "str": _str, "sum": _sum, "tuple": tuple, "zip": zip,
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

    def format_field(self, value, format_spec):
        check_format_spec(format_spec)
        return super().format_field(value, format_spec)


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
        if name in _PADDING_METHODS:
            return _padded(getattr(receiver, name), name)
        if name == "replace":
            return _guarded_replace(receiver)
        if name == "format":
            return functools.partial(_FORMATTER.format, receiver)
        if name == "format_map":
            return lambda mapping: _FORMATTER.vformat(receiver, (), mapping)
    return getattr(receiver, name)


_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _padded(method: Callable, name: str) -> Callable:
    def call(*args: Any) -> str:
        if args and isinstance(args[0], int):
            check_string_length(args[0] * (len(method.__self__) if name == "expandtabs" else 1), f"str.{name}")
        return method(*args)
    return call


def _guarded_replace(receiver: str) -> Callable:
    def replace(old: str, new: str, count: int = -1) -> str:
        if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
            found = receiver.count(old) if old else len(receiver) + 1
            found = found if count < 0 else min(found, count)
            check_string_length(len(receiver) + found * (len(new) - len(old)), "str.replace")
        return receiver.replace(old, new, count)
    return replace


def _check_repeat(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(count, int):
            limit = MAX_STRING if isinstance(sequence, (str, bytes)) else MAX_EXPANDED_ITEMS
            if len(sequence) * count > limit:
                raise TooLarge(f"repeating a sequence of {len(sequence):,} items {count:,} times is too large for "
                               f"a config (limit {limit:,})")
            if isinstance(sequence, (list, tuple)) and count > 0:
                items = expanded_size(sequence) - 1
                if items * count > MAX_EXPANDED_ITEMS:
                    raise TooLarge(f"repeating a list of {items:,} items {count:,} times gives more than "
                                   f"{MAX_EXPANDED_ITEMS:,} items (counting items repeated inside lists), too large "
                                   "for a config")


def _mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        check_percent_format(left, right)
    return operator.mod(left, right)


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
    "Div": operator.truediv, "FloorDiv": operator.floordiv, "Mod": _mod,
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
