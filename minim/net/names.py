"""Safe local file names for URLs, and the sha256 prefix that torch-hub style names carry."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from minim.errors import DownloadError

#: torch.hub's convention: ``name-<first hex digits of the sha256>.ext``; we ask for at least 8 digits.
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.")
_HEX = re.compile(r"^[0-9a-f]+$")
_FORBIDDEN_CHARS = set('/\\:*?"<>|') | {chr(c) for c in range(32)} | {"\x7f"}
MAX_NAME_LENGTH = 255


def filename_from_url(url: str) -> str:
    """The file name a download of ``url`` is saved under: the last path segment, percent-decoded.

    The query string and fragment are ignored. Raises :class:`DownloadError` for URLs that are not
    http(s), whose path walks up (a ``..`` or ``.`` segment, encoded or not) or whose last segment
    does not make a plain file name (empty, hidden, containing separators or control characters).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(f"cannot download {url!r}: only http:// and https:// URLs are supported")
    segments = [unquote(s) for s in parts.path.split("/")]
    if any(s in (".", "..") or "/" in s or "\\" in s for s in segments):
        raise DownloadError(f"refusing URL {url!r}: its path contains '..', '.' or an encoded separator")
    name = segments[-1]
    problem = _name_problem(name)
    if problem:
        raise DownloadError(f"cannot name a file after URL {url!r}: {problem}",
                            hint="the URL must end with a file name such as model-1234abcd.pth")
    return name


def _name_problem(name: str) -> str | None:
    if not name:
        return "its path ends without a file name"
    if name.startswith("."):
        return f"the file name {name!r} starts with a dot"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_LENGTH:
        return f"the file name is longer than {MAX_NAME_LENGTH} bytes"
    bad = sorted(set(name) & _FORBIDDEN_CHARS)
    if bad:
        return f"the file name {name!r} contains {', '.join(repr(c) for c in bad)}"
    if name != name.strip():
        return f"the file name {name!r} starts or ends with white space"
    return None


def sha256_prefix_from_name(name: str) -> str | None:
    """The hex digest prefix in a torch-hub style name (``resnet18-f37072fd.pth`` -> ``f37072fd``), or None.

    It is the first run of 8 to 64 lowercase hex digits that follows a ``-`` and ends at a ``.``
    (as torch.hub's ``-([a-f0-9]*)\\.``, but at least 8 digits long).
    """
    match = _HASH_IN_NAME.search(name)
    return match.group(1) if match else None


def normalise_sha256(value: str | None, what: str = "sha256") -> str | None:
    """Lower-case ``value`` and check that it is 8 to 64 hex digits (a full digest or a prefix)."""
    if value is None:
        return None
    digest = value.strip().lower()
    if digest.startswith("sha256:"):
        digest = digest[len("sha256:"):]
    if not (8 <= len(digest) <= 64 and _HEX.match(digest)):
        raise DownloadError(f"invalid {what} {value!r}: expected 8 to 64 hex digits (a digest or its prefix)")
    return digest
