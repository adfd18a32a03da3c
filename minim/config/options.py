"""``--cfg-options KEY=VALUE ...``: mmcv ``DictAction`` value parsing, and dotted keys to nested dicts.

Values: ``[a,b]`` is a list, ``(a,b)`` a tuple (nesting allowed), a bare ``a,b`` a list, ``{...}`` a
Python dict literal (``{'topk': (1, 5)}``; mmcv keeps it a string); a scalar
is tried as ``int``, then ``float``, then ``true``/``false`` (any case), then ``None``, else it
stays a string. Unlike mmcv, spaces are not deleted, and a quoted value (``'x y'`` or ``"1"``) is
kept verbatim as a string.
"""

from __future__ import annotations

import argparse
from typing import Any, Iterable

from minim.config.keys import DELETE_KEY
from minim.errors import ConfigAssertionError, ConfigError
from minim.suggest import did_you_mean

_CLOSING = {"[": "]", "(": ")", "{": "}"}
_QUOTES = "'\""


class DictAction(argparse.Action):
    """mmcv's argparse action for ``--cfg-options KEY=VALUE ...`` (use with ``nargs='+'``): the values parsed
    as :func:`parse_cfg_options` does, merged into one dict over repeated uses of the option."""

    def __call__(self, parser, namespace, values, option_string=None):
        options = dict(getattr(namespace, self.dest, None) or {})
        options.update(parse_cfg_options(values))
        setattr(namespace, self.dest, options)


def parse_cfg_options(pairs: Iterable[str] | str) -> dict[str, Any]:
    """``["a.b=1", "c=[1,2]"]`` -> ``{"a.b": 1, "c": [1, 2]}``; bad pairs raise ConfigError."""
    try:
        return _parse_pairs(pairs)
    except RecursionError:
        raise ConfigError("--cfg-options: a value is nested too deeply", "nest lists a few levels at most") from None


def _parse_pairs(pairs: Iterable[str] | str) -> dict[str, Any]:
    if isinstance(pairs, str):
        pairs = [pairs]
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--cfg-options: {pair!r} is not KEY=VALUE", "write e.g. model.head.num_classes=10")
        if not key or any(not part.strip() for part in key.split(".")):
            raise ConfigError(f"--cfg-options: {pair!r} has an empty key or key part",
                              "write a dotted key such as optimizer.lr=0.01")
        options[key] = parse_option_value(raw, pair)
    return options


def parse_option_value(text: str, pair: str | None = None) -> Any:
    """Parse one ``--cfg-options`` value (see the module docstring)."""
    pair = text if pair is None else pair
    text = text.strip()
    if _is_quoted(text):
        return text[1:-1]
    if text.startswith("{"):
        if _closing_index(text, pair) != len(text) - 1:
            raise ConfigError(f"--cfg-options: {pair!r}: text after a dict literal's closing brace")
        return _dict_literal(text, pair)
    if text[:1] in _CLOSING and _closing_index(text, pair) == len(text) - 1:
        items = _split_items(text[1:-1], pair)
        values = [parse_option_value(item, pair) for item in items]
        return tuple(values) if text[0] == "(" else values
    items = _split_items(text, pair)
    if len(items) > 1 or text.endswith(","):
        return [parse_option_value(item, pair) for item in items]
    return _scalar(text)


def _dict_literal(text: str, pair: str) -> dict:
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, dict):
        key = pair.partition("=")[0].strip()
        raise ConfigError(f"--cfg-options: {pair!r}: a dict value must be a Python literal with quoted keys, "
                          "e.g. {'topk': (1, 5)}",
                          hint=f"or set each key with a dotted name: {key}.<name>=<value>")
    return value


def _scalar(text: str) -> Any:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text == "None":
        return None
    return text


def _is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] in _QUOTES and text[-1] == text[0] and text.find(text[0], 1) == len(text) - 1


def _closing_index(text: str, pair: str) -> int:
    """Index of the bracket closing ``text[0]`` (a closer of another kind is an error)."""
    stack = []
    for index, char, quoted in _scan(text, pair):
        if quoted:
            continue
        if char in _CLOSING:
            stack.append(_CLOSING[char])
        elif char in ")]}":
            if not stack or stack.pop() != char:
                break
            if not stack:
                return index
    raise ConfigAssertionError(f"--cfg-options: unbalanced brackets in {pair!r}", "quote the whole pair in the shell")


def _split_items(text: str, pair: str) -> list[str]:
    """Split on commas outside brackets and quotes; a trailing empty item (``1,`` or ``[]``) is dropped."""
    items, start, stack = [], 0, []
    for index, char, quoted in _scan(text, pair):
        if quoted:
            continue
        if char in _CLOSING:
            stack.append(_CLOSING[char])
        elif char in ")]}":
            if not stack or stack.pop() != char:
                raise ConfigAssertionError(f"--cfg-options: unbalanced brackets in {pair!r}",
                                   "quote the whole pair in the shell")
        elif char == "," and not stack:
            items.append(text[start:index])
            start = index + 1
    if stack:
        raise ConfigAssertionError(f"--cfg-options: unbalanced brackets in {pair!r}",
                                   "quote the whole pair in the shell")
    items.append(text[start:])
    if items and not items[-1].strip():
        items.pop()
    return items


def _scan(text: str, pair: str):
    """Yield ``(index, char, inside_quotes)``; a quote opens a string only at the start of an item."""
    quote = None
    item_start = True
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
            yield index, char, True
            continue
        if item_start and char in _QUOTES:
            quote = char
            yield index, char, True
            continue
        if not char.isspace():
            item_start = char in ",[({:"
        yield index, char, False
    if quote:
        raise ConfigError(f"--cfg-options: unterminated quote in {pair!r}")


def nest_options(options: dict[str, Any], source: str = "--cfg-options") -> dict[str, Any]:
    """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}``. A dotted key may add to a dict given for its
    prefix (``{"a": {"b": 1}, "a.c": 2}``); any other key that is also a prefix of another is an error."""
    nested: dict[str, Any] = {}
    created: set[int] = set()  # ids of the dicts made here for dotted prefixes
    for full_key, value in options.items():
        parts = full_key.split(".") if isinstance(full_key, str) else [full_key]
        node = nested
        for depth, part in enumerate(parts[:-1]):
            if part not in node or (isinstance(node[part], dict) and id(node[part]) not in created):
                node[part] = dict(node.get(part, {}))  # a copy: the caller's dict is never changed
                created.add(id(node[part]))
            elif id(node[part]) not in created:
                raise _conflict(".".join(parts[:depth + 1]), full_key, source)
            node = node[part]
        last = parts[-1]
        if last in node:
            raise _conflict(".".join(map(str, parts)), full_key, source)
        node[last] = value
    return nested


def _conflict(first: str, second: str, source: str) -> ConfigError:
    if first == second:
        return ConfigError(f"{source}: {first!r} conflicts with another option setting the same key or a key below it",
                           "set a key or its sub-keys, not both")
    return ConfigError(f"{source}: options {first!r} and {second!r} conflict", "set a key or its sub-keys, not both")


def misspelt_keys(options: dict[str, Any], config: dict[str, Any], source: str = "--cfg-options") -> list[str]:
    """Warnings for override keys that add a new key where the config has a close one (``optimzer.lr``
    next to ``optimizer``): adding keys is allowed, so a likely typo is a warning, not an error."""
    found = []
    for full_key in options:
        parts = full_key.split(".") if isinstance(full_key, str) else [full_key]
        node: Any = config
        for depth, part in enumerate(parts):
            if isinstance(node, list) and str(part).isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                if isinstance(node, dict) and part != DELETE_KEY:
                    hint = did_you_mean(str(part), [k for k in node if isinstance(k, str)], cutoff=0.75)
                    if hint:
                        where = ".".join(map(str, parts[:depth + 1]))
                        found.append(f"{source} {full_key}: the config has no key {where!r} ({hint}); "
                                     "it is added as a new key")
                break
    return found

