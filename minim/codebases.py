"""Codebases (``cls`` and any a plug-in adds) discovered through the ``minim.codebases`` entry points.

A codebase is a :class:`Codebase` object: its model index, its ``minim run`` tools and
the module that implements ``train``/``test``/``infer`` for it. Discovery reads only
package metadata, so listing codebases never imports torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from minim.errors import MinimError, NotFoundError
from minim.suggest import did_you_mean

ENTRY_POINT_GROUP = "minim.codebases"
BUILTIN = {"cls": "minim.cls.codebase:CODEBASE"}


@dataclass(frozen=True)
class Codebase:
    """What minim needs to know about one codebase."""

    name: str
    description: str
    #: returns the built-in index file of the codebase (a JSON file)
    index_file: Callable[[], Path]
    #: ``minim run`` tool name -> "module:attribute" of a click command
    tools: Mapping[str, str] = field(default_factory=dict)
    #: module with ``train``/``test``/``infer`` command implementations, or None
    engine: str | None = None
    #: module with the codebase's metric rules, for generic layers (gridsearch): ``metric_keys(metric,
    #: metric_options, num_classes)`` (the keys an evaluation logs) and ``infer_rule(key)`` ('greater'/'less')
    metrics: str | None = None

    def load_tool(self, name: str):
        """Import and return the click command of tool ``name``."""
        if name not in self.tools:
            raise NotFoundError(
                f"codebase {self.name!r} has no tool {name!r}; known tools: {', '.join(sorted(self.tools))}",
                hint=did_you_mean(name, self.tools),
            )
        return _load_object(self.tools[name])

    def engine_function(self, name: str) -> Callable:
        """The engine's function ``name`` (``train``, ``test``, ``infer``, ``launch_preflight``)."""
        if not self.engine:
            raise NotFoundError(f"codebase {self.name!r} has no engine: it cannot {name}")
        function = getattr(importlib.import_module(self.engine), name, None)
        if function is None:
            raise NotFoundError(f"codebase {self.name!r} does not implement {name}")
        return function


    def metrics_function(self, name: str) -> Callable | None:
        """The metrics module's function ``name`` (see :attr:`metrics`), or None when the codebase has none."""
        if not self.metrics:
            return None
        return getattr(importlib.import_module(self.metrics), name, None)


def _load_object(ref: str):
    module_name, _, attribute = ref.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def _entry_point_refs() -> dict[str, str]:
    from importlib import metadata

    refs = dict(BUILTIN)
    try:
        points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # Python < 3.10
        points = metadata.entry_points().get(ENTRY_POINT_GROUP, [])
    for point in points:
        refs.setdefault(point.name, point.value)
    return refs


_cache: dict[str, Codebase] = {}


def known_codebases() -> list[str]:
    """Names of every codebase: the built-in ones and those plug-ins register."""
    return sorted(_entry_point_refs())


def get_codebase(name: str) -> Codebase:
    """The codebase called ``name``; unknown names raise :class:`NotFoundError` listing the known ones."""
    if name in _cache:
        return _cache[name]
    # built-in codebases need no scan of every installed distribution's entry points
    refs = BUILTIN if name in BUILTIN else _entry_point_refs()
    if name not in refs:
        raise NotFoundError(
            f"unknown codebase {name!r}; known codebases: {', '.join(sorted(refs))}",
            hint=did_you_mean(name, refs),
        )
    try:
        codebase = _load_object(refs[name])
    except Exception as exc:  # a broken plug-in must not look like a minim bug
        raise MinimError(f"codebase {name!r} ({refs[name]}) failed to load: {exc}") from exc
    if not isinstance(codebase, Codebase):
        raise MinimError(f"codebase {name!r} ({refs[name]}) is not a minim.codebases.Codebase")
    _cache[name] = codebase
    return codebase
