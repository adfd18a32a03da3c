"""Where downloads are cached under ``MINIM_HOME``, and an inter-process lock per file.

Layout::

    $MINIM_HOME/weights/<file name>                      URLs whose expected sha256 is known
    $MINIM_HOME/weights/by-url/<url hash>/<file name>    URLs without any digest to check
    $MINIM_HOME/locks/<hash>.lock                        one lock file per download target

The cache key is the ORIGINAL URL's file name (mirrors do not change it). When a digest is known,
every cache hit is verified against it, so two URLs sharing a file name cannot be confused silently;
without a digest the URL itself (minus query and fragment) is part of the key.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from minim.net.names import filename_from_url
from minim.settings import minim_home


def weights_dir() -> Path:
    """``$MINIM_HOME/weights``."""
    return minim_home() / "weights"


def cache_path(url: str, digest_known: bool) -> Path:
    """The cache file for ``url`` (see the module docstring for the layout)."""
    name = filename_from_url(url)
    if digest_known:
        return weights_dir() / name
    parts = urlsplit(url)
    key = hashlib.sha256(f"{parts.scheme}://{parts.netloc}{parts.path}".encode()).hexdigest()[:16]
    return weights_dir() / "by-url" / key / name


@contextlib.contextmanager
def file_lock(target: Path):
    """Hold an exclusive lock for writing ``target`` (POSIX ``flock``; a no-op where unavailable).

    Two processes downloading the same file then take turns: the second finds the first one's result.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    locks = minim_home() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(Path(target).absolute()).encode()).hexdigest()[:24]
    with open(locks / f"{key}.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
