"""``minim run cls print_config``."""

from __future__ import annotations

import json


def test_prints_flattened_config_of_index_name(run_cli):
    result = run_cli("run", "cls", "print_config", "resnet18")
    assert result.exit_code == 0, result.err
    assert "_base_" not in result.out
    assert "model = dict(" in result.out and "depth=18" in result.out or "resnet18" in result.out


def test_cfg_options_and_json(run_cli, tmp_path):
    config = tmp_path / "cfg.py"
    config.write_text("model = dict(head=dict(num_classes=1000))\noptimizer = dict(type='SGD', lr=0.1)\n")
    result = run_cli("run", "cls", "print_config", str(config), "--cfg-options",
                     "model.head.num_classes=10", "optimizer.lr=0.01", "--json")
    assert result.exit_code == 0, result.err
    data = json.loads(result.out)
    assert data["model"]["head"]["num_classes"] == 10 and data["optimizer"]["lr"] == 0.01


def test_missing_config_file(run_cli, tmp_path):
    result = run_cli("run", "cls", "print_config", str(tmp_path / "nope.py"))
    assert result.exit_code == 1 and "does not exist" in result.err and "nope.py" in result.err
    assert "did you mean" not in result.err


def test_missing_config_file_suggests_the_close_file_or_the_index_name(run_cli, tmp_path):
    (tmp_path / "my_mobilenet.py").write_text("x = 1\n")
    typo = run_cli("run", "cls", "print_config", str(tmp_path / "my_mobilnet.py"))
    assert typo.exit_code == 1 and f"(did you mean '{tmp_path / 'my_mobilenet.py'}'?)" in typo.err
    no_suffix = run_cli("run", "cls", "print_config", str(tmp_path / "my_mobilenet"))
    assert f"(did you mean '{tmp_path / 'my_mobilenet.py'}'?)" in no_suffix.err
    index_name = run_cli("run", "cls", "print_config", str(tmp_path / "mobilenet-v2_digits.py"))
    assert "'mobilenet-v2_digits' is a cls index model: give its name alone" in index_name.err
