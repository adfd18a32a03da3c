"""The search space: ``--search-args '--optimizer.lr 1e-2 1e-3 --runner.max_epochs 5 10'``.

Values are read like ``--cfg-options`` values (:func:`minim.config.parse_cfg_options`: ``1e-2``
a float, ``5`` an int, ``[1,2]`` a list, ``'x y'`` a string), never evaluated; the type may
differ from the config's current value. Every key must exist in the config.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import shlex
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from minim.errors import ConfigError, UsageError
from minim.suggest import did_you_mean

MAX_NAME_LENGTH = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+\-\[\]()]")


@dataclass(frozen=True)
class SearchKey:
    """One searched config key, its values as typed (``tokens``) and as parsed (``values``)."""

    key: str
    tokens: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Combination:
    """One point of the grid: ``{key: value}``, the ``KEY=TOKEN`` overrides, and its folder name."""

    values: dict
    options: tuple[str, ...]
    name: str


def parse_search_args(text: str | Sequence[str]) -> list[SearchKey]:
    """``'--a.b 1 2 --c=x y'`` -> search keys in the order given (shell-style quoting honoured)."""
    from minim.config.options import parse_option_value

    if isinstance(text, str):
        try:
            tokens = shlex.split(text)
        except ValueError as exc:
            raise UsageError(f"--search-args {text!r}: {exc}", hint="balance the quotes") from None
    else:
        tokens = list(text)
    if not tokens:
        raise UsageError("--search-args is empty", hint="e.g. --search-args '--optimizer.lr 0.1 0.01'")
    keys: list[tuple[str, list[str]]] = []
    for token in tokens:
        if token.startswith("--"):
            key, sep, first = token[2:].partition("=")
            if not key or any(not part for part in key.split(".")):
                raise UsageError(f"--search-args: {token!r} is not a config key such as --optimizer.lr")
            if any(key == seen for seen, _ in keys):
                raise UsageError(f"--search-args names {key} twice; give all its values after one --{key}")
            keys.append((key, [first] if sep else []))
        elif not keys:
            raise UsageError(f"--search-args must start with --KEY, got {token!r}",
                             hint="e.g. --search-args '--optimizer.lr 0.1 0.01'")
        else:
            keys[-1][1].append(token)
    out = []
    for key, values in keys:
        if not values:
            raise UsageError(f"--search-args: --{key} has no value", hint=f"e.g. --{key} VALUE1 VALUE2")
        parsed = tuple(parse_option_value(value, f"{key}={value}") for value in values)
        for i, value in enumerate(parsed):
            twin = next((j for j in range(i) if type(parsed[j]) is type(value) and parsed[j] == value), None)
            if twin is not None:
                same = values[i] if values[i] == values[twin] else f"{values[twin]} and {values[i]}"
                raise UsageError(f"--search-args: --{key} gives {same} twice; each value would run twice, "
                                 "in the same folder", hint=f"give each value of --{key} once")
        out.append(SearchKey(key, tuple(values), parsed))
    return out


def expand(space: Sequence[SearchKey]) -> list[Combination]:
    """The Cartesian product of ``space`` (first key slowest), each with a unique folder name."""
    combos = []
    for picks in itertools.product(*[range(len(k.values)) for k in space]):
        values = {k.key: k.values[i] for k, i in zip(space, picks)}
        options = tuple(f"{k.key}={k.tokens[i]}" for k, i in zip(space, picks))
        combos.append(Combination(values, options, combination_name(values)))
    names = [c.name for c in combos]
    if len(set(names)) != len(names):  # two values that read the same once made safe: tell them apart
        combos = [Combination(c.values, c.options, _with_digest(c.name, c.options)) for c in combos]
    return combos


def combination_name(values: Mapping[str, Any]) -> str:
    """``optimizer.lr=0.01,runner.max_epochs=5``: safe as a folder name on every OS (long ones shortened)."""
    name = ",".join(f"{key}={_value_text(value)}" for key, value in values.items())
    name = _UNSAFE.sub("_", name)
    if len(name) > MAX_NAME_LENGTH:
        name = _with_digest(name[: MAX_NAME_LENGTH - 9], [name])
    return name


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        inner = ",".join(_value_text(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def _with_digest(name: str, parts: Sequence[str]) -> str:
    digest = hashlib.sha1("\0".join(parts).encode()).hexdigest()[:8]
    return f"{name}-{digest}"


# --- checks against the config ------------------------------------------------------------------
_MISSING = object()


def lookup(cfg: Any, key: str) -> Any:
    """The value at dotted ``key`` (numeric parts index lists), or :data:`_MISSING`."""
    node = cfg
    for part in key.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def dotted_keys(cfg: Any, prefix: str = "") -> list[str]:
    """Every dotted key of ``cfg`` (dicts and lists walked), for "did you mean"."""
    keys = []
    items = cfg.items() if isinstance(cfg, Mapping) else enumerate(cfg) if isinstance(cfg, (list, tuple)) else []
    for part, value in items:
        key = f"{prefix}{part}"
        keys.append(key)
        keys.extend(dotted_keys(value, key + "."))
    return keys


def check_keys(cfg: Any, space: Sequence[SearchKey], config_name: str) -> None:
    """Every searched key must exist in the config (one line naming it, with "did you mean")."""
    for item in space:
        if lookup(cfg, item.key) is _MISSING:
            raise ConfigError(f"--search-args: {item.key} is not in {config_name}",
                              hint=did_you_mean(item.key, dotted_keys(cfg)) or
                              "search keys the config has (minim run cls print_config CONFIG shows them)")


def is_missing(value: Any) -> bool:
    return value is _MISSING
