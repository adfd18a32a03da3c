"""Turn a CONFIG argument (a file or an index name/alias) into a config file path."""

from __future__ import annotations

from pathlib import Path

from minim.errors import ConfigError

CONFIG_SUFFIXES = (".py", ".json", ".yaml", ".yml")


def resolve_config_path(codebase: str, spec: str | Path) -> Path:
    """A config file given as a path, or the config of the index entry named ``spec``."""
    return resolve_config(codebase, spec)[0]


def resolve_config(codebase: str, spec: str | Path) -> tuple[Path, Path | None]:
    """``(config file, folder its bases must stay in)``: a user's file is free (None), an index entry's config
    stays inside its index's folder."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path, None
    text = str(spec)
    if path.suffix in CONFIG_SUFFIXES or "/" in text or "\\" in text:
        if path.is_dir():
            raise ConfigError(f"{path} is a folder, not a config file")
        raise ConfigError(f"config file {path} does not exist", hint=_missing_config_hint(codebase, path))
    from minim.index import load_index

    entry = load_index(codebase).resolve(text)
    if entry.config_path is None:
        raise ConfigError(f"model {entry.name!r} is published as weights without a config",
                          hint=f"`minim download {codebase} --config {entry.name}` fetches the weights; "
                               "use them as load_from in a config of the same architecture")
    if not entry.config_path.is_file():
        raise ConfigError(f"{entry.index_file}: model {entry.name!r}: config file {entry.config_path} does not exist")
    return entry.config_path, entry.index_file.parent


def _missing_config_hint(codebase: str, path: Path) -> str | None:
    """The index model of that name, or "did you mean" a config file beside ``path`` with a close name."""
    from minim.suggest import close_matches

    if path.suffix not in CONFIG_SUFFIXES:
        for suffix in CONFIG_SUFFIXES:
            if path.with_name(path.name + suffix).is_file():
                return f"did you mean {str(path) + suffix!r}?"
    from minim.index import load_index

    if load_index(codebase).get(path.stem) is not None:
        return f"{path.stem!r} is a {codebase} index model: give its name alone to use the index config"
    if path.parent.is_dir():
        siblings = [p.name for p in path.parent.iterdir() if p.suffix in CONFIG_SUFFIXES and p.is_file()]
        matches = close_matches(path.name, siblings, n=3)
        if matches:
            return "did you mean " + " or ".join(repr(str(path.with_name(m))) for m in matches) + "?"
    return None


def load_config_arg(codebase: str, spec: str | Path, cfg_options=()):
    """Load CONFIG (file or index name) and apply ``--cfg-options`` pairs."""
    from minim.config import load_config

    path, confine_to = resolve_config(codebase, spec)
    cfg = load_config(path, confine_to=confine_to)
    if cfg_options:
        cfg.merge_from_options(list(cfg_options))
    return cfg
