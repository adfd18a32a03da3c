"""``compile = True`` / ``dict(...)``: torch.compile'd training with unchanged checkpoints."""

from __future__ import annotations

import pytest
import torch

from cls_engine_support import train_tiny
from minim.cls.engine.compiling import compile_model, compile_options, is_compiled
from minim.errors import ConfigError


def test_compile_options():
    assert compile_options(None) is None and compile_options(False) is None
    assert compile_options(True) == {}
    assert compile_options(dict(mode="reduce-overhead", dynamic=False)) == dict(mode="reduce-overhead", dynamic=False)
    with pytest.raises(ConfigError, match="compile has unknown key 'mdoe'") as error:
        compile_options(dict(mdoe="default"))
    assert "mode" in error.value.hint
    with pytest.raises(ConfigError, match="compile must be True, False or a dict"):
        compile_options("yes")


def test_classifier_backbone_and_neck_are_compiled_in_place():
    from minim.cls.models import build_classifier

    model = build_classifier(dict(type="ImageClassifier", backbone=dict(type="ResNet", depth=18),
                                  neck=dict(type="GlobalAveragePooling"),
                                  head=dict(type="LinearClsHead", num_classes=3, in_channels=512)))
    keys = list(model.state_dict())
    note = compile_model(model, {"dynamic": False})
    assert note.startswith("torch.compile(dynamic=False) on backbone and neck")
    assert model.backbone._compiled_call_impl is not None and model.neck._compiled_call_impl is not None
    assert model.head._compiled_call_impl is None
    assert list(model.state_dict()) == keys
    assert is_compiled(model) and not is_compiled(model.head)


@pytest.mark.slow
def test_compiled_training_runs_and_checkpoints_load_uncompiled(tmp_path):
    runner = train_tiny(tmp_path, compile=dict(dynamic=False))
    assert runner.model._compiled_call_impl is not None and runner.epoch == 2
    (log,) = tmp_path.glob("*.log")
    assert "torch.compile(dynamic=False) on the model" in log.read_text()
    # evaluated in turn: in CPU streams each batch size would compile again, and the threads would recompile
    assert "val: 0 DataLoader workers" in log.read_text() and "streams" not in log.read_text()
    checkpoint = torch.load(tmp_path / "latest.pth", weights_only=True)
    assert set(checkpoint["state_dict"]) == set(type(runner.model)().state_dict())
