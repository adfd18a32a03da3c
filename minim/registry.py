"""Registries: map the ``type`` names of config dicts to the classes or functions that build them.

Example::

    BACKBONES = Registry("backbone")

    @BACKBONES.register()
    class ResNet(nn.Module): ...

    BACKBONES.build(dict(type="ResNet", depth=18))
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Iterable, Mapping

from minim.errors import BuildError
from minim.suggest import did_you_mean


class Registry:
    """A name -> builder table with did-you-mean errors for unknown types."""

    def __init__(self, kind: str):
        self.kind = kind
        self._builders: dict[str, Callable[..., Any]] = {}
        self._lazy: dict[str, str] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._builders or name in self._lazy

    def __len__(self) -> int:
        return len(set(self._builders) | set(self._lazy))

    def names(self) -> list[str]:
        """Registered type names (lazy ones included), sorted."""
        return sorted(set(self._builders) | set(self._lazy))

    def register_lazy(self, names: Iterable[str], module: str) -> None:
        """Declare that importing ``module`` registers ``names``; it is imported on first use.

        Keeps heavy or rarely used builders (timm-based backbones) out of the import of the
        registry's package, while config checks still know every type name.
        """
        for name in names:
            self._lazy[name] = module

    def get(self, name: str) -> Callable[..., Any]:
        """The builder registered as ``name``; unknown names raise :class:`BuildError`."""
        if name not in self._builders and name in self._lazy:
            module = self._lazy[name]
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
                raise BuildError(f"{self.kind} type {name!r} is not supported by this version of minim") from None
            if name not in self._builders:
                raise BuildError(f"{self.kind} type {name!r}: module {self._lazy[name]} did not register it")
        self.check_name(name)
        return self._builders[name]

    def check_name(self, name: str) -> None:
        """Raise :class:`BuildError` (with the closest names) unless ``name`` is registered; imports nothing."""
        if name not in self:
            raise BuildError(f"unknown {self.kind} type {name!r}; registered: {', '.join(self.names())}",
                             hint=did_you_mean(name, self.names()))

    def register(self, name: str | None = None, *, force: bool = False):
        """Decorator registering a class or function under ``name`` (default: its own name)."""

        def decorator(obj):
            key = name or obj.__name__
            if key in self._builders and not force and self._builders[key] is not obj:
                raise BuildError(f"{self.kind} type {key!r} is already registered")
            self._builders[key] = obj
            return obj

        return decorator

    def build(self, cfg: Mapping[str, Any], **default_args: Any) -> Any:
        """Build an object from ``cfg`` (a dict with ``type``); ``default_args`` fill missing keys."""
        if not isinstance(cfg, Mapping):
            raise BuildError(f"a {self.kind} config must be a dict with a 'type' key, got {cfg!r}")
        args = dict(cfg)
        if "type" not in args:
            raise BuildError(f"{self.kind} config {dict(cfg)!r} has no 'type' key")
        type_name = args.pop("type")
        for key, value in default_args.items():
            args.setdefault(key, value)
        builder = self.get(type_name) if isinstance(type_name, str) else type_name
        _check_arguments(self.kind, type_name, builder, args)
        try:
            return builder(**args)
        except BuildError:
            raise
        except (TypeError, ValueError) as exc:
            raise BuildError(f"cannot build {self.kind} {type_name!r}: {exc}") from exc


def _check_arguments(kind: str, type_name: str, builder: Callable[..., Any], args: Mapping[str, Any]) -> None:
    """Reject keyword arguments the builder does not take, suggesting the closest ones."""
    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError):
        return
    parameters = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [n for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in args:
        if key not in accepted:
            raise BuildError(
                f"{kind} {type_name!r} got an unexpected argument {key!r}; it takes: {', '.join(accepted)}",
                hint=did_you_mean(key, [*accepted, "type"]),
            )
