"""File names from URLs and digests from file names (minim.net.names)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minim.errors import DownloadError
from minim.net.names import filename_from_url, normalise_sha256, sha256_prefix_from_name


@pytest.mark.parametrize("url, name", [
    ("https://download.pytorch.org/models/resnet18-f37072fd.pth", "resnet18-f37072fd.pth"),
    ("https://h/a/b/model.pth?token=abc&x=1#frag", "model.pth"),
    ("https://h/a/my%20model%2B1.pth", "my model+1.pth"),
    ("http://h:8080/w/caf%C3%A9.pth", "café.pth"),
    ("https://h/model.pth", "model.pth"),
])
def test_filename_from_url(url, name):
    assert filename_from_url(url) == name


@pytest.mark.parametrize("url", [
    "https://h/../../etc/passwd",
    "https://h/a/../b.pth",
    "https://h/%2e%2e%2fetc%2fpasswd",
    "https://h/%2E%2E/%2E%2E/etc/passwd",
    "https://h/a/..%2f..%2fb.pth",
    "https://h/a/..%5c..%5cwin.ini",
    "https://h/a/./b.pth",
    "https://h/dir/",
    "https://h",
    "https://h/.bashrc",
    "https://h/a%00b.pth",
    "https://h/C%3A%5Cwin.ini",
    "https://h/%20",
    "ftp://h/model.pth",
    "/etc/passwd",
    "file:///etc/passwd",
    "https://h/" + "a" * 300 + ".pth",
])
def test_unsafe_or_unusable_urls_are_rejected(url):
    with pytest.raises(DownloadError) as caught:
        filename_from_url(url)
    assert url in str(caught.value) or repr(url) in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=40))
def test_any_accepted_name_stays_inside_its_folder(segment):
    from urllib.parse import quote

    for url in (f"https://h/d/{segment}", f"https://h/d/{quote(segment, safe='')}"):
        try:
            name = filename_from_url(url)
        except DownloadError:
            continue
        folder = Path("/srv/dest")
        assert name and name not in (".", "..")
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert (folder / name).parent == folder
        assert Path(name).name == name


@pytest.mark.parametrize("name, prefix", [
    ("resnet18-f37072fd.pth", "f37072fd"),
    ("mobilenet_v2-b0353104.pth", "b0353104"),
    ("convnext-tiny_3rdparty_32xb128_in1k_20220124-18abde00.pth", "18abde00"),
    ("vit-base-p16_pt-64xb64_in1k-224_20210928-02284250.pth", "02284250"),
    ("efficientnet_b0_rwightman-7f5810bc.pth", "7f5810bc"),
    ("x-" + "a" * 64 + ".pth", "a" * 64),
    ("model.pth", None),
    ("model-abc123.pth", None),  # fewer than 8 digits
    ("model-DEADBEEF.pth", None),  # torch.hub only knows lowercase
    ("model-deadbeefz.pth", None),  # not followed by the extension
    ("model_deadbeef.pth", None),  # no dash
])
def test_sha256_prefix_from_name(name, prefix):
    assert sha256_prefix_from_name(name) == prefix


def test_normalise_sha256():
    assert normalise_sha256(None) is None
    assert normalise_sha256(" DEADBEEF ") == "deadbeef"
    assert normalise_sha256("sha256:" + "A" * 64) == "a" * 64
    for bad in ("abc", "xyz12345", "a" * 65, ""):
        with pytest.raises(DownloadError, match="8 to 64 hex digits"):
            normalise_sha256(bad)
