"""model_index/packages.json: its consistency check and the questions install/doctor ask of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minim.errors import PackageError, UsageError
from minim.packages.compat import load_compat

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "scripts" / "check_packages.py"
DATA = ROOT / "model_index" / "packages.json"


def run_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(path)], capture_output=True, text=True, timeout=60)


def test_shipped_packages_json_is_consistent():
    result = run_check(DATA)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_sources_document_every_fact_table():
    data = json.loads(DATA.read_text())
    assert {"releases", "requires_torch", "series.variants", "variants.url", "cuda_min_driver"} <= set(data["sources"])


@pytest.mark.parametrize("breakage, expected", [
    (lambda d: d["releases"]["torchvision"]["0.20.1"].update(requires_torch="==2.99.1"),
     "admits no known torch release"),
    (lambda d: d["releases"]["torchvision"]["0.20.1"].update(torch_series="9.9"), "not a known torch series"),
    (lambda d: d["releases"]["torch"]["2.5.1"].update(python=["3.x"]), "is not 3.N"),
    (lambda d: d["releases"]["torch"]["2.5.1"].update(requires_python=">=>3"), "does not parse"),
    (lambda d: d["series"]["2.5"]["variants"].append("cu999"), "has no entry"),
    (lambda d: d["variants"]["cu121"].update(url="ftp://x"), "not an https URL"),
    (lambda d: d["variants"]["cu121"].update(cuda="12.4"), "matching cuda version"),
    (lambda d: d["sources"].pop("cuda_min_driver"), "documents 'cuda_min_driver'"),
    (lambda d: d["import_conflicts"][1].update(prefer=["opencv-nope"]), "not listed"),
])
def test_check_reports_each_kind_of_problem(tmp_path, breakage, expected):
    data = json.loads(DATA.read_text())
    breakage(data)
    broken = tmp_path / "packages.json"
    broken.write_text(json.dumps(data))
    result = run_check(broken)
    assert result.returncode == 1
    assert expected in result.stderr


def test_check_rejects_invalid_json(tmp_path):
    bad = tmp_path / "packages.json"
    bad.write_text("{not json")
    result = run_check(bad)
    assert result.returncode == 1 and "not valid JSON" in result.stderr


def test_pairs_follow_series_and_pins():
    compat = load_compat()
    assert compat.pairs("torchvision", "0.20.1", "2.5.1") is True
    assert compat.pairs("torchvision", "0.20.1", "2.5.0") is False   # pin ==2.5.1
    assert compat.pairs("torchvision", "0.29.1", "2.10.0") is False  # the example
    assert compat.pairs("torchvision", "0.29.1", "2.15.0") is False  # pin >=2.14.0 allows it, the series does not
    assert compat.pairs("torchvision", "0.29.1", "2.14.1+cu130") is True
    assert compat.pairs("torchvision", "0.99.0", "2.5.1") is None    # unknown release: cannot tell


def test_companions_and_torch_for():
    compat = load_compat()
    assert compat.companions_for("torchvision", "2.5.1") == ["0.20.1"]
    assert compat.companions_for("torchaudio", "2.5.1") == ["2.5.1"]
    assert compat.companions_for("torchaudio", "2.14.1") == []
    assert compat.torch_for("torchvision", "0.29.1")[:2] == ["2.14.1", "2.14.0"]
    assert compat.companion_series("torchvision", "2.14.1") == "0.29"


def test_python_support_from_wheel_tags():
    compat = load_compat()
    assert compat.supports_python("torch", "2.5.1", "3.12.1")
    assert not compat.supports_python("torch", "2.5.1", "3.14.0")
    assert compat.newest_torch(python_version="3.9.18") == "2.8.0"


def test_variants_and_did_you_mean():
    compat = load_compat()
    assert compat.variant("cu121").url == "https://download.pytorch.org/whl/cu121"
    assert compat.variants_for("2.5.1") == (["cpu", "cu118", "cu121", "cu124", "rocm6.1", "rocm6.2"], True)
    with pytest.raises(UsageError) as info:
        compat.variant("cu12")
    assert "unknown compute variant 'cu12'" in str(info.value) and "did you mean" in str(info.value)


def test_min_driver_and_pypi_builds():
    compat = load_compat()
    assert compat.min_driver("12.4", "Linux") == "525.60.13"
    assert compat.min_driver("11.8", "Windows") == "452.39"
    assert compat.pypi_build("2.5.1") == "cu124"
    assert compat.pypi_build("1.12.1") == "cu102"


def test_missing_or_broken_file_is_a_package_error(tmp_path):
    with pytest.raises(PackageError, match="cannot read"):
        load_compat(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(PackageError, match="not a packages.json"):
        load_compat(bad)
