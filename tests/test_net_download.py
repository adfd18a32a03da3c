"""download() and fetch_cached() against a real loopback HTTP server (minim.net.download)."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time

import pytest

from minim.errors import ChecksumError, DownloadError, OfflineError, UsageError
from minim.net.cache import cache_path
from minim.net.download import DownloadResult, download, fetch_cached
from minim.net.session import make_session
from net_support import LoopbackServer

BODY = random.Random(0).randbytes(3_000_000)
DIGEST = hashlib.sha256(BODY).hexdigest()
NAME = f"model-{DIGEST[:8]}.pth"  # carries its digest prefix, as torch.hub names do


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("MINIM_HOME", str(home))
    for variable in ("MINIM_OFFLINE", "MINIM_MIRROR", "MINIM_TIMEOUT"):
        monkeypatch.delenv(variable, raising=False)
    return home


@pytest.fixture
def dest(tmp_path):
    folder = tmp_path / "dest"
    folder.mkdir()
    return folder


@pytest.fixture
def fast():
    """A session that retries without waiting."""
    with make_session(backoff_factor=0) as session:
        yield session


def all_files(*folders):
    return sorted(p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()
                  and p.parent.name != "locks")


def serve(server, path=f"/w/{NAME}", body=BODY, **behaviour):
    server.add(path, body=body, **behaviour)
    return server.url(path)


# -- success ------------------------------------------------------------------------------------------
def test_download_into_a_directory(loopback_server, dest, home):
    url = serve(loopback_server)
    result = download(url, dest, sha256=DIGEST, size=len(BODY), progress="none")
    assert result == DownloadResult(dest / NAME, "downloaded", DIGEST)
    assert (dest / NAME).read_bytes() == BODY
    assert all_files(dest) == [dest / NAME]
    assert all_files(home) == [home / "weights" / NAME]
    sent = loopback_server.requests[0].headers
    assert sent["Accept-Encoding"] == "identity" and sent["User-Agent"].startswith("minim/")


def test_download_to_a_file_path_and_a_trailing_separator(loopback_server, tmp_path):
    url = serve(loopback_server)
    target = tmp_path / "new" / "folder" / "renamed.pth"
    assert download(url, target, progress="none").path == target
    assert target.read_bytes() == BODY
    folder = tmp_path / "not-yet.v2"
    assert download(url, f"{folder}/", progress="none").path == folder / NAME
    assert download(url, tmp_path / "new-folder", progress="none").path == tmp_path / "new-folder" / NAME
    (tmp_path / "plainfile").write_bytes(BODY)
    assert download(url, tmp_path / "plainfile", progress="none").path == tmp_path / "plainfile"


def test_fetch_cached_returns_the_cache_file(loopback_server, home):
    url = serve(loopback_server)
    path = fetch_cached(url, sha256=DIGEST, progress="none")
    assert path == home / "weights" / NAME == cache_path(url, digest_known=True)
    assert path.read_bytes() == BODY
    assert fetch_cached(url, progress="none") == path
    assert loopback_server.hits() == 1


def test_without_any_digest_the_url_is_part_of_the_cache_key(loopback_server, dest):
    url_a = serve(loopback_server, "/a/model.pth", b"first")
    url_b = serve(loopback_server, "/b/model.pth", b"second")
    assert download(url_a, dest / "a.pth", progress="none").status == "downloaded"
    assert download(url_b, dest / "b.pth", progress="none").status == "downloaded"
    assert (dest / "a.pth").read_bytes() == b"first" and (dest / "b.pth").read_bytes() == b"second"
    assert cache_path(url_a, False) != cache_path(url_b, False)


def test_missing_content_length_is_still_verified(loopback_server, dest):
    url = serve(loopback_server, omit_content_length=True)
    assert download(url, dest, sha256=DIGEST, progress="none").path.read_bytes() == BODY
    url = serve(loopback_server, "/w/other.pth", omit_content_length=True)
    with pytest.raises(ChecksumError):
        download(url, dest, sha256="0" * 64, progress="none")
    assert not (dest / "other.pth").exists()


def test_no_cache_downloads_straight_to_the_destination(loopback_server, dest, home):
    url = serve(loopback_server)
    assert download(url, dest, cache=False, progress="none").status == "downloaded"
    assert (dest / NAME).read_bytes() == BODY
    assert not (home / "weights").exists()


# -- resume -------------------------------------------------------------------------------------------
def test_resume_after_the_connection_drops_mid_body(loopback_server, dest, fast):
    url = serve(loopback_server, drop_after=1_500_000)
    result = download(url, dest, size=len(BODY), session=fast, progress="none")
    assert result.status == "downloaded" and result.sha256 == DIGEST
    first, second = loopback_server.requests
    assert first.range is None
    assert second.range == "bytes=1500000-" and second.status == 206
    assert (dest / NAME).read_bytes() == BODY


def test_resume_of_a_part_file_left_by_an_earlier_run(loopback_server, dest):
    url = serve(loopback_server)
    part = cache_path(url, digest_known=True).with_suffix(".pth.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(BODY[:1_000_000])
    assert download(url, dest, progress="none").sha256 == DIGEST
    assert [r.range for r in loopback_server.requests] == ["bytes=1000000-"]
    assert (dest / NAME).read_bytes() == BODY
    assert not part.exists()


def test_a_part_file_with_wrong_bytes_fails_the_check_and_is_removed(loopback_server, dest):
    url = serve(loopback_server)
    part = cache_path(url, digest_known=True).with_suffix(".pth.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 1_000_000)
    with pytest.raises(ChecksumError):
        download(url, dest, progress="none")
    assert not part.exists() and not (dest / NAME).exists()
    assert download(url, dest, progress="none").sha256 == DIGEST  # the next run starts afresh


def test_server_without_range_support_restarts_from_zero(loopback_server, dest):
    url = serve(loopback_server, ranges=False)
    part = cache_path(url, digest_known=True).with_suffix(".pth.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"junk" * 1000)
    assert download(url, dest, progress="none").sha256 == DIGEST
    assert loopback_server.requests[0].range == "bytes=4000-" and loopback_server.requests[0].status == 200


def test_416_restarts_from_zero(loopback_server, dest):
    url = serve(loopback_server, "/w/plain.bin")
    part = cache_path(url, digest_known=False).with_name("plain.bin.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * (len(BODY) + 10))
    assert download(url, dest, progress="none").sha256 == DIGEST
    assert [r.status for r in loopback_server.requests] == [416, 200]


def test_repeated_drops_make_progress_until_done(loopback_server, dest, fast):
    url = serve(loopback_server, drop_after=400_000, drop="always")
    assert download(url, dest, session=fast, progress="none").sha256 == DIGEST
    assert loopback_server.hits() == 8


def test_when_attempts_run_out_the_part_is_kept_and_the_next_run_resumes(loopback_server, dest, fast):
    url = serve(loopback_server, drop_after=100_000, drop="always")
    with pytest.raises(DownloadError, match="failed after 20 attempts") as caught:
        download(url, dest, session=fast, progress="none")
    assert "kept" in caught.value.hint
    part = cache_path(url, digest_known=True).with_suffix(".pth.part")
    assert part.stat().st_size == 2_000_000 and not (dest / NAME).exists()
    url = serve(loopback_server)  # the connection is fine again
    before = loopback_server.hits()
    assert download(url, dest, session=fast, progress="none").sha256 == DIGEST
    assert loopback_server.requests[before].range == "bytes=2000000-"


def test_a_server_that_trickles_bytes_counts_as_stalled(loopback_server, dest, fast):
    url = serve(loopback_server, drop_after=1_000, drop="always")  # 1 kB per request, then the connection drops
    with pytest.raises(DownloadError, match="failed after 5 attempts"):
        download(url, dest, session=fast, progress="none")
    assert loopback_server.hits() == 5


# -- failures -----------------------------------------------------------------------------------------
def test_404_is_one_clear_error_and_leaves_nothing(loopback_server, dest, home):
    url = loopback_server.url("/w/missing.pth")
    with pytest.raises(DownloadError) as caught:
        download(url, dest, progress="none")
    assert str(caught.value).startswith(f"HTTP 404 Not Found for {url}")
    assert all_files(dest, home) == []


def test_500_then_success(loopback_server, dest, fast):
    url = serve(loopback_server, fail_times=2, fail_status=500)
    assert download(url, dest, session=fast, progress="none").sha256 == DIGEST
    assert loopback_server.hits() == 3


def test_persistent_500_is_reported_after_bounded_retries(loopback_server, dest, home, fast):
    url = serve(loopback_server, fail_times=1000, fail_status=500)
    with pytest.raises(DownloadError, match=r"HTTP 500 .* for .*still failing after retries"):
        download(url, dest, session=fast, progress="none")
    assert loopback_server.hits() == 4
    assert all_files(dest, home) == []


def test_digest_mismatch_removes_the_file_and_shows_both_digests(loopback_server, dest, home):
    url = serve(loopback_server, "/w/plain.bin")
    wrong = "ab" * 32
    with pytest.raises(ChecksumError) as caught:
        download(url, dest, sha256=wrong, progress="none")
    assert wrong in caught.value.message and DIGEST in caught.value.message
    assert all_files(dest, home) == []


def test_digest_prefix_in_the_file_name_is_checked(loopback_server, dest, home):
    url = serve(loopback_server, "/w/model-deadbeef.pth")
    with pytest.raises(ChecksumError, match="deadbeef... \\(from the file name\\)") as caught:
        download(url, dest, progress="none")
    assert DIGEST in caught.value.message and "sha256 explicitly" in caught.value.hint
    assert all_files(dest, home) == []
    assert download(url, dest, sha256=DIGEST, progress="none").status == "downloaded"  # explicit wins


def test_truncated_body_is_an_error(loopback_server, dest, home, fast):
    url = serve(loopback_server, "/w/short.bin", body=BODY[:5000], content_length=100_000)
    with pytest.raises(DownloadError, match="cut off at byte 5000 of 100000"):
        download(url, dest, session=fast, progress="none")
    assert all_files(dest, home) == []


def test_size_different_from_the_index_is_an_error(loopback_server, dest, home):
    url = serve(loopback_server)
    with pytest.raises(DownloadError, match=f"has {len(BODY)} bytes but {len(BODY) + 1} were expected"):
        download(url, dest, size=len(BODY) + 1, progress="none")
    assert all_files(dest, home) == []


def test_timeout_is_a_clear_and_quick_error(loopback_server, dest, home):
    url = serve(loopback_server, delay=30)
    started = time.monotonic()
    with make_session(timeout=(1, 0.2), backoff_factor=0, retries=1) as session:
        with pytest.raises(DownloadError, match=r"did not answer within 0.2 s \(read timeout\)"):
            download(url, dest, session=session, progress="none")
    assert time.monotonic() - started < 10  # not the server's 30 s
    assert all_files(dest, home) == []


def test_unreachable_host_is_a_clear_error(dest, home, fast):
    url = LoopbackServer.closed_port_url(f"/w/{NAME}")
    with pytest.raises(DownloadError, match=r"cannot reach host 127\.0\.0\.1:\d+: .*refused") as caught:
        download(url, dest, session=fast, progress="none")
    assert "MINIM_MIRROR" in caught.value.hint
    assert all_files(dest, home) == []


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/w/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/w/..%2fx.pth", "/w/"])
def test_path_traversal_urls_are_refused_before_any_request(loopback_server, dest, home, path):
    with pytest.raises(DownloadError):
        download(loopback_server.base_url + path, dest, progress="none")
    assert loopback_server.hits() == 0
    assert all_files(dest, home) == []


# -- existing files, cache, offline, mirrors ---------------------------------------------------------
def test_existing_good_file_is_present_without_a_request(loopback_server, dest):
    url = serve(loopback_server)
    download(url, dest, progress="none")
    assert download(url, dest, progress="none") == DownloadResult(dest / NAME, "present", DIGEST)
    assert loopback_server.hits() == 1


def test_existing_bad_file_is_an_error_until_overwrite(loopback_server, dest):
    url = serve(loopback_server)
    (dest / NAME).write_bytes(b"22-byte placeholder...")
    with pytest.raises(ChecksumError, match="already exists but is not the expected file") as caught:
        download(url, dest, progress="none")
    assert "--overwrite" in caught.value.hint
    assert (dest / NAME).read_bytes() == b"22-byte placeholder..."
    assert download(url, dest, overwrite=True, progress="none").status == "downloaded"
    assert (dest / NAME).read_bytes() == BODY


def test_existing_file_of_the_wrong_size_is_caught_without_a_digest(loopback_server, dest):
    url = serve(loopback_server, "/w/plain.bin")
    (dest / "plain.bin").write_bytes(b"tiny")
    with pytest.raises(ChecksumError, match=f"it has 4 bytes, expected {len(BODY)}"):
        download(url, dest, size=len(BODY), progress="none")


def test_second_download_comes_from_the_cache(loopback_server, tmp_path):
    url = serve(loopback_server)
    first = download(url, f"{tmp_path}/one/", sha256=DIGEST, progress="none").path
    result = download(url, tmp_path / "two" / "copy.pth", sha256=DIGEST, progress="none")
    assert result == DownloadResult(tmp_path / "two" / "copy.pth", "cached", DIGEST)
    assert result.path.read_bytes() == BODY
    assert loopback_server.hits() == 1
    with open(result.path, "r+b") as handle:  # torch.save over a downloaded file's name writes in place
        handle.write(b"fine-tuned weights")
    assert first.read_bytes() == BODY  # the other copies and the cache keep theirs
    again = download(url, tmp_path / "three", sha256=DIGEST, progress="none")
    assert again.status == "cached" and again.path.read_bytes() == BODY and loopback_server.hits() == 1


def test_a_damaged_cache_file_is_downloaded_again(loopback_server, dest, home):
    url = serve(loopback_server)
    cached = fetch_cached(url, progress="none")
    cached.unlink()
    cached.write_bytes(b"bit rot")
    assert download(url, dest, progress="none").status == "downloaded"
    assert cached.read_bytes() == BODY and loopback_server.hits() == 2


def test_offline_uses_the_cache_and_never_the_network(loopback_server, tmp_path, home, monkeypatch):
    url = serve(loopback_server)
    missing = serve(loopback_server, "/w/other-0123abcd.pth")
    download(url, f"{tmp_path}/one/", progress="none")
    monkeypatch.setenv("MINIM_OFFLINE", "1")
    assert download(url, f"{tmp_path}/two/", progress="none").status == "cached"
    with pytest.raises(OfflineError) as caught:
        download(missing, f"{tmp_path}/two/", progress="none")
    message = caught.value.message
    assert missing in message and str(home / "weights" / "other-0123abcd.pth") in message
    with pytest.raises(OfflineError):
        download(missing, f"{tmp_path}/two/", cache=False, progress="none")
    assert loopback_server.hits() == 1  # only the first, online download


def test_mirror_from_the_environment_serves_an_unreachable_origin(loopback_server, dest, home, monkeypatch):
    served = serve(loopback_server, f"/mirror/models/{NAME}")
    origin = LoopbackServer.closed_port_url(f"/models/{NAME}")
    origin_base = origin.rsplit("/", 2)[0]
    monkeypatch.setenv("MINIM_MIRROR", f"{origin_base}={loopback_server.base_url}/mirror")
    assert download(origin, dest, progress="none").sha256 == DIGEST
    assert loopback_server.requests[0].path == f"/mirror/models/{NAME}"
    assert (home / "weights" / NAME).exists()  # cached under the origin's name
    assert served.endswith(NAME)


def test_mirror_argument_bare_url_and_its_errors(loopback_server, dest, monkeypatch):
    serve(loopback_server)
    origin = LoopbackServer.closed_port_url(f"/w/{NAME}")
    monkeypatch.setenv("MINIM_MIRROR", "not a url")  # the argument wins over the environment
    assert download(origin, dest, mirror=loopback_server.base_url, progress="none").status == "downloaded"
    with pytest.raises(UsageError, match="--mirror"):
        download(origin, dest / "x.pth", mirror="nonsense", progress="none")
    with pytest.raises(UsageError, match="MINIM_MIRROR"):
        download(origin, dest / "x.pth", progress="none")


def test_mirror_errors_name_both_urls(loopback_server, dest):
    origin = "https://origin.invalid/w/model.pth"
    with pytest.raises(DownloadError) as caught:
        download(origin, dest, mirror=f"https://origin.invalid={loopback_server.base_url}", progress="none")
    assert caught.value.message == f"HTTP 404 Not Found for {loopback_server.base_url}/w/model.pth (mirror of {origin})"


def test_concurrent_downloads_of_one_file_fetch_it_once(loopback_server, tmp_path):
    url = serve(loopback_server)
    results, errors = [], []

    def worker(index):
        try:
            results.append(download(url, f"{tmp_path}/d{index}/", progress="none"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.status for r in results) == ["cached", "cached", "downloaded"]
    assert all(r.path.read_bytes() == BODY for r in results)
    assert loopback_server.hits() == 1


def test_progress_lines_when_not_a_terminal_and_silence_with_none(loopback_server, dest, capsys):
    url = serve(loopback_server)
    download(url, dest / "a.pth", progress="auto", cache=False)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "downloading a.pth (3.0 MB)" and "done" in lines[-1]
    assert 3 <= len(lines) <= 12
    download(url, dest / "b.pth", progress="none", cache=False)
    assert capsys.readouterr() == ("", "")


def test_unwritable_destination_is_a_download_error(loopback_server, tmp_path):
    url = serve(loopback_server)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DownloadError, match="cannot access"):
        download(url, blocker / "sub" / "x.pth", progress="none")
    assert os.path.isfile(blocker)


def test_a_failed_write_names_the_file_and_leaves_no_part(tmp_path):
    """A write the OS refuses (here: over RLIMIT_FSIZE, errno EFBIG, as a full disk gives ENOSPC) names no file
    by itself; the error names the cache file being written, and no partial file stays behind."""
    import subprocess
    import sys
    import textwrap

    body = os.urandom(200_000)
    digest = hashlib.sha256(body).hexdigest()
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from net_support import LoopbackServer
        from minim.errors import DownloadError
        from minim.net.download import download
        body = open({str(tmp_path / 'body')!r}, 'rb').read()
        with LoopbackServer() as server:
            server.add('/w/big-{digest[:8]}.pth', body=body)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
            try:
                download(server.url('/w/big-{digest[:8]}.pth'), {str(tmp_path / 'out')!r}, sha256={digest!r},
                         progress='none')
            except DownloadError as exc:
                print(exc)
    """)
    (tmp_path / "body").write_bytes(body)
    env = {**os.environ, "MINIM_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    weights = tmp_path / "home" / "weights"
    assert done.stdout.startswith(f"cannot write {weights}{os.sep}big-{digest[:8]}.pth.part: File too large"), \
        done.stdout + done.stderr
    assert not list(weights.glob("*.part")) and not (tmp_path / "out").exists()


def test_a_verified_cache_hit_takes_no_lock(loopback_server, tmp_path, home):
    """A shared cache others may only read: a hit is verified and used without creating lock files."""
    import shutil

    url = serve(loopback_server)
    download(url, f"{tmp_path}/one/", sha256=DIGEST, progress="none")
    shutil.rmtree(home / "locks")
    (home / "locks").write_text("a file where the lock folder would go: no lock can be created")
    assert download(url, f"{tmp_path}/two/", sha256=DIGEST, progress="none").status == "cached"
    with pytest.raises(DownloadError):  # a miss still needs the lock, and says so
        download(serve(loopback_server, "/w/other-0123abcd.pth"), f"{tmp_path}/two/", progress="none")
