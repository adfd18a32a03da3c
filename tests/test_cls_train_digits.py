"""The README's main job: `minim train cls mobilenet-v2_digits` from nothing reaches >= 97 % top-1."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_train_mobilenet_v2_digits_from_scratch(tmp_path, monkeypatch, run_cli):
    monkeypatch.chdir(tmp_path)  # MINIM_HOME is already a fresh temporary folder (tests/conftest.py)
    result = run_cli("train", "cls", "mobilenet-v2_digits")
    assert result.exit_code == 0, result.err
    work_dir = tmp_path / "work_dirs" / "mobilenet-v2_digits"
    log = next(work_dir.glob("*.log.json"))
    val = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    top1 = max(r["accuracy_top-1"] for r in val if r["mode"] == "val")
    assert top1 >= 97.0
    best = list(work_dir.glob("best_accuracy_top-1_epoch_*.pth"))
    assert len(best) == 1
    assert "Best accuracy_top-1" in result.out and f"--checkpoint work_dirs/mobilenet-v2_digits/{best[0].name}" in result.out
