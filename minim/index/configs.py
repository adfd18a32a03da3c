"""Turn a CONFIG argument (a file or an index name/alias) into a config file path."""

from __future__ import annotations

from pathlib import Path

from minim.errors import ConfigError

CONFIG_SUFFIXES = (".py", ".json", ".yaml", ".yml")


def resolve_config_path(codebase: str, spec: str | Path) -> Path:
    """A config file given as a path, or the config of the index entry named ``spec``."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    text = str(spec)
    if path.suffix in CONFIG_SUFFIXES or "/" in text or "\\" in text:
        if path.is_dir():
            raise ConfigError(f"{path} is a folder, not a config file")
        raise ConfigError(f"config file {path} does not exist")
    from minim.index import load_index

    entry = load_index(codebase).resolve(text)
    if not entry.config_path.is_file():
        raise ConfigError(f"{entry.index_file}: model {entry.name!r}: config file {entry.config_path} does not exist")
    return entry.config_path


def load_config_arg(codebase: str, spec: str | Path, cfg_options=()):
    """Load CONFIG (file or index name) and apply ``--cfg-options`` pairs."""
    from minim.config import load_config

    cfg = load_config(resolve_config_path(codebase, spec))
    if cfg_options:
        cfg.merge_from_options(list(cfg_options))
    return cfg
