"""``ConfigDict`` (a dict with attribute access) and ``Config`` (a whole config with its file name,
warnings, overrides and dump)."""

from __future__ import annotations

import copy
import os
from typing import Any, Iterable

from minim.config import provenance
from minim.config.keys import DELETE_KEY, RESERVED_KEYS
from minim.config.merge import MergeContext, merge
from minim.config.options import misspelt_keys, nest_options, parse_cfg_options
from minim.config.values import dotted, to_plain
from minim.errors import ConfigError
from minim.suggest import did_you_mean


def _wrap(value: Any) -> Any:
    if isinstance(value, ConfigDict):
        return value
    if isinstance(value, dict):
        return ConfigDict(value)
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_wrap(item) for item in value)
    return value


class ConfigDict(dict):
    """A dict whose keys are also attributes (``cfg.model.head.num_classes``); nested dicts, also
    inside lists and tuples, are ConfigDicts. A missing attribute raises AttributeError with a
    did-you-mean hint. Dict methods (``items``, ``copy``...) win over keys of the same name."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()
        self.update(*args, **kwargs)

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, _wrap(value))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            hint = did_you_mean(name, [key for key in self if isinstance(key, str)])
            raise AttributeError(f"config key {name!r} is missing" + (f" ({hint})" if hint else "")) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"config key {name!r} is missing") from None

    def __dir__(self) -> Iterable[str]:
        return list(super().__dir__()) + [key for key in self if isinstance(key, str) and key.isidentifier()]

    def copy(self) -> "ConfigDict":
        """A shallow copy of the same type."""
        return copy.copy(self)

    def __reduce__(self):
        return type(self), (dict(self),)

    def to_dict(self) -> dict:
        """A deep copy made of plain dicts, lists and tuples."""
        return to_plain(self)


class Config(ConfigDict):
    """A loaded config: a :class:`ConfigDict` with ``filename``, ``warnings``, overrides and dump."""

    def __init__(self, cfg_dict: dict | None = None, filename: str | os.PathLike | None = None):
        cfg_dict = {} if cfg_dict is None else cfg_dict
        for key in RESERVED_KEYS:
            if key in cfg_dict:
                raise ConfigError(f"{filename or 'config'}: {key!r} is a reserved name and cannot be a config key",
                                  "rename it")
        object.__setattr__(self, "_filename", None if filename is None else os.fspath(filename))
        object.__setattr__(self, "_warnings", [])
        object.__setattr__(self, "_records", [])
        super().__init__(cfg_dict)

    @classmethod
    def from_dict(cls, cfg_dict: dict, filename: str | os.PathLike | None = None) -> "Config":
        """A Config holding a copy of ``cfg_dict``."""
        return cls(cfg_dict, filename=filename)

    @classmethod
    def fromfile(cls, filename: str | os.PathLike) -> "Config":
        """mmcv's ``Config.fromfile``: :func:`minim.config.load_config`."""
        from minim.config import load_config

        return load_config(filename)

    @property
    def filename(self) -> str | None:
        """The file the config was loaded from (None for one built from a dict)."""
        return self._filename

    @property
    def warnings(self) -> list[str]:
        """Problems worth telling the user about, such as stale intermediate variables."""
        return self._warnings

    @property
    def pretty_text(self) -> str:
        """The flattened Python text of :meth:`dump`."""
        return self.dump()

    def __reduce__(self):
        return _restore_config, (dict(self), self._filename, list(self._warnings), list(self._records))

    def merge_from_dict(self, options: dict[str, Any]) -> None:
        """Apply overrides given as dotted keys (``{'model.head.num_classes': 10}``), with the merge rules of
        ``_base_``: numeric parts index into lists, ``x._delete_=True`` replaces ``x``, and a dict cannot be
        merged into a non-dict. Adds a warning when an override of an intermediate variable does not reach
        the keys built from it, and when a new key sits next to a close existing one (a likely typo)."""
        source = "--cfg-options"
        nested = nest_options(options, source)
        context = MergeContext(source=source, list_indices=True, base_origin=lambda path: "the config",
                               delete_hint=lambda path: f"also pass {dotted(path + (DELETE_KEY,))}=True to replace it")
        old = dict(self)
        merged = merge(nested, old, context)
        self._warnings.extend(w for w in misspelt_keys(options, old, source) if w not in self._warnings)
        redefined = [key for key in nested if key in old]
        records = provenance.with_copies(self._records, old, redefined)
        for var, places in provenance.stale_paths(records, old, merged, redefined).items():
            self._warnings.append(provenance.stale_option_warning(var, places, map(str, options)))
        object.__setattr__(self, "_records", provenance.surviving(self._records, old, merged))
        dict.clear(self)
        self.update(merged)

    def merge_from_options(self, pairs: Iterable[str]) -> None:
        """Apply ``--cfg-options`` pairs such as ``['optimizer.lr=0.01', 'data.train.pipeline.1.size=32']``."""
        self.merge_from_dict(parse_cfg_options(pairs))

    def dump(self, path: str | os.PathLike | None = None) -> str:
        """The flattened, self-contained ``.py`` text; with ``path``, also write it there atomically in the format
        of its suffix (``.py``, ``.json``, ``.yaml``/``.yml``)."""
        from minim.atomic import write_text_atomic
        from minim.config.dump import format_as, format_python

        if path is None:
            return format_python(self)
        text = format_as(self, os.path.splitext(os.fspath(path))[1])
        write_text_atomic(path, text)
        return text

    def __copy__(self) -> "Config":
        clone = type(self)(dict(self), self._filename)
        clone._warnings.extend(self._warnings)
        clone._records.extend(self._records)
        return clone

    def __deepcopy__(self, memo: dict) -> "Config":
        return _restore_config(copy.deepcopy(dict(self), memo), self._filename, list(self._warnings),
                               list(self._records))

    def __repr__(self) -> str:
        return f"Config(filename={self._filename!r}, {dict.__repr__(self)})"


def _restore_config(values: dict, filename: str | None, warnings: list[str], records: list) -> Config:
    config = Config(values, filename)
    config._warnings.extend(warnings)
    config._records.extend(records)
    return config
