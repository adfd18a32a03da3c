"""PEP 503 project pages and find-links pages: which files an index offers, read without pip.

pip answers only "which version would you install", and preparing an sdist's metadata runs its
``setup.py`` (mmcv 1.x's fails under a current setuptools). minim reads the pages itself to find
the sdist of a release (for its ``mminstall.txt``, or to build it) and the wheels on mmcv's pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import (InvalidSdistFilename, InvalidWheelFilename, canonicalize_name, parse_sdist_filename,
                             parse_wheel_filename)
from packaging.version import Version

from minim.errors import PackageError

PAGE_TIMEOUT = (3.0, 15.0)


@dataclass(frozen=True)
class OfferedFile:
    """One file a page links to."""

    url: str
    filename: str
    project: str
    version: Version
    #: 'sdist' or 'wheel'
    kind: str
    #: wheel tags as ``(interpreter, abi, platform)`` triples; empty for an sdist
    tags: tuple = ()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def parse_file(url: str) -> OfferedFile | None:
    """The project, version and kind of a distribution file's URL, or None for anything else."""
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    try:
        if filename.endswith(".whl"):
            name, version, _, tags = parse_wheel_filename(filename)
            triples = tuple(sorted((t.interpreter, t.abi, t.platform) for t in tags))
            return OfferedFile(url, filename, name, version, "wheel", triples)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return OfferedFile(url, filename, name, version, "sdist")
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None
    return None


def _fetch(url: str) -> tuple[int | None, str]:
    """``(HTTP status, body)`` of a page; a local folder lists its files; ``(None, reason)`` when unreachable."""
    if urlsplit(url).scheme not in ("http", "https"):
        folder = Path(url[7:] if url.startswith("file://") else url)
        if not folder.is_dir():
            return 404, ""
        return 200, "".join(f'<a href="{p.as_uri()}">{p.name}</a>' for p in sorted(folder.iterdir()))
    import requests

    from minim.settings import offline

    if offline():
        return None, "MINIM_OFFLINE=1"
    try:
        response = requests.get(url, timeout=PAGE_TIMEOUT)
    except requests.exceptions.RequestException as exc:
        return None, f"{type(exc).__name__}"
    return response.status_code, response.text


def read_page(url: str) -> tuple[int | None, list[OfferedFile]]:
    """``(status, files)`` of a project page, find-links page or local folder (status None: unreachable)."""
    status, body = _fetch(url)
    if status != 200:
        return status, []
    parser = _Links()
    parser.feed(body)
    files = []
    for href in parser.hrefs:
        offered = parse_file(urljoin(url if url.endswith(("/", ".html", ".htm")) else url + "/", href.split("#")[0]))
        if offered is not None:
            files.append(offered)
    return status, files


def project_files(indexes: list[str], project: str) -> list[OfferedFile]:
    """Every file of ``project`` on the PEP 503 ``indexes`` (``<index>/<project>/`` pages), in index order."""
    key = canonicalize_name(project)
    found = []
    for index in indexes:
        _, files = read_page(f"{index.rstrip('/')}/{key}/")
        found += [f for f in files if canonicalize_name(f.project) == key]
    return found


def newest(files: list[OfferedFile], specifier, kind: str | None = None) -> OfferedFile | None:
    """The newest final release among ``files`` that ``specifier`` admits (of ``kind``, if given)."""
    fitting = [f for f in files if (kind is None or f.kind == kind) and not f.version.is_prerelease
               and specifier.contains(f.version, prereleases=False)]
    return max(fitting, key=lambda f: f.version) if fitting else None


def fits_python(offered: OfferedFile, python_version: str, platform: str) -> bool:
    """Whether a wheel can install on CPython ``python_version`` on ``platform`` (sysconfig's, e.g. linux-x86_64)."""
    if offered.kind != "wheel":
        return True
    short = "".join(python_version.split(".")[:2])
    machine = platform.replace("-", "_").replace(".", "_").split("_", 1)[-1]
    for interpreter, _, plat in offered.tags:
        if interpreter not in (f"cp{short}", "py3", f"py{short}"):
            continue
        if plat == "any" or (platform.startswith("linux") and re.match(r"(many|musl)?linux", plat)
                             and plat.endswith(machine)) or plat == platform.replace("-", "_").replace(".", "_"):
            return True
    return False


def download(offered: OfferedFile, dest: Path) -> Path:
    """Fetch ``offered`` into ``dest`` (kept as a cache: a file already there is reused)."""
    target = dest / offered.filename
    if target.is_file():
        return target
    dest.mkdir(parents=True, exist_ok=True)
    if offered.url.startswith("file:"):
        data = Path(unquote(urlsplit(offered.url).path)).read_bytes()
    else:
        import requests

        try:
            response = requests.get(offered.url, timeout=PAGE_TIMEOUT)
            response.raise_for_status()
        except requests.exceptions.RequestException as exc:
            raise PackageError(f"could not download {offered.url}: {exc}") from exc
        data = response.content
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target
