"""Environment settings: cache location, offline mode, mirrors and extra indexes."""

from __future__ import annotations

import os
from pathlib import Path


def minim_home() -> Path:
    """The shared cache folder: ``$MINIM_HOME``, else ``$XDG_CACHE_HOME/minim``, else ``~/.cache/minim``."""
    explicit = os.environ.get("MINIM_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "minim"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def offline() -> bool:
    """True when ``MINIM_OFFLINE`` is set to a true value: never touch the network.  A value that is neither
    true nor false is a :class:`~minim.errors.UsageError` (a typo must not silently mean online)."""
    value = os.environ.get("MINIM_OFFLINE", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    from minim.errors import UsageError

    raise UsageError(f"MINIM_OFFLINE={os.environ['MINIM_OFFLINE']!r} is neither true nor false",
                     hint="set MINIM_OFFLINE=1 to stay offline, or unset it (0/false/no/off also mean online)")


def debug() -> bool:
    """True when ``MINIM_DEBUG`` asks for tracebacks."""
    return os.environ.get("MINIM_DEBUG", "").strip().lower() in _TRUE


def mirror_spec() -> str | None:
    """The raw ``MINIM_MIRROR`` value (see :mod:`minim.net.mirror`), or None."""
    return os.environ.get("MINIM_MIRROR") or None


def extra_index_paths() -> list[Path]:
    """Extra model-index files or folders from ``MINIM_INDEX_PATH`` (os.pathsep-separated)."""
    raw = os.environ.get("MINIM_INDEX_PATH", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]
