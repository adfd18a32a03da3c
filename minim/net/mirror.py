"""URL mirrors from ``MINIM_MIRROR`` / ``--mirror``.

A spec is a comma-separated list of items; each item is one of:

* ``ORIGIN=MIRROR``: a URL that starts with the prefix ORIGIN gets that prefix replaced by MIRROR,
  e.g. ``https://download.pytorch.org/models=http://mirror.lan/torch`` maps
  ``https://download.pytorch.org/models/a.pth`` to ``http://mirror.lan/torch/a.pth``.
  Prefixes match whole path segments only (``https://a.com/x`` does not match ``https://a.com/xy``
  nor ``https://a.com.evil/``); trailing slashes do not matter. The item is split at its first ``=``.
* ``MIRROR`` alone (at most one): every URL that no prefix matched keeps its path, query and fragment
  but gets its ``scheme://host[:port]`` replaced by MIRROR (which may carry a path), e.g.
  ``http://mirror.lan/all`` maps ``https://host/a/b.pth`` to ``http://mirror.lan/all/a/b.pth``.

When several prefixes match, the longest wins. URLs nothing matches are left alone. Both sides must
be absolute http(s) URLs; empty items (a trailing comma) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from minim.errors import UsageError


def _check_url(text: str, item: str, source: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"bad {source} item {item!r}: {text!r} is not an absolute http(s) URL",
            hint="use ORIGIN=MIRROR pairs like https://host/path=http://mirror/path, or one bare mirror URL",
        )
    if parts.query or parts.fragment:
        raise UsageError(f"bad {source} item {item!r}: {text!r} must not have a query or fragment")
    return text.rstrip("/")


def _matches(url: str, prefix: str) -> bool:
    if not url.startswith(prefix):
        return False
    rest = url[len(prefix):]
    return rest == "" or rest[0] in "/?#"


@dataclass(frozen=True)
class MirrorMap:
    """Prefix mappings plus an optional catch-all mirror; :meth:`apply` maps one URL."""

    prefixes: tuple[tuple[str, str], ...] = ()
    fallback: str | None = None

    @classmethod
    def parse(cls, spec: str | None, source: str = "MINIM_MIRROR") -> "MirrorMap":
        """Parse a spec (see the module docstring); raises :class:`UsageError` naming the bad item."""
        prefixes: list[tuple[str, str]] = []
        fallback = None
        for item in (spec or "").split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                origin, mirror = (side.strip() for side in item.split("=", 1))
                prefixes.append((_check_url(origin, item, source), _check_url(mirror, item, source)))
            elif fallback is not None:
                raise UsageError(
                    f"bad {source} item {item!r}: only one bare mirror URL is allowed (already have {fallback!r})",
                    hint="write the others as ORIGIN=MIRROR pairs",
                )
            else:
                fallback = _check_url(item, item, source)
        prefixes.sort(key=lambda pair: len(pair[0]), reverse=True)
        return cls(tuple(prefixes), fallback)

    def __bool__(self) -> bool:
        return bool(self.prefixes) or self.fallback is not None

    def apply(self, url: str) -> str:
        """``url`` as fetched through the mirrors (unchanged when nothing matches)."""
        for origin, mirror in self.prefixes:
            if _matches(url, origin):
                return mirror + url[len(origin):]
        if self.fallback is not None:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc:
                host_end = url.index("://") + 3 + len(parts.netloc)
                return self.fallback + url[host_end:]
        return url


def resolve_mirrors(mirror) -> MirrorMap:
    """The ``--mirror`` argument (a spec or a MirrorMap) as a MirrorMap; None: ``MINIM_MIRROR``. Bad specs fail at once."""
    from minim.settings import mirror_spec

    if isinstance(mirror, MirrorMap):
        return mirror
    if mirror is not None:
        return MirrorMap.parse(mirror, source="--mirror")
    return MirrorMap.parse(mirror_spec(), source="MINIM_MIRROR")
