"""Fetch one URL into a ``.part`` file: HTTP Range resume, dropped connections, sizes, clear errors.

:func:`fetch_part` streams the body in ``CHUNK_SIZE`` pieces; a background thread appends them to
the file and feeds sha256 at the same time, so hashing overlaps the network. A body that breaks
off (connection dropped, read timeout, fewer bytes than Content-Length) is resumed with
``Range: bytes=<have>-`` (``If-Range`` pins the version first seen): 206 appends, 200 starts again,
416 starts again. It gives up after ``MAX_ATTEMPTS`` requests, or after ``MAX_STALLED`` in a row
that did not get at least ``MIN_PROGRESS`` bytes further into the file than any request before (a
server that trickles a few bytes per request and stalls is not making progress). Network problems
and HTTP errors become one :class:`DownloadError`.
"""

from __future__ import annotations

import hashlib
import http.client
import queue
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from minim.errors import DownloadError
from minim.net.verify import Expectation, file_sha256

CHUNK_SIZE = 1 << 20
MAX_ATTEMPTS = 20
MAX_STALLED = 5
#: bytes a request must add to the furthest point reached to count as progress
MIN_PROGRESS = 64 * 1024
MAX_RESUME_DELAY = 10.0
_QUEUE_CHUNKS = 8
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_BODY_ERRORS = (urllib3.exceptions.HTTPError, requests.exceptions.RequestException)


def fetch_part(session: requests.Session, url: str, part: Path, expect: Expectation, reporter,
               origin_url: str | None = None) -> tuple[str, int]:
    """Download ``url`` into ``part`` (resuming what it holds); return (sha256 hex digest, size).

    Raises :class:`DownloadError`; its ``resumable`` attribute is True when ``part`` was kept
    because a later call can resume it (the connection failed after some bytes arrived).
    """
    where = _where(url, origin_url)
    state = _PartFile(part)
    attempts = stalled = best = 0
    validator = failure = None
    while True:
        attempts += 1
        have = state.prepare(expect.size)
        response = _request(session, url, have, validator, where)
        with response:
            span = _body_span(response, have)
            if span is None:  # 416, or a 206 for the wrong range: start from scratch
                state.reset()
                failure = failure or f"the server refused to resume at byte {have}"
            else:
                offset, total = span
                validator = validator or _validator(response)
                _check_total(total, expect, where)
                reporter.start(total, offset)
                failure = _stream_body(response, state, offset, total, reporter) or ""
                if not failure:
                    return state.hexdigest(), state.size
        progressed = state.size >= max(best, have) + MIN_PROGRESS
        best = max(best, have, state.size)
        stalled = 0 if progressed else stalled + 1
        if attempts >= MAX_ATTEMPTS or stalled >= MAX_STALLED:
            raise _give_up(where, failure, attempts, best, state, keep=stalled < MAX_STALLED)
        time.sleep(_resume_delay(session, attempts))


def _where(url: str, origin_url: str | None) -> str:
    return url if not origin_url or origin_url == url else f"{url} (mirror of {origin_url})"


def _host(url: str) -> str:
    return urlsplit(url).netloc


# -- requests and their failures -----------------------------------------------------------------
def _request(session, url, have, validator, where):
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        if validator:
            headers["If-Range"] = validator
    try:
        response = session.get(url, headers=headers, stream=True)
    except requests.RequestException as exc:
        raise network_error(exc, url, where, getattr(session, "timeout", None)) from exc
    if response.status_code in (200, 206, 416):
        return response
    response.close()
    raise http_error(response.status_code, response.reason, where)


def http_error(status: int, reason: str | None, where: str) -> DownloadError:
    """``HTTP 404 Not Found for <url>`` with a hint that fits the status."""
    text = f"HTTP {status}{' ' + reason if reason else ''} for {where}"
    if status in (401, 403):
        hint = "the server denies access; check the URL or use a mirror (MINIM_MIRROR)"
    elif status == 404:
        hint = "no file at that address; check the URL or the model index entry"
    elif status >= 500 or status == 429:
        text += " (still failing after retries)"
        hint = "the server is failing; try again later or use a mirror (MINIM_MIRROR)"
    else:
        hint = None
    return DownloadError(text, hint=hint)


def _root_cause(exc: BaseException) -> BaseException:
    seen = 0
    while seen < 8:
        seen += 1
        inner = getattr(exc, "reason", None)
        if isinstance(inner, BaseException):
            exc = inner
            continue
        nested = [arg for arg in exc.args if isinstance(arg, BaseException)]
        if nested:
            exc = nested[0]
            continue
        break
    return exc


_NOISE = (
    re.compile(r"^\w+\(host=[^)]*\):\s*"),  # HTTPConnection(host='h', port=1):
    re.compile(r"^<[^>]*>:\s*"),  # <urllib3.connection.HTTPConnection object at 0x...>:
    re.compile(r"^Failed to establish a new connection:\s*"),
    re.compile(r"^\w+ConnectionPool\(host=[^)]*\):\s*"),
)


def _clean(message: str) -> str:
    for pattern in _NOISE:
        message = pattern.sub("", message)
    return message.strip() or "unknown error"


def network_error(exc: BaseException, url: str, where: str, timeout=None) -> DownloadError:
    """One readable :class:`DownloadError` for a requests/urllib3 exception (marked resumable)."""
    host = _host(url)
    cause = _root_cause(exc)
    connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    hint = "check the network or proxy, use a mirror (MINIM_MIRROR) or wait longer (MINIM_TIMEOUT)"
    if isinstance(cause, urllib3.exceptions.NewConnectionError) or isinstance(exc, requests.exceptions.ProxyError):
        text = f"cannot reach host {host}: {_clean(str(cause))}"
    elif isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
        text = f"cannot reach host {host}: no connection within {connect_timeout} s (connect timeout)"
    elif isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(cause, urllib3.exceptions.ReadTimeoutError):
        text = f"host {host} did not answer within {read_timeout} s (read timeout)"
    elif isinstance(exc, requests.exceptions.SSLError) or isinstance(cause, urllib3.exceptions.SSLError):
        text = f"TLS/SSL error talking to host {host}: {_clean(str(cause))}"
        hint = "check the system certificates or the proxy"
    else:
        text = f"cannot reach host {host}: {_clean(str(cause))}"
    if where != url:
        text += f" [{where}]"
    error = DownloadError(text, hint=hint)
    error.resumable = True
    return error


def _validator(response) -> str | None:
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


# -- bodies ---------------------------------------------------------------------------------------
def _encoded(response) -> bool:
    return response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")


def _body_span(response, have: int) -> tuple[int, int | None] | None:
    """(offset the body starts at, total size or None), or None when the answer cannot be used."""
    if response.status_code == 416:
        return None
    if response.status_code == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
        if not match or int(match.group(1)) != have:
            return None
        return have, (None if match.group(3) == "*" else int(match.group(3)))
    length = response.headers.get("Content-Length", "").strip()
    return 0, (int(length) if length.isdigit() and not _encoded(response) else None)


def _check_total(total: int | None, expect: Expectation, where: str) -> None:
    if total is not None and expect.size is not None and total != expect.size:
        raise DownloadError(
            f"{where} has {total} bytes but {expect.size} were expected",
            hint="the server's file is not the one the index describes; check the URL or the mirror",
        )


def _chunks(response):
    raw = response.raw
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # urllib3 < 2: loses the unfinished chunk when the connection drops
        yield from response.iter_content(CHUNK_SIZE)
        return
    decode = _encoded(response)
    while True:
        chunk = read1(CHUNK_SIZE, decode_content=decode)
        if not chunk:
            return
        yield chunk


def _stream_body(response, state, offset, total, reporter) -> str | None:
    """Append the body to the part file; None when complete, else why it stopped short."""
    of_total = f" of {total}" if total is not None else ""
    try:
        state.append(_chunks(response), offset, reporter)
    except _BODY_ERRORS as exc:
        return f"the body was cut off at byte {state.size}{of_total} ({_describe_break(exc)})"
    if total is None:
        return None
    if state.size < total:
        return f"the body was cut off at byte {state.size}{of_total}"
    if state.size > total:
        state.reset()
        raise DownloadError(f"the server sent more bytes than the {total} it announced")
    return None


def _describe_break(exc: BaseException) -> str:
    cause = _root_cause(exc)
    if isinstance(cause, (http.client.IncompleteRead, urllib3.exceptions.IncompleteRead)):
        return "the server closed the connection early"
    if isinstance(cause, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
        return "no data before the read timeout"
    return _clean(str(cause))


def _resume_delay(session, attempts: int) -> float:
    factor = getattr(session, "backoff_factor", 0.5)
    return 0.0 if attempts <= 1 else min(MAX_RESUME_DELAY, factor * 2 ** (attempts - 1))


def _give_up(where, failure, attempts, best, state, keep) -> DownloadError:
    text = f"download of {where} failed after {attempts} attempts, got at most {best} bytes: {failure}"
    if keep and state.size:
        error = DownloadError(text, hint=f"the partial file {state.path} is kept; run again to resume")
        error.resumable = True
        return error
    state.reset()
    return DownloadError(text, hint="the server keeps sending an incomplete file; try later or use a mirror")


# -- the part file --------------------------------------------------------------------------------
class _PartFile:
    """The ``.part`` file and a sha256 of the bytes it holds (recomputed from disk when needed)."""

    def __init__(self, path: Path):
        self.path = path
        self.hasher = None
        self.hashed = 0

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def prepare(self, max_size: int | None) -> int:
        """The number of bytes to resume from (the file is dropped when it is larger than expected)."""
        size = self.size
        if max_size is not None and size > max_size:
            self.reset()
            return 0
        return size

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)
        self.hasher, self.hashed = None, 0

    def hexdigest(self) -> str:
        if self.hasher is None or self.hashed != self.size:
            self.hasher, self.hashed = file_sha256(self.path), self.size
        return self.hasher.hexdigest()

    def append(self, chunks, offset: int, reporter) -> None:
        """Write ``chunks`` from byte ``offset`` on (the file is cut there first)."""
        if self.hasher is None or self.hashed != offset:
            self.hasher = file_sha256(self.path, offset) if offset else hashlib.sha256()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "r+b" if offset else "wb") as handle:
            handle.truncate(offset)
            handle.seek(offset)
            writer = _HashingWriter(handle, self.hasher)
            done = offset
            try:
                for chunk in chunks:
                    writer.write(chunk)
                    done += len(chunk)
                    reporter.update(done)
            finally:
                self.hashed = offset + writer.close()


class _HashingWriter:
    """Appends chunks to an open file and feeds them to a hasher, in a background thread."""

    def __init__(self, handle, hasher):
        self._handle = handle
        self._hasher = hasher
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self.error: BaseException | None = None
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="minim-download-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            if self.error is not None:
                continue
            try:
                self._handle.write(chunk)
                self._hasher.update(chunk)
                self.written += len(chunk)
            except BaseException as exc:  # reported by write()/close() in the caller's thread
                self.error = exc

    def write(self, chunk: bytes) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(chunk)

    def close(self) -> int:
        """Wait for pending chunks; raise the writer's error if any; return the bytes written."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.written
