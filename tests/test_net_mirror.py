"""MINIM_MIRROR / --mirror specs (minim.net.mirror)."""

from __future__ import annotations

import pytest

from minim.errors import UsageError
from minim.net.mirror import MirrorMap


def test_empty_spec_maps_nothing():
    for spec in (None, "", " , ,"):
        mirrors = MirrorMap.parse(spec)
        assert not mirrors
        assert mirrors.apply("https://h/a.pth") == "https://h/a.pth"


def test_prefix_pair_replaces_the_prefix():
    mirrors = MirrorMap.parse("https://download.pytorch.org/models=http://mirror.lan/torch")
    assert mirrors.apply("https://download.pytorch.org/models/a.pth") == "http://mirror.lan/torch/a.pth"
    assert mirrors.apply("https://download.pytorch.org/other/a.pth") == "https://download.pytorch.org/other/a.pth"


def test_trailing_slashes_do_not_matter():
    for spec in ("https://o/x/=http://m/y", "https://o/x=http://m/y/", "https://o/x/=http://m/y/"):
        assert MirrorMap.parse(spec).apply("https://o/x/a.pth") == "http://m/y/a.pth"


def test_prefixes_match_whole_segments_only():
    mirrors = MirrorMap.parse("https://a.com/x=http://m")
    assert mirrors.apply("https://a.com/xy/a.pth") == "https://a.com/xy/a.pth"
    assert MirrorMap.parse("https://a.com=http://m").apply("https://a.com.evil/a.pth") == "https://a.com.evil/a.pth"
    assert mirrors.apply("https://a.com/x?q=1") == "http://m?q=1"


def test_longest_prefix_wins_whatever_the_order():
    spec = "https://o=http://general, https://o/special=http://special"
    mirrors = MirrorMap.parse(spec)
    assert mirrors.apply("https://o/special/a.pth") == "http://special/a.pth"
    assert mirrors.apply("https://o/other/a.pth") == "http://general/other/a.pth"


def test_bare_url_replaces_scheme_and_host_of_unmatched_urls():
    mirrors = MirrorMap.parse("http://mirror.lan:8000/all, https://o/x=http://m/x")
    assert mirrors.apply("https://user@host.example:443/a/b.pth?t=1") == "http://mirror.lan:8000/all/a/b.pth?t=1"
    assert mirrors.apply("https://o/x/a.pth") == "http://m/x/a.pth"
    assert MirrorMap.parse("http://m/").apply("https://h/a.pth") == "http://m/a.pth"


@pytest.mark.parametrize("spec, bad_part", [
    ("mirror.lan", "mirror.lan"),
    ("https://o=mirror.lan/x", "https://o=mirror.lan/x"),
    ("ftp://o/x=http://m", "ftp://o/x=http://m"),
    ("http://m1,http://m2", "http://m2"),
    ("https://o=http://m?x=1", "https://o=http://m?x=1"),
    ("=http://m", "=http://m"),
])
def test_bad_specs_name_the_bad_item(spec, bad_part):
    with pytest.raises(UsageError) as caught:
        MirrorMap.parse(spec, source="--mirror")
    assert repr(bad_part) in caught.value.message
    assert "--mirror" in caught.value.message
    assert caught.value.exit_code == 2
