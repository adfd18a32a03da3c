"""``minim run cls get_flops`` and :mod:`minim.cls.analysis.complexity`."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from minim.cls.analysis.complexity import count_complexity, format_count, input_shape


def test_flops_and_params_of_a_tiny_net_equal_a_hand_count():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 4, 1, stride=2, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 5))
    result = count_complexity(net, (3, 16, 12))
    conv1_macs = 8 * 3 * 3 * 3 * 16 * 12      # out channels x in channels x kernel x output pixels
    conv2_macs = 4 * 8 * 1 * 1 * 8 * 6        # stride 2 halves the output
    fc_macs = 4 * 5
    assert result.flops == 2 * (conv1_macs + conv2_macs + fc_macs)
    assert result.macs == conv1_macs + conv2_macs + fc_macs
    assert result.params == (8 * 3 * 9 + 8) + (8 + 8) + (4 * 8) + (4 * 5 + 5)
    assert result.by_operator == {"convolution": 2 * (conv1_macs + conv2_macs), "addmm": 2 * fc_macs}
    assert net.training  # the mode is restored


def test_resnet18_matches_torchvision_published_ops(run_cli):
    import torchvision

    result = run_cli("run", "cls", "get_flops", "resnet18", "--shape", "224")
    assert result.exit_code == 0, result.err
    assert "Input shape: (3, 224, 224)" in result.out
    macs = float(re.search(r"MACs:\s+([\d.]+) GMACs", result.out).group(1))
    flops = float(re.search(r"FLOPs:\s+([\d.]+) GFLOPs", result.out).group(1))
    published = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["_ops"]  # GMACs, 3 decimals
    assert macs == pytest.approx(published, abs=0.001)
    assert flops == pytest.approx(2 * macs, abs=0.002)
    assert "Params: 11.690 M" in result.out
    assert "mmcv/mmcls printed as \"Flops\"" in result.out


def test_shape_option(run_cli, tmp_path):
    config = tmp_path / "c.py"
    config.write_text("model = dict(type='ImageClassifier', backbone=dict(type='ShuffleNetV2', widen_factor=0.5), "
                      "neck=dict(type='GlobalAveragePooling'), head=dict(type='LinearClsHead', num_classes=3, "
                      "in_channels=1024))\n")
    result = run_cli("run", "cls", "get_flops", str(config), "--shape", "32", "48", "--by-operator")
    assert result.exit_code == 0, result.err
    assert "Input shape: (3, 32, 48)" in result.out and "convolution" in result.out
    bad = run_cli("run", "cls", "get_flops", str(config), "--shape", "1", "2", "3")
    assert bad.exit_code == 2 and "--shape" in bad.err
    no_model = tmp_path / "data_only.py"
    no_model.write_text("data = dict()\n")
    result = run_cli("run", "cls", "get_flops", str(no_model))
    assert result.exit_code == 1 and "no 'model'" in result.err


def test_helpers():
    assert input_shape(None) == (3, 224, 224) and input_shape([32]) == (3, 32, 32) and input_shape([8, 9]) == (3, 8, 9)
    assert format_count(3.6284e9, "FLOPs") == "3.628 GFLOPs" and format_count(512, "MACs") == "512 MACs"
    assert torch.is_grad_enabled()


def test_a_model_that_cannot_take_the_shape_is_a_one_line_error():
    from minim.errors import BuildError

    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    with pytest.raises(BuildError, match=r"cannot run on a 1x3x16x16 input: .*--shape"):
        count_complexity(net, (3, 16, 16))
