"""Package indexes: mirrors applied to their URLs, and a quick reachability probe before pip runs.

pip retries every unreachable link several times with long timeouts (a mim dry run with the
wheel host down took 28-80 s); minim asks each index once, with a short timeout, and turns an
unreachable one into a single clear error.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from minim.errors import OfflineError, PackageError

PROBE_TIMEOUT = (3.0, 5.0)


def is_remote(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


@dataclass(frozen=True)
class ProbeResult:
    url: str
    reachable: bool
    detail: str
    status: int | None = None

    @property
    def not_found(self) -> bool:
        return self.status in (404, 410)


def _probe_one(url: str) -> ProbeResult:
    import requests

    try:
        response = requests.head(url, timeout=PROBE_TIMEOUT, allow_redirects=True)
    except requests.exceptions.SSLError as exc:  # it answered; pip has its own certificate settings
        return ProbeResult(url, True, f"TLS: {exc.__class__.__name__}")
    except requests.exceptions.Timeout:
        return ProbeResult(url, False, f"no answer within {PROBE_TIMEOUT[0]:.0f} s")
    except requests.exceptions.ConnectionError as exc:
        reason = str(exc.args[0] if exc.args else exc)
        for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                       "No route to host", "Network is unreachable", "nodename nor servname"):
            if marker in reason:
                reason = marker
                break
        return ProbeResult(url, False, reason[:200])
    except requests.exceptions.RequestException as exc:
        return ProbeResult(url, False, f"{exc.__class__.__name__}: {exc}"[:200])
    return ProbeResult(url, True, f"HTTP {response.status_code}", response.status_code)


def probe_indexes(locations: list[str]) -> list[ProbeResult]:
    """Ask every index / find-links location once, in parallel; local paths must exist."""
    results: dict[str, ProbeResult] = {}
    remote = []
    for location in dict.fromkeys(locations):
        if is_remote(location):
            remote.append(location)
        else:
            path = Path(location[7:] if location.startswith("file://") else location)
            results[location] = ProbeResult(location, path.exists(), "exists" if path.exists() else "no such path")
    if remote:
        from minim.settings import offline

        if offline():
            raise OfflineError(f"MINIM_OFFLINE=1 forbids the package index {remote[0]}",
                               hint="unset MINIM_OFFLINE, or use --find-links with a local folder of wheels")
        with ThreadPoolExecutor(max_workers=min(8, len(remote))) as pool:
            for result in pool.map(_probe_one, remote):
                results[result.url] = result
    return [results[location] for location in dict.fromkeys(locations)]


def report_unreachable(results: list[ProbeResult], origins: dict[str, str] | None = None) -> None:
    """Raise :class:`PackageError` naming every unreachable index among ``results``, each with where its URL
    came from (``origins``: URL -> "PIP_INDEX_URL", "--index-url", ...)."""
    failed = [r for r in results if not r.reachable]
    if not failed:
        return
    origins = origins or {}
    listing = "; ".join(f"{r.url} ({r.detail}" + (f"; from {origins[r.url]})" if r.url in origins else ")")
                        for r in failed)
    raise PackageError(
        f"package index unreachable: {listing}",
        hint="check the network or proxy, or point at a mirror with --mirror / MINIM_MIRROR "
             "(e.g. --mirror https://download.pytorch.org/whl=https://mirror.example/whl)",
    )


def report_not_found(results: list[ProbeResult], find_links: list[str], project: str | None) -> None:
    """Raise :class:`PackageError` for an index or find-links page that answers 404 (a wrong URL), where
    pip would only say "from versions: none".

    A PEP 503 root normally answers 200, but some servers answer 404 at the root and still serve
    ``<root>/<project>/`` (pip only ever asks for project pages), so for an index a 404 at the root
    counts only when the page of a requested project answers 404 too. A find-links page is fetched
    itself: a 404 there is always wrong."""
    wrong = []
    for result in results:
        if not result.not_found:
            continue
        if result.url in find_links:
            wrong.append(f"{result.url} (HTTP {result.status})")
        elif project is not None:
            page = f"{result.url.rstrip('/')}/{project}/"
            if _probe_one(page).not_found:
                wrong.append(f"{result.url} (HTTP {result.status}, and {page} too)")
    if wrong:
        raise PackageError(f"package index answers HTTP 404: {'; '.join(wrong)}",
                           hint="check the URL (a PEP 503 index usually ends in /simple)")


def pip_default_index(environ: dict | None = None) -> str | None:
    """The index pip uses without --index-url when the environment sets one (``PIP_INDEX_URL``)."""
    env = os.environ if environ is None else environ
    return env.get("PIP_INDEX_URL") or None
