"""The built wheel ships the model index and is found through the installed package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("minim-*.whl")
    return path


def test_wheel_contains_index_configs_and_every_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "minim/model_index/cls/index.json" in names
    index = json.loads((ROOT / "model_index" / "cls" / "index.json").read_text())
    for entry in index["models"]:
        if entry["config"] is not None:  # weights-only entries (mmcls's ImageNet-21k pre-training) have none
            assert f"minim/model_index/cls/{entry['config']}" in names
    source_files = {str(p.relative_to(ROOT)) for p in (ROOT / "minim").rglob("*") if p.is_file()
                    and p.suffix in (".py", ".json", ".txt") and "__pycache__" not in p.parts}
    missing = sorted(f for f in source_files if f not in names)
    assert not missing, f"not in the wheel (add the package to pyproject.toml): {missing}"


def test_installed_wheel_finds_index_outside_source_tree(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = dict(os.environ, PYTHONPATH=str(site), MINIM_HOME=str(tmp_path / "home"))
    env.pop("MINIM_INDEX_PATH", None)
    proc = subprocess.run(
        [sys.executable, "-c",
         "import minim, json; from minim.index import load_index; e = load_index('cls').resolve('resnet18');"
         "print(json.dumps([minim.__file__, str(e.config_path), e.config_path.is_file()]))"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    module_file, config_path, exists = json.loads(proc.stdout)
    assert module_file.startswith(str(site)) and config_path.startswith(str(site)) and exists
