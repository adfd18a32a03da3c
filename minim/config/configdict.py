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
from minim.errors import ConfigKeyError, ConfigTypeError
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
    """A loaded config: a :class:`ConfigDict` with ``filename``, ``text``, ``warnings``, overrides and dump.

    The constructor and class methods take mmcv 1.x's arguments: ``Config(cfg_dict=None,
    cfg_text=None, filename=None)``, ``Config.fromfile(filename, use_predefined_variables=True,
    import_custom_modules=True)``, ``Config.fromstring(cfg_str, file_format)``.
    """

    def __init__(self, cfg_dict: dict | None = None, cfg_text: str | None = None,
                 filename: str | os.PathLike | None = None):
        cfg_dict = {} if cfg_dict is None else cfg_dict
        if not isinstance(cfg_dict, dict):
            raise ConfigTypeError(f"cfg_dict must be a dict, got {type(cfg_dict).__name__}")
        for key in RESERVED_KEYS:
            if key in cfg_dict:
                raise ConfigKeyError(f"{filename or 'config'}: {key!r} is a reserved name and cannot be a config key",
                                     "rename it")
        object.__setattr__(self, "_filename", None if filename is None else os.fspath(filename))
        object.__setattr__(self, "_text", _source_text(cfg_text, filename))
        object.__setattr__(self, "_warnings", [])
        object.__setattr__(self, "_records", [])
        super().__init__(cfg_dict)

    @classmethod
    def from_dict(cls, cfg_dict: dict, filename: str | os.PathLike | None = None) -> "Config":
        """A Config holding a copy of ``cfg_dict``."""
        return cls(cfg_dict, filename=filename)

    @classmethod
    def fromfile(cls, filename: str | os.PathLike, use_predefined_variables: bool = True,
                 import_custom_modules: bool = True) -> "Config":
        """mmcv's ``Config.fromfile``: :func:`minim.config.load_config`.  minim never imports a config's
        ``custom_imports`` (it runs no code from configs); loading warns about them whatever
        ``import_custom_modules`` says."""
        from minim.config import load_config

        return load_config(filename, use_predefined_variables=use_predefined_variables)

    @classmethod
    def fromstring(cls, cfg_str: str, file_format: str) -> "Config":
        """A config from its source text in ``file_format`` (``'.py'``, ``'.json'``, ``'.yaml'``, ``'.yml'``)."""
        from minim.config.loader import load_text

        loaded = load_text(cfg_str, file_format)
        config = cls(loaded.values, cfg_text=cfg_str)
        config._warnings.extend(loaded.warnings)
        return config

    @property
    def _cfg_dict(self) -> "Config":
        """mmcv's name for the config's values (the config itself here)."""
        return self

    @property
    def text(self) -> str:
        """The source text: for a loaded file each file's absolute path and source, bases first (as mmcv)."""
        return self._text

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
        """The flattened, self-contained Python text of the config."""
        from minim.config.dump import format_python

        return format_python(self)

    def __reduce__(self):
        return _restore_config, (dict(self), self._filename, list(self._warnings), list(self._records), self._text)

    def merge_from_dict(self, options: dict[str, Any], allow_list_keys: bool = True) -> None:
        """Apply overrides given as dotted keys (``{'model.head.num_classes': 10}``), with the merge rules of
        ``_base_``: numeric parts index into lists, ``x._delete_=True`` replaces ``x``, and a dict cannot be
        merged into a non-dict. Adds a warning when an override of an intermediate variable does not reach
        the keys built from it, and when a new key sits next to a close existing one (a likely typo)."""
        source = "--cfg-options"
        nested = nest_options(options, source)
        context = MergeContext(source=source, list_indices=allow_list_keys, base_origin=lambda path: "the config",
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
        """The flattened, self-contained text in the format of ``path``'s suffix (``.py``, ``.json``,
        ``.yaml``/``.yml``), written there atomically; without ``path``, in the format of the file the config
        came from (``.py`` for one built from a dict), as mmcv does."""
        from minim.atomic import write_text_atomic
        from minim.config.dump import format_as

        if path is None:
            return format_as(self, os.path.splitext(self._filename or "config.py")[1] or ".py")
        text = format_as(self, os.path.splitext(os.fspath(path))[1])
        write_text_atomic(path, text)
        return text

    def __copy__(self) -> "Config":
        clone = type(self)(dict(self), self._text, self._filename)
        clone._warnings.extend(self._warnings)
        clone._records.extend(self._records)
        return clone

    def __deepcopy__(self, memo: dict) -> "Config":
        return _restore_config(copy.deepcopy(dict(self), memo), self._filename, list(self._warnings),
                               list(self._records), self._text)

    def __repr__(self) -> str:
        return f"Config(filename={self._filename!r}, {dict.__repr__(self)})"


def _restore_config(values: dict, filename: str | None, warnings: list[str], records: list,
                    text: str = "") -> Config:
    config = Config(values, text, filename)
    config._warnings.extend(warnings)
    config._records.extend(records)
    return config


def _source_text(cfg_text: str | None, filename: str | os.PathLike | None) -> str:
    """mmcv's rule: the given text, else the file's content when it exists, else ''."""
    if cfg_text is not None:
        return cfg_text
    if filename is not None and os.path.isfile(filename):
        try:
            with open(filename, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError):
            return ""
    return ""
