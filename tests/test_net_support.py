"""The loopback test server itself (tests/net_support.py), which other test modules rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from net_support import LoopbackServer


def get(url, **headers):
    return requests.get(url, headers=headers, timeout=5)


def test_serves_bodies_and_ranges_and_logs_requests(loopback_server, tmp_path):
    loopback_server.add("/mem", body=b"0123456789")
    file = tmp_path / "f.bin"
    file.write_bytes(b"abcdefghij")
    loopback_server.add("/file", file=file)
    assert get(loopback_server.url("/mem?x=1")).content == b"0123456789"
    ranged = get(loopback_server.url("/file"), Range="bytes=3-")
    assert (ranged.status_code, ranged.content, ranged.headers["Content-Range"]) == (206, b"defghij", "bytes 3-9/10")
    assert get(loopback_server.url("/mem"), Range="bytes=2-4").content == b"234"
    assert get(loopback_server.url("/mem"), Range="bytes=10-").status_code == 416
    assert get(loopback_server.url("/nowhere")).status_code == 404
    assert loopback_server.hits("/mem") == 3 and loopback_server.hits() == 5
    assert [r.range for r in loopback_server.requests_for("/mem")] == [None, "bytes=2-4", "bytes=10-"]
    assert [r.status for r in loopback_server.requests_for("/mem")] == [200, 206, 416]


def test_scripted_failures(loopback_server):
    loopback_server.add("/gone", status=404)
    loopback_server.add("/flaky", body=b"ok", fail_times=2, fail_status=503, retry_after="0")
    loopback_server.add("/norange", body=b"whole", ranges=False)
    assert get(loopback_server.url("/gone")).status_code == 404
    answers = [get(loopback_server.url("/flaky")) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "0"
    assert get(loopback_server.url("/norange"), Range="bytes=2-").content == b"whole"


def test_drops_lies_and_missing_length(loopback_server):
    loopback_server.add("/once", body=b"x" * 1000, drop_after=100)
    loopback_server.add("/lie", body=b"y" * 10, content_length=50)
    loopback_server.add("/nolength", body=b"z" * 10, omit_content_length=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(loopback_server.url("/once"))
    assert get(loopback_server.url("/once")).content == b"x" * 1000  # only the first body is cut
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(loopback_server.url("/lie"))
    answer = get(loopback_server.url("/nolength"))
    assert answer.content == b"z" * 10 and "Content-Length" not in answer.headers


def test_delay_and_stop_wakes_sleeping_handlers():
    with LoopbackServer() as server:
        server.add("/slow", body=b"s", delay=30, delay_times=1)
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(server.url("/slow"), timeout=(2, 0.2))
        assert get(server.url("/slow")).content == b"s"  # the second request is not delayed


def test_closed_port_url_refuses_connections():
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(LoopbackServer.closed_port_url("/x"), timeout=2)


def test_add_requires_a_body():
    with LoopbackServer() as server:
        with pytest.raises(ValueError):
            server.add("/x")


def test_serves_a_file_from_a_separate_process(tmp_path):
    file = tmp_path / "big.bin"
    file.write_bytes(b"q" * 100_000)
    script = Path(__file__).with_name("net_support.py")
    process = subprocess.Popen([sys.executable, str(script), str(file)], stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        assert url.endswith("/big.bin")
        assert get(url).content == b"q" * 100_000
    finally:
        process.terminate()
        process.wait(timeout=10)
