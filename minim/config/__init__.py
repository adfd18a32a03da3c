"""Safe mmcv-style config files: parse without executing, merge ``_base_``, override, dump.

>>> from minim.config import load_config
>>> cfg = load_config("configs/resnet18_8xb16_cifar10.py")   # doctest: +SKIP
>>> cfg.merge_from_options(["model.head.num_classes=10"])      # doctest: +SKIP
>>> text = cfg.dump()                                          # doctest: +SKIP
"""

from __future__ import annotations

import os

from minim.config.configdict import Config, ConfigDict
from minim.config.options import DictAction, parse_cfg_options

__all__ = ["Config", "ConfigDict", "DictAction", "load_config", "parse_cfg_options"]


def load_config(path: str | os.PathLike, use_predefined_variables: bool = True,
                confine_to: str | os.PathLike | None = None) -> Config:
    """Load a ``.py``/``.json``/``.yaml``/``.yml`` config with its ``_base_`` chain merged, without executing it.

    Raises :class:`~minim.errors.ConfigError` naming ``file:line`` and the construct or key at fault
    (also a ``KeyError``, ``TypeError``, ``FileNotFoundError``, ... where mmcv raises those).
    ``confine_to``: a folder every ``_base_`` must lie in (index configs; user configs are free, as in mmcv).
    """
    from minim.config.loader import load_file

    loaded = load_file(path, use_predefined_variables=use_predefined_variables,
                       confine_to=None if confine_to is None else os.fspath(confine_to))
    config = Config(loaded.values, cfg_text=loaded.text, filename=path)
    config.warnings.extend(loaded.warnings)
    config._records.extend(loaded.records)
    return config
