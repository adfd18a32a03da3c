"""Every mmcls 0.25 config's model builds in minim and takes the checkpoint mmcls saves for it.

``fixtures/mmcls_zoo_keys.json.gz`` was recorded from the real mmcls 0.25.0 by
``scripts/check_mmcls_parity.py --record-keys``: for each of the configs mmcls builds, the model
dict and the name and shape of every tensor of the state dict mmcls saves.  Here each model is
built on the meta device (no memory, no init time) and the recorded keys go through the same
conversion ``load_checkpoint`` applies; they must give exactly the model's own keys and shapes.
The outputs themselves are compared on small instances of every family in
``test_cls_mmcls_small.py`` (and on the full configs by the script, against mmcls).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from minim.cls.checkpoint import convert_state_dict, revise_state_dict_keys, without_raw_weights
from minim.cls.models import build_classifier

FIXTURE = Path(__file__).parent / "fixtures" / "mmcls_zoo_keys.json.gz"
with gzip.open(FIXTURE, "rt") as _handle:
    ZOO = json.load(_handle)

#: configs minim still refuses, with the reason (each also reported by the parity script)
KNOWN_REFUSALS: dict[str, str] = {}


def _build_on_meta(model_cfg: dict):
    with torch.device("meta"):
        return build_classifier(model_cfg)


@pytest.mark.slow
@pytest.mark.parametrize("config", sorted(ZOO))
def test_mmcls_checkpoint_keys_fit_the_minim_model(config):
    if config in KNOWN_REFUSALS:
        pytest.skip(KNOWN_REFUSALS[config])
    entry = ZOO[config]
    model = _build_on_meta(entry["model"])
    state = {key: torch.empty(shape, device="meta") for key, shape in entry["keys"].items()}
    state = without_raw_weights(revise_state_dict_keys(state), model)
    converted = convert_state_dict(model, state)
    own = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    converted = {k: v for k, v in converted.items() if not k.endswith("num_batches_tracked")}
    assert sorted(set(own) - set(converted)) == [], "model keys the checkpoint does not fill"
    assert sorted(set(converted) - set(own)) == [], "checkpoint keys the model does not have"
    wrong = {k: (list(converted[k].shape), list(own[k].shape)) for k in own if converted[k].shape != own[k].shape}
    assert wrong == {}


def test_the_fixture_covers_every_family():
    families = {config.split("/")[0] for config in ZOO}
    assert len(ZOO) == 280 and len(families) == 37  # every config mmcls 0.25.0 builds, in its 37 folders
