"""mmcls 0.25 checkpoints of a small model of every family load into minim with mmcls's logits.

Each ``fixtures/mmcls_small/<name>.json`` holds a small mmcls model dict and input shape; the
``.pt`` beside it was recorded from the real mmcls by ``scripts/check_mmcls_parity.py
--record-small``: mmcls's raw logits for a seeded input with the deterministic weights of
``mmcls_synthetic.py``, and the key shapes and integer buffers of mmcls's state dict, from which
the test rebuilds the checkpoint mmcls would save.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from minim.cls.checkpoint import load_checkpoint
from minim.cls.models import build_classifier
from mmcls_synthetic import synthetic_state

FIXTURES = Path(__file__).parent / "fixtures" / "mmcls_small"
SPECS = sorted(p for p in FIXTURES.glob("*.json") if p.with_suffix(".pt").exists())
TOLERANCE = 1e-5


@pytest.mark.parametrize("spec_path", SPECS, ids=[p.stem for p in SPECS])
def test_mmcls_checkpoint_gives_mmcls_logits(spec_path: Path, tmp_path):
    spec = json.loads(spec_path.read_text())
    recorded = torch.load(spec_path.with_suffix(".pt"), weights_only=True)
    checkpoint = tmp_path / "mmcls.pth"
    torch.save({"state_dict": synthetic_state(recorded["shapes"], recorded["integers"]), "meta": {}}, checkpoint)
    model = build_classifier(spec["model"]).eval()
    load_checkpoint(model, checkpoint, skip_mismatched_head=False)
    with torch.no_grad():
        logits = model(recorded["input"])
    expected = recorded["logits"]
    assert logits.shape == expected.shape
    scale = max(1.0, float(expected.abs().max()))
    assert float((logits - expected).abs().max()) <= TOLERANCE * scale


def test_every_family_module_has_a_small_fixture():
    from minim.cls.models.backbones import FAMILIES

    covered = set()
    for spec_path in SPECS:
        backbone_type = json.loads(spec_path.read_text())["model"]["backbone"]["type"]
        covered.add(backbone_type)
    implemented = {name for module, names in FAMILIES.items() for name in names
                   if (Path(__file__).parents[1] / "minim/cls/models/backbones" / f"{module}.py").exists()}
    # TIMMBackbone wraps timm's own models (and no mmcls 0.25 config uses it): test_cls_models covers it
    assert not implemented - covered - {"TIMMBackbone"}, \
        "record a small mmcls fixture for these backbones"
