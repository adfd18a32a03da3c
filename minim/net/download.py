"""Verified downloads into a shared cache: ``download()`` and ``fetch_cached()``.

A download of URL to DEST goes like this:

1. The file name comes from the ORIGINAL url (:func:`minim.net.names.filename_from_url`); the expected
   sha256 is ``sha256`` (full digest or prefix), else the prefix in a torch-hub style name
   (``resnet18-f37072fd.pth``); the expected size is ``size``.
2. DEST is a directory (the file is then ``DEST/<name>``) when it exists as one, is a string ending
   with a path separator, or does not exist and its name has no suffix (``models``, ``~/ckpt``);
   otherwise it is the file path itself (``out/model.pth``). Missing folders are created.
3. If the final file exists it is hashed: a match is reported as ``'present'``; a mismatch is an
   error asking for ``--overwrite`` (``overwrite=True`` downloads it again).
4. With ``cache=True`` (default) the file is looked up in ``$MINIM_HOME/weights`` (see
   :mod:`minim.net.cache`); a verified hit is copied to DEST: ``'cached'`` (a copy, not a link: writing
   over the file at DEST, e.g. ``torch.save`` to its name, must not change the cache or other copies).
5. ``MINIM_OFFLINE=1`` stops here: a miss raises :class:`OfflineError` naming the URL and the cache path.
6. Otherwise the mirrors (``mirror`` or ``MINIM_MIRROR``) map the URL, the body is streamed into
   ``<cache file>.part`` (resumed if present; see :mod:`minim.net.transfer`), its size and sha256 are
   checked, and only then is it renamed into place (``os.replace``) and copied to DEST: ``'downloaded'``.
   With ``cache=False`` the same happens directly next to DEST.

A failed check deletes the ``.part`` file; a connection lost after some bytes keeps it so that the
next run resumes. The final file never exists half-written.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from minim.atomic import temporary_name
from minim.errors import ChecksumError, DownloadError, MinimError, OfflineError
from minim.net.cache import cache_path, file_lock
from minim.net.mirror import resolve_mirrors
from minim.net.names import filename_from_url
from minim.net.verify import Expectation, file_sha256
from minim.settings import offline

STATUSES = ("downloaded", "cached", "present")


@dataclass(frozen=True)
class DownloadResult:
    """Where the file is, how it got there (``'downloaded'``, ``'cached'``, ``'present'``), its sha256."""

    path: Path
    status: str
    sha256: str


def download(url: str, dest, sha256: str | None = None, size: int | None = None, *, overwrite: bool = False,
             progress="auto", mirror=None, cache: bool = True, session=None, timeout=None) -> DownloadResult:
    """Download ``url`` to ``dest`` (a directory or a file path) and verify it; see the module docstring.

    ``progress``: ``'auto'``, ``'bar'``, ``'lines'`` or ``'none'`` (:mod:`minim.net.progress`).
    ``mirror``: a :class:`MirrorMap`, a spec string, or None for ``MINIM_MIRROR``.
    ``session``/``timeout``: a ready session (:func:`minim.net.session.make_session`) or its timeout.
    Raises :class:`DownloadError` (:class:`ChecksumError`, :class:`OfflineError`) with a one-line message.
    """
    name = filename_from_url(url)
    expect = Expectation.for_download(name, sha256, size)
    mirror = resolve_mirrors(mirror)
    final = _final_path(dest, name)
    with _os_errors_reported():
        if final.exists() and not overwrite:
            return _verify_existing(final, expect)
        if not cache:
            return _download_uncached(url, final, expect, progress, mirror, session, timeout)
        cached, status, digest = _through_cache(url, expect, progress, mirror, session, timeout)
        _place(cached, final)
        return DownloadResult(final, status, digest)


def fetch_cached(url: str, sha256: str | None = None, size: int | None = None, progress="auto", *,
                 mirror=None, session=None, timeout=None) -> Path:
    """Make sure ``url`` is in the shared cache (downloading it if needed) and return the cached path."""
    expect = Expectation.for_download(filename_from_url(url), sha256, size)
    mirror = resolve_mirrors(mirror)
    with _os_errors_reported():
        return _through_cache(url, expect, progress, mirror, session, timeout)[0]


# -- steps ------------------------------------------------------------------------------------------
def _final_path(dest, name: str) -> Path:
    as_text = os.fspath(dest)
    path = Path(as_text).expanduser()
    if path.is_dir() or as_text.endswith(("/", os.sep)) or (not path.exists() and not path.suffix):
        return path / name
    return path


def _verify_existing(final: Path, expect: Expectation) -> DownloadResult:
    if final.is_dir():
        raise DownloadError(f"{final} is a directory, not a file")
    digest = file_sha256(final).hexdigest()
    problem = expect.problem(digest, final.stat().st_size)
    if problem:
        raise ChecksumError(f"{final} already exists but is not the expected file: {problem}",
                            hint="pass --overwrite (overwrite=True) to download it again")
    return DownloadResult(final, "present", digest)


def _through_cache(url, expect, progress, mirror, session, timeout) -> tuple[Path, str, str]:
    target = cache_path(url, digest_known=expect.digest is not None)
    if target.exists():  # a verified hit needs no lock (a read-only shared cache works); files appear atomically
        digest = file_sha256(target).hexdigest()
        if expect.problem(digest, target.stat().st_size) is None:
            return target, "cached", digest
    with file_lock(target):
        if target.exists():
            digest = file_sha256(target).hexdigest()
            problem = expect.problem(digest, target.stat().st_size)
            if problem is None:
                return target, "cached", digest
            if offline():
                raise OfflineError(f"offline (MINIM_OFFLINE=1) and the cached {target} is damaged: {problem}",
                                   hint="unset MINIM_OFFLINE to download it again")
        elif offline():
            raise OfflineError(f"offline (MINIM_OFFLINE=1): {url} is not in the cache (looked for {target})",
                               hint="download it once without MINIM_OFFLINE, or copy the file there")
        digest = _fetch(url, target, expect, progress, mirror, session, timeout)
        return target, "downloaded", digest


def _download_uncached(url, final, expect, progress, mirror, session, timeout) -> DownloadResult:
    if offline():
        raise OfflineError(f"offline (MINIM_OFFLINE=1): cannot download {url} to {final} without the cache",
                           hint="unset MINIM_OFFLINE, or download with the cache enabled")
    with file_lock(final):
        digest = _fetch(url, final, expect, progress, mirror, session, timeout)
    return DownloadResult(final, "downloaded", digest)


def _fetch(url, target: Path, expect, progress, mirror, session, timeout) -> str:
    """Download ``url`` (through the mirrors) to ``target`` via ``target.part``; return the sha256."""
    from minim.net.progress import make_reporter
    from minim.net.session import make_session
    from minim.net.transfer import fetch_part

    fetch_url = mirror.apply(url)
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    own_session = session is None
    session = make_session(timeout=timeout) if own_session else session
    reporter = make_reporter(progress, target.name)
    ok = False
    try:
        digest, got = fetch_part(session, fetch_url, part, expect, reporter, origin_url=url)
        ok = True
    except DownloadError as exc:
        if not getattr(exc, "resumable", False):
            part.unlink(missing_ok=True)
        raise
    except KeyboardInterrupt:  # keep what arrived: the next run resumes it
        raise
    except OSError as exc:
        part.unlink(missing_ok=True)
        if exc.errno is not None and exc.filename is None:  # a failed write (full disk) names no file
            raise OSError(exc.errno, exc.strerror, str(part)) from exc
        raise
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        reporter.finish(ok)
        if own_session:
            session.close()
    problem = expect.problem(digest, got)
    if problem:
        part.unlink(missing_ok=True)
        where = url if fetch_url == url else f"{fetch_url} (mirror of {url})"
        raise ChecksumError(f"download of {where} is corrupt: {problem}; the file was deleted",
                            hint=_mismatch_hint(expect))
    os.replace(part, target)
    return digest


def _mismatch_hint(expect: Expectation) -> str:
    if expect.digest_from_name:
        return "the digest was taken from the file name; pass sha256 explicitly if the name holds no digest"
    return "try again; if it persists, the server or mirror holds a different file than the index"


def _place(cached: Path, final: Path) -> None:
    """Copy the cached file to ``final`` atomically (an independent file: see the module docstring)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(final)
    try:
        try:
            shutil.copyfile(cached, temporary)
        except OSError as exc:  # copyfile may name the source; the problem is the destination
            raise OSError(exc.errno, exc.strerror, str(final)) from exc
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


#: failures of writing, not of reaching, a file
_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS}


class _os_errors_reported:
    """Turn file-system errors (permissions, full disk) into one-line DownloadErrors."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, MinimError) or not isinstance(error, OSError):
            return False
        if error.__class__.__module__.startswith(("requests", "urllib3")):
            return False
        where = f" {error.filename}" if error.filename else ""
        verb = "write" if error.errno in _WRITE_ERRNOS else "access"
        raise DownloadError(f"cannot {verb}{where}: {error.strerror or error}",
                            hint="check the permissions and the free space of that folder") from error
