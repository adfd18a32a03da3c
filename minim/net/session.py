"""The HTTP session every minim download uses: retries with backoff, timeouts, a User-Agent.

* Retries (urllib3 ``Retry``): at most ``DEFAULT_RETRIES`` retries of a request whose connection
  failed, timed out or was dropped before the response headers, or that was answered with 429, 500,
  502, 503 or 504. Waits between tries grow as ``backoff_factor * 2**(n-1)`` seconds (0, 1, 2 with the
  defaults), or follow the server's ``Retry-After`` header (capped at ``MAX_RETRY_AFTER`` seconds).
  Drops in the middle of a body are resumed by :mod:`minim.net.download`, not here.
* Timeouts: ``(connect, read)`` seconds, ``DEFAULT_TIMEOUT`` unless ``MINIM_TIMEOUT`` says otherwise:
  ``MINIM_TIMEOUT=60`` sets the read timeout, ``MINIM_TIMEOUT=10,60`` sets both.
* ``User-Agent: minim/<version>``.
"""

from __future__ import annotations

import os

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from minim import __version__
from minim.errors import UsageError

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_RETRY_AFTER = 30.0


def user_agent() -> str:
    """``minim/<version>``."""
    return f"minim/{__version__}"


def timeout_from_env() -> tuple[float, float]:
    """``(connect, read)`` timeouts from ``MINIM_TIMEOUT`` (``READ`` or ``CONNECT,READ``), else the default."""
    raw = os.environ.get("MINIM_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    parts = [p.strip() for p in raw.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or any(v <= 0 for v in values):
        raise UsageError(
            f"bad MINIM_TIMEOUT {raw!r}: expected seconds as READ or CONNECT,READ",
            hint="for example MINIM_TIMEOUT=60 or MINIM_TIMEOUT=10,60",
        )
    if len(values) == 1:
        return (DEFAULT_TIMEOUT[0], values[0])
    return (values[0], values[1])


class CappedRetry(Retry):
    """urllib3 ``Retry`` that never sleeps longer than ``MAX_RETRY_AFTER`` for a ``Retry-After`` header."""

    def get_retry_after(self, response):
        seconds = super().get_retry_after(response)
        if seconds is None:
            return None
        return min(seconds, MAX_RETRY_AFTER)


class MinimSession(requests.Session):
    """A ``requests.Session`` whose requests default to :attr:`timeout`.

    ``backoff_factor`` is kept so that callers resuming a dropped body can wait the same way.
    """

    def __init__(self, timeout: tuple[float, float], backoff_factor: float):
        super().__init__()
        self.timeout = timeout
        self.backoff_factor = backoff_factor

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


def make_retry(retries: int = DEFAULT_RETRIES, backoff_factor: float = DEFAULT_BACKOFF) -> Retry:
    """The retry policy described in the module docstring."""
    return CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=backoff_factor,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,  # hand the last 5xx response back so the caller can name it
    )


def make_session(
    *,
    timeout: float | tuple[float, float] | None = None,
    retries: int = DEFAULT_RETRIES,
    backoff_factor: float = DEFAULT_BACKOFF,
) -> MinimSession:
    """A session with minim's retry policy, timeouts and User-Agent.

    ``timeout`` is ``(connect, read)`` seconds or one number for both; None reads ``MINIM_TIMEOUT``.
    """
    if timeout is None:
        timeout = timeout_from_env()
    elif isinstance(timeout, (int, float)):
        timeout = (float(timeout), float(timeout))
    session = MinimSession(tuple(timeout), backoff_factor)
    adapter = HTTPAdapter(max_retries=make_retry(retries, backoff_factor))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent()
    return session
