"""``minim download``: flattened configs and verified weights from a loopback server."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from index_support import entry, write_index
from net_support import LoopbackServer

WEIGHTS = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    """A private index whose config uses _base_ and whose weights a loopback server serves."""
    digest = hashlib.sha256(WEIGHTS).hexdigest()
    filename = f"tinynet_20260101-{digest[:8]}.pth"
    with LoopbackServer() as server:
        server.add(f"/models/{filename}", WEIGHTS)
        folder = tmp_path / "zoo"
        path = write_index(folder, [entry("tinynet_in10", aliases=["tinynet"], weights={
            "url": server.url(f"/models/{filename}"), "sha256": digest[:8], "size": len(WEIGHTS),
            "format": "minim"})])
        (folder / "configs" / "_base_.py").write_text("optimizer = dict(type='SGD', lr=0.1)\nmodel = dict(x=1)\n")
        config = folder / "configs" / "tinynet_in10.py"
        config.write_text("_base_ = './_base_.py'\noptimizer = dict(lr=0.01)\n" + config.read_text())
        monkeypatch.setenv("MINIM_INDEX_PATH", str(path))
        yield server, filename


def test_download_writes_flat_config_and_verified_weights(run_cli, zoo, tmp_path):
    server, filename = zoo
    dest = tmp_path / "out"
    result = run_cli("download", "cls", "--config", "TinyNet", "--dest", str(dest))
    assert result.exit_code == 0, result.err
    config = (dest / "tinynet_in10.py").read_text()
    assert "_base_" not in config and "lr=0.01" in config and "type='SGD'" in config
    assert (dest / filename).read_bytes() == WEIGHTS
    assert "sha256 verified" in result.err

    again = run_cli("download", "cls", "--config", "tinynet", "--dest", str(dest))
    assert again.exit_code == 0 and "already present" in again.err
    assert server.hits(f"/models/{filename}") == 1


def test_second_destination_uses_cache(run_cli, zoo, tmp_path):
    server, filename = zoo
    assert run_cli("download", "cls", "--config", "tinynet", "--dest", str(tmp_path / "a")).exit_code == 0
    result = run_cli("download", "cls", "--config", "tinynet", "--dest", str(tmp_path / "b"), "--quiet")
    assert result.exit_code == 0 and result.err == ""
    assert (tmp_path / "b" / filename).read_bytes() == WEIGHTS
    assert server.hits(f"/models/{filename}") == 1


def test_changed_config_is_kept_unless_overwrite(run_cli, zoo, tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "tinynet_in10.py").write_text("# my edits\n")
    result = run_cli("download", "cls", "--config", "tinynet", "--dest", str(dest), "--no-weights")
    assert result.exit_code == 1 and "--overwrite" in result.err
    assert (dest / "tinynet_in10.py").read_text() == "# my edits\n"
    result = run_cli("download", "cls", "--config", "tinynet", "--dest", str(dest), "--no-weights", "--overwrite")
    assert result.exit_code == 0 and "lr=0.01" in (dest / "tinynet_in10.py").read_text()


@pytest.mark.slow
def test_network_down_keeps_config_and_reports_one_line(run_cli, tmp_path, monkeypatch):
    url = LoopbackServer.closed_port_url("/m/tiny-0123abcd.pth")
    path = write_index(tmp_path / "zoo", [entry("tinynet", weights={"url": url, "sha256": "0123abcd"})])
    monkeypatch.setenv("MINIM_INDEX_PATH", str(path))
    dest = tmp_path / "out"
    result = run_cli("download", "cls", "--config", "tinynet", "--dest", str(dest))
    assert result.exit_code == 1
    assert result.err.strip().splitlines()[-1].startswith("minim: error: ")
    assert "Traceback" not in result.err
    assert (dest / "tinynet.py").exists()
    assert not (dest / "tiny-0123abcd.pth").exists()
    assert f"{dest / 'tinynet.py'} is kept" in result.err and "--no-weights" in result.err


@pytest.mark.parametrize("variable, value, words", [("MINIM_TIMEOUT", "soon", "bad MINIM_TIMEOUT"),
                                                    ("MINIM_OFFLINE", "maybe", "MINIM_OFFLINE='maybe'")])
def test_bad_download_settings_fail_before_the_config_is_written(run_cli, zoo, tmp_path, monkeypatch,
                                                                 variable, value, words):
    monkeypatch.setenv(variable, value)
    dest = tmp_path / "out"
    result = run_cli("download", "cls", "--config", "tinynet", "--dest", str(dest))
    assert result.exit_code != 0 and words in result.err
    assert not (dest / "tinynet_in10.py").exists()


def test_hash_mismatch_leaves_no_file(run_cli, tmp_path, monkeypatch):
    with LoopbackServer() as server:
        server.add("/m/tiny-0123abcd.pth", b"not the weights")
        path = write_index(tmp_path / "zoo", [entry("tinynet", weights={
            "url": server.url("/m/tiny-0123abcd.pth"), "sha256": "0123abcd"})])
        monkeypatch.setenv("MINIM_INDEX_PATH", str(path))
        result = run_cli("download", "cls", "--config", "tinynet", "--dest", str(tmp_path / "out"))
    assert result.exit_code == 1 and "0123abcd" in result.err
    assert not list((tmp_path / "out").glob("tiny-0123abcd.pth*"))


def test_offline_uses_cache_or_fails_clearly(run_cli, zoo, tmp_path, monkeypatch):
    server, filename = zoo
    monkeypatch.setenv("MINIM_OFFLINE", "1")
    miss = run_cli("download", "cls", "--config", "tinynet", "--dest", str(tmp_path / "a"))
    assert miss.exit_code == 1 and "offline" in miss.err.lower()
    assert server.hits() == 0
    monkeypatch.delenv("MINIM_OFFLINE")
    assert run_cli("download", "cls", "--config", "tinynet", "--dest", str(tmp_path / "a")).exit_code == 0
    monkeypatch.setenv("MINIM_OFFLINE", "1")
    hit = run_cli("download", "cls", "--config", "tinynet", "--dest", str(tmp_path / "b"))
    assert hit.exit_code == 0 and (tmp_path / "b" / filename).exists()


def test_mirror_option(run_cli, tmp_path, monkeypatch):
    origin = LoopbackServer.closed_port_url("/models/tiny-0123abcd.pth")
    with LoopbackServer() as mirror:
        mirror.add("/mirror/models/tiny-0123abcd.pth", WEIGHTS)
        digest = hashlib.sha256(WEIGHTS).hexdigest()
        path = write_index(tmp_path / "zoo", [entry("tinynet", weights={"url": origin, "sha256": digest})])
        monkeypatch.setenv("MINIM_INDEX_PATH", str(path))
        origin_prefix = origin.rsplit("/models/", 1)[0]
        result = run_cli("download", "cls", "--config", "tinynet", "--dest", str(tmp_path / "out"),
                         "--mirror", f"{origin_prefix}={mirror.url('/mirror')}")
        assert result.exit_code == 0, result.err
        assert mirror.hits() == 1


def test_a_bad_mirror_fails_before_anything_is_written(run_cli, tmp_path):
    result = run_cli("download", "cls", "--config", "resnet18", "--dest", str(tmp_path / "out"), "--mirror", "garbage")
    assert result.exit_code == 2 and "bad --mirror item 'garbage'" in result.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_ambiguous_name_lists_candidates(run_cli, tmp_path):
    result = run_cli("download", "cls", "--config", "resnet50_torchvision", "--dest", str(tmp_path), "--no-weights")
    assert result.exit_code == 1 and "ambiguous" in result.err and "resnet50_torchvision-v2_in1k" in result.err


def test_builtin_config_is_flattened(run_cli, tmp_path):
    result = run_cli("download", "cls", "--config", "mobilenet-v2", "--dest", str(tmp_path), "--no-weights")
    assert result.exit_code == 0, result.err
    (written,) = tmp_path.glob("*.py")
    text = written.read_text()
    assert "_base_" not in text and "type='MobileNetV2'" in text and "samples_per_gpu" in text


def test_full_download_does_not_import_torch(zoo, tmp_path):
    code = ("import sys\nfrom minim.cli.main import main\n"
            f"try:\n    main(['download', 'cls', '--config', 'tinynet', '--dest', {str(tmp_path)!r}])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules\nprint('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
