"""Stale intermediate variables: values a base built from a variable that a child later redefines.

While a file is evaluated, each read of a top-level variable is recorded as
``(path, variable, keys)``: the value at ``path`` of the config was built from
``variable[keys...]`` (e.g. ``(('data', 'train', 'pipeline'), 'train_pipeline', ())``).
When a child (or ``--cfg-options``) changes that part of the variable but the merged
config still holds the base's value at ``path``, the user almost certainly expected the
change to propagate: mmcv resolves variables when the base is loaded, so it does not.
"""

from __future__ import annotations

from typing import Iterable

from minim.config.values import dotted, get_path, identical

Record = tuple  # (path: tuple, variable: str, keys: tuple)
MAX_LISTED = 6


def copies_of(values: dict, variables: Iterable[str]) -> list[Record]:
    """Records for the places that hold a copy of a variable's list or dict value.

    A flattened config (``minim download``, ``print_config``) keeps no reference from
    ``data.test.pipeline`` to ``test_pipeline``, only equal values: an identical list or dict is taken
    as built from the variable, and so is a dict holding all of a dict variable's items (a
    ``dict(type='Normalize', **img_norm_cfg)`` step). Scalars are left out (an equal number proves nothing).
    """
    found: list[Record] = []
    for var in variables:
        value = values.get(var)
        if not (isinstance(value, (list, tuple)) and value or isinstance(value, dict) and len(value) > 1):
            continue
        for path, item in _items(values):
            if path[0] == var:
                continue
            if identical(item, value):
                found.append((path, var, ()))
            elif isinstance(value, dict) and isinstance(item, dict) and all(
                    key in item and identical(item[key], part) for key, part in value.items()):
                found.extend((path + (key,), var, (key,)) for key in value)
    return found


def with_copies(records: list[Record], values: dict, redefined: Iterable[str]) -> list[Record]:
    """``records`` plus, for redefined variables nothing was recorded as built from, their copies."""
    referenced = {record[1] for record in records}
    return records + copies_of(values, [var for var in redefined if var not in referenced])


def _items(tree, path: tuple = ()):
    """``(path, value)`` of every entry of nested dicts and lists."""
    entries = tree.items() if isinstance(tree, dict) else enumerate(tree)
    for key, value in entries:
        yield path + (key,), value
        if isinstance(value, (dict, list, tuple)):
            yield from _items(value, path + (key,))


def surviving(records: Iterable[Record], old: dict, new: dict) -> list[Record]:
    """The records whose path still holds the same value after ``old`` became ``new``."""
    return [r for r in records if identical(get_path(new, r[0]), get_path(old, r[0]))]


def stale_paths(records: Iterable[Record], old: dict, new: dict,
                redefined: Iterable[str]) -> dict[str, list[tuple[tuple, tuple]]]:
    """``{variable: [(path, keys)]}`` for variables in ``redefined`` whose change did not reach the
    paths built from them. A path nested in another reported path is left out (the outer one says it all).
    """
    redefined = set(redefined)
    found: list[tuple[str, tuple, tuple]] = []
    for path, var, keys in records:
        if var not in redefined or path[0] == var:
            continue
        if not identical(get_path(new, path), get_path(old, path)):
            continue  # the child overrode this place too
        if identical(get_path(new, (var,) + keys), get_path(old, (var,) + keys)):
            continue  # the part of the variable used here did not change
        found.append((var, path, keys))
    paths = {path for _, path, _ in found}
    result: dict[str, list[tuple[tuple, tuple]]] = {}
    for var, path, keys in found:
        if any(path[:n] in paths for n in range(1, len(path))):
            continue
        places = result.setdefault(var, [])
        if all(path != seen for seen, _ in places):
            places.append((path, keys))
    return result


def stale_warning(var: str, places: list[tuple[tuple, tuple]], where: str, origin: str | None) -> str:
    """The message for a variable redefined in config file ``where``, with the reassignment that fixes it."""
    since = f" from {origin}" if origin else ""
    return (f"{var!r} is redefined in {where}, but {_listing(places)} the value built from its old "
            f"definition{since}; {_fix(var, places)} so that the new value is used")


def stale_option_warning(var: str, places: list[tuple[tuple, tuple]], option_keys: Iterable[str]) -> str:
    """The message for a variable changed by ``--cfg-options``, suggesting the matching overrides."""
    option_keys = list(option_keys)  # read once per place
    suggestions = []
    for path, keys in places:
        prefix = [var] + [str(key) for key in keys]
        for option in option_keys:
            parts = option.split(".")
            if parts[:len(prefix)] == prefix:
                suggestions.append(dotted(path + tuple(parts[len(prefix):])))
    fix = f"also override {', '.join(dict.fromkeys(suggestions))}" if suggestions else "override those keys too"
    return f"--cfg-options changes {var!r}, but {_listing(places)} its old value; {fix}"


def _listing(places: list[tuple[tuple, tuple]]) -> str:
    paths = [path for path, _ in places]
    shown = ", ".join(dotted(p) for p in paths[:MAX_LISTED])
    if len(paths) > MAX_LISTED:
        shown += f" and {len(paths) - MAX_LISTED} more"
    return shown + (" still holds" if len(paths) == 1 else " still hold")


def _fix(var: str, places: list[tuple[tuple, tuple]]) -> str:
    """The reassignments that make every stale place use the new value, e.g.
    ``reassign data = dict(val=dict(pipeline=test_pipeline), test=dict(pipeline=test_pipeline))``."""
    trees: dict[str, dict] = {}
    for path, keys in places:
        if not all(isinstance(part, str) and part.isidentifier() for part in path):
            return f"reassign {path[0]} in the child config"
        expression = var + "".join(f"[{key!r}]" for key in keys)
        node = trees.setdefault(path[0], {})
        for name in path[1:-1]:
            node = node.setdefault(name, {})
        if len(path) == 1:
            return f"reassign {path[0]} = {expression}"
        node[path[-1]] = expression
    return "; ".join(f"reassign {top} = {_render(tree)}" for top, tree in trees.items())


def _render(tree: dict) -> str:
    return "dict(" + ", ".join(f"{k}={_render(v) if isinstance(v, dict) else v}" for k, v in tree.items()) + ")"
