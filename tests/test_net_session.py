"""The HTTP session: timeouts, User-Agent, retries (minim.net.session)."""

from __future__ import annotations

import time

import pytest
import urllib3

from minim import __version__
from minim.errors import UsageError
from minim.net.session import (DEFAULT_TIMEOUT, MAX_RETRY_AFTER, CappedRetry, make_session, timeout_from_env,
                               user_agent)


@pytest.fixture(autouse=True)
def _no_timeout_env(monkeypatch):
    monkeypatch.delenv("MINIM_TIMEOUT", raising=False)


def test_default_timeout_and_env_override(monkeypatch):
    assert timeout_from_env() == DEFAULT_TIMEOUT
    monkeypatch.setenv("MINIM_TIMEOUT", "60")
    assert timeout_from_env() == (DEFAULT_TIMEOUT[0], 60.0)
    monkeypatch.setenv("MINIM_TIMEOUT", " 2.5 , 90 ")
    assert timeout_from_env() == (2.5, 90.0)
    assert make_session().timeout == (2.5, 90.0)
    assert make_session(timeout=3).timeout == (3.0, 3.0)


@pytest.mark.parametrize("value", ["abc", "1,2,3", "0", "-5", "5,"])
def test_bad_timeout_env_is_a_usage_error(monkeypatch, value):
    monkeypatch.setenv("MINIM_TIMEOUT", value)
    with pytest.raises(UsageError, match="MINIM_TIMEOUT"):
        timeout_from_env()


def test_user_agent_header_is_sent(loopback_server):
    loopback_server.add("/a", body=b"x")
    with make_session() as session:
        assert session.get(loopback_server.url("/a")).content == b"x"
    assert user_agent() == f"minim/{__version__}"
    assert loopback_server.requests[0].headers["User-Agent"] == f"minim/{__version__}"


def test_5xx_is_retried_until_success(loopback_server):
    loopback_server.add("/flaky", body=b"ok", fail_times=3, fail_status=502)
    with make_session(backoff_factor=0) as session:
        response = session.get(loopback_server.url("/flaky"))
    assert response.status_code == 200 and response.content == b"ok"
    assert loopback_server.hits("/flaky") == 4


def test_retries_are_bounded_and_the_last_answer_is_returned(loopback_server):
    loopback_server.add("/down", body=b"ok", fail_times=100, fail_status=503)
    with make_session(backoff_factor=0, retries=2) as session:
        assert session.get(loopback_server.url("/down")).status_code == 503
    assert loopback_server.hits("/down") == 3


def test_retry_after_header_is_respected(loopback_server):
    loopback_server.add("/busy", body=b"ok", fail_times=1, fail_status=503, retry_after="1")
    started = time.monotonic()
    with make_session(backoff_factor=0) as session:
        assert session.get(loopback_server.url("/busy")).status_code == 200
    assert time.monotonic() - started >= 0.9  # waited as told, although the backoff is zero


def test_retry_after_is_capped():
    response = urllib3.HTTPResponse(body=b"", headers={"Retry-After": "86400"}, status=503)
    assert CappedRetry().get_retry_after(response) == MAX_RETRY_AFTER
    assert CappedRetry().get_retry_after(urllib3.HTTPResponse(body=b"", status=503)) is None
