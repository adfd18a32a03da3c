"""A loopback HTTP server for tests: in-memory or file bodies, Range support and scripted failures.

Usage as a context manager::

    from net_support import LoopbackServer

    with LoopbackServer() as server:
        server.add("/w/model-0123abcd.pth", body=b"...", drop_after=1000)
        url = server.url("/w/model-0123abcd.pth")
        ...
        assert server.hits("/w/model-0123abcd.pth") == 2
        assert server.requests_for("/w/model-0123abcd.pth")[1].range == "bytes=1000-"

or as the pytest fixture ``loopback_server`` (a fresh, started server per test), which
``tests/conftest.py`` registers for every test module.

Every route is described by a :class:`Route`; its behaviours can be combined:

* ``status=404``                 always answer with that status (small text body);
* ``fail_times=N``               answer the first N requests with ``fail_status`` (default 500),
  optionally with a ``Retry-After: <retry_after>`` header, then serve normally;
* ``drop_after=K``               close the connection after K body bytes, with the full
  Content-Length announced (``drop="once"``: first body response only, ``"always"``: every one);
* ``delay=S``                    sleep S seconds before answering (``delay_times=N``: first N requests only);
* ``content_length=L``           announce L as Content-Length whatever the body is (a lie), then close;
* ``omit_content_length=True``   send no Content-Length; the body ends when the connection closes;
* ``ranges=False``               ignore Range headers (always 200 with the whole body);
* ``headers={...}``              extra response headers.

Request log: :attr:`LoopbackServer.requests` (every request, in order, as :class:`RequestRecord`),
:meth:`hits`, :meth:`requests_for`. :meth:`closed_port_url` gives a URL nobody listens on.

Run ``python tests/net_support.py FILE [URL_PATH]`` to serve one file in a separate process (used by
scripts/bench_cli.py): it prints the URL on the first stdout line and serves until killed.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["LoopbackServer", "Route", "RequestRecord", "loopback_server"]

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_SEND_BLOCK = 1 << 20


@dataclass
class Route:
    """What one path serves and how it misbehaves (see the module docstring)."""

    body: bytes | None = None
    file: Path | None = None
    status: int = 200
    fail_times: int = 0
    fail_status: int = 500
    retry_after: str | None = None
    drop_after: int | None = None
    drop: str = "once"
    delay: float = 0.0
    delay_times: int | None = None
    content_length: int | None = None
    omit_content_length: bool = False
    ranges: bool = True
    headers: dict = field(default_factory=dict)
    # bookkeeping, updated by the server
    requests_seen: int = 0
    bodies_served: int = 0

    def size(self) -> int:
        if self.file is not None:
            return Path(self.file).stat().st_size
        return len(self.body or b"")


@dataclass
class RequestRecord:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict
    status: int = 0

    @property
    def range(self) -> str | None:
        """The Range header, or None."""
        for key, value in self.headers.items():
            if key.lower() == "range":
                return value
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
        pass

    def do_HEAD(self):
        self._serve(send_body=False)

    def do_GET(self):
        self._serve(send_body=True)

    def _serve(self, send_body: bool):
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        record = RequestRecord(self.command, path, dict(self.headers.items()))
        with owner._lock:
            owner.requests.append(record)
            route = owner.routes.get(path)
            if route is not None:
                route.requests_seen += 1
                nth = route.requests_seen
        if route is None:
            return self._simple(record, 404, "no such path")
        if route.delay and (route.delay_times is None or nth <= route.delay_times):
            if owner._stopping.wait(route.delay):
                return
        if nth <= route.fail_times:
            extra = {"Retry-After": route.retry_after} if route.retry_after is not None else {}
            return self._simple(record, route.fail_status, "scripted failure", extra)
        if route.status != 200:
            return self._simple(record, route.status, f"scripted status {route.status}")
        self._serve_body(record, route, send_body)

    def _simple(self, record, status, text, extra=None):
        payload = text.encode()
        record.status = status
        self.send_response(status)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _serve_body(self, record, route, send_body):
        total = route.size()
        start, end, status = 0, total, 200
        requested = record.range if route.ranges else None
        if requested:
            match = _RANGE.match(requested.strip())
            if match:
                start = int(match.group(1))
                if start >= total:
                    record.status = 416
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{total}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if match.group(2):
                    end = min(total, int(match.group(2)) + 1)
                status = 206
        length = end - start
        record.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{total}")
        lying = route.content_length is not None
        if route.omit_content_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(route.content_length if lying else length))
        for key, value in route.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not send_body:
            return
        with self.server.owner._lock:
            route.bodies_served += 1
            first_body = route.bodies_served == 1
        limit = length
        if route.drop_after is not None and (route.drop == "always" or first_body):
            limit = min(length, route.drop_after)
        if lying:
            limit = min(limit, route.content_length)
        try:
            self._send_range(route, start, limit)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if limit < length or lying:
            self.close_connection = True

    def _send_range(self, route, start, count):
        if route.file is not None:
            with open(route.file, "rb") as handle:
                if count:
                    self.connection.sendfile(handle, offset=start, count=count)
            return
        view = memoryview(route.body)[start : start + count]
        for offset in range(0, count, _SEND_BLOCK):
            self.wfile.write(view[offset : offset + _SEND_BLOCK])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "LoopbackServer"


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (random free port) with scripted routes."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "LoopbackServer":
        """Bind a free port and serve in a background thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (delayed handlers are woken up)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- configuration -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with ``/``)."""
        return self.base_url + path

    def add(self, path: str, body: bytes | None = None, *, file: Path | str | None = None, **behaviour) -> Route:
        """Serve ``body`` (or ``file``) at ``path`` with the given :class:`Route` behaviours; returns the route."""
        if (body is None) == (file is None) and behaviour.get("status", 200) == 200:
            raise ValueError("give exactly one of body= or file=")
        route = Route(body=body, file=Path(file) if file is not None else None, **behaviour)
        with self._lock:
            self.routes[path] = route
        return route

    # -- inspection --------------------------------------------------------------------------
    def requests_for(self, path: str) -> list[RequestRecord]:
        """The requests made for ``path``, in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def hits(self, path: str | None = None) -> int:
        """How many requests were made for ``path`` (all paths when None)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    @staticmethod
    def closed_port_url(path: str = "/") -> str:
        """A URL on 127.0.0.1 whose port nobody listens on (connections are refused)."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"http://127.0.0.1:{port}{path}"


try:  # the fixture is optional so that the module also runs outside pytest
    import pytest

    @pytest.fixture
    def loopback_server():
        """A started :class:`LoopbackServer`, stopped after the test."""
        with LoopbackServer() as server:
            yield server
except ImportError:  # pragma: no cover
    pass


def _serve_file_forever(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python tests/net_support.py FILE [URL_PATH]")
    file = Path(argv[0])
    url_path = argv[1] if len(argv) > 1 else "/" + file.name
    server = LoopbackServer().start()
    server.add(url_path, file=file)
    print(server.url(url_path), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    _serve_file_forever(sys.argv[1:])
