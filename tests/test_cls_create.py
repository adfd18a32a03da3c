"""The timm-style API: ``from minim.cls import create_model, list_models``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from cls_tools_support import make_checkpoint, tiny_shufflenet_config
from index_support import entry, write_index
from minim.errors import BuildError, UsageError
from net_support import LoopbackServer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("create")
    config = tiny_shufflenet_config(root / "tiny_sn.py", root / "data")
    return config, make_checkpoint(root / "tiny_sn.pth", config)


def _zoo(tmp_path, monkeypatch, config, url="http://127.0.0.1:9/tinynet-a-0123abcd.pth", sha256="0123abcd"):
    weights = {"url": url, "sha256": sha256, "size": None, "format": "minim"}
    index = write_index(tmp_path / "zoo", [entry("tinynet-a", weights=weights), entry("tinynet-b", weights=None),
                                           entry("tinynet-c", config=None)], configs=False)
    (tmp_path / "zoo" / "configs").mkdir()
    for name in ("tinynet-a", "tinynet-b"):
        (tmp_path / "zoo" / "configs" / f"{name}.py").write_text(config.read_text())
    monkeypatch.setenv("MINIM_INDEX_PATH", str(index))


def test_list_models_patterns(tmp_path, monkeypatch, trained):
    from minim.cls import list_models

    _zoo(tmp_path, monkeypatch, trained[0])
    assert list_models("tinynet*") == ["tinynet-a", "tinynet-b"]  # tinynet-c has weights but no config
    assert list_models("TinyNet-?", pretrained=True) == ["tinynet-a"]
    assert list_models(["tinynet-b", "resnet18_8xb32*"]) == ["resnet18_8xb32_in1k", "tinynet-b"]
    everything = list_models()
    assert everything == sorted(everything) and "mobilenet-v2_digits" in everything and len(everything) > 300
    assert list_models("no-such-model*") == []


def test_create_model_random_weights_with_num_classes(trained):
    from minim.cls import create_model

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: random weights of a new head were asked for
        model = create_model(str(trained[0]), num_classes=5, frozen_stages=1)
    assert not model.training and model.num_classes == 5 and model.cfg.model.head.num_classes == 5
    assert model.backbone.frozen_stages == 1  # keyword overrides are backbone arguments, as timm's kwargs
    cfg = model.pretrained_cfg
    assert cfg["input_size"] == (3, 32, 32) and cfg["num_classes"] == 5 and cfg["channel_order"] == "RGB"
    assert cfg["mean"] == pytest.approx((0.485, 0.456, 0.406)) and cfg["std"] == pytest.approx((0.229, 0.224, 0.225))
    assert cfg["interpolation"] == "bilinear" and cfg["crop_pct"] == 1.0
    import timm.data

    data_config = timm.data.resolve_data_config(model=model)  # timm reads minim's preprocessing
    assert data_config["input_size"] == (3, 32, 32) and data_config["mean"] == cfg["mean"]
    batch = model.preprocess(np.zeros((40, 50, 3), np.uint8))
    assert batch.shape == (1, 3, 32, 32) and model(batch).shape == (1, 5)
    with pytest.raises(UsageError, match="num_classes must be a positive int"):
        create_model(str(trained[0]), num_classes=0)
    with pytest.raises(BuildError, match="'ShuffleNetV2' got an unexpected argument 'drop_path_rate'"):
        create_model(str(trained[0]), drop_path_rate=0.1)


def test_create_model_pretrained_from_a_file(trained):
    from minim.cls import create_model
    from minim.cls.apis import inference_model, init_model

    config, checkpoint = trained
    model = create_model(str(config), pretrained=str(checkpoint))
    reference = init_model(str(config), str(checkpoint))
    image = (np.arange(32 * 32 * 3) % 251).astype(np.uint8).reshape(32, 32, 3)
    assert model.CLASSES == ["cat", "dog", "fox"] and model.pretrained_cfg["label_names"] == model.CLASSES
    assert inference_model(model, image)["scores"] == inference_model(reference, image)["scores"]
    with torch.no_grad():
        assert torch.equal(model(model.preprocess(image)), reference(model.preprocess(image)))
    fresh_head = create_model(str(config), pretrained=checkpoint, num_classes=7)
    assert fresh_head.num_classes == 7
    assert torch.equal(fresh_head.backbone.conv1.conv.weight, reference.backbone.conv1.conv.weight)


def test_create_model_pretrained_from_an_index_entry(tmp_path, monkeypatch, trained):
    from minim.cls import create_model
    from minim.errors import NotFoundError

    config, checkpoint = trained
    data = checkpoint.read_bytes()
    with LoopbackServer() as server:
        server.add("/w/tinynet-a.pth", body=data)
        url = server.url("/w/tinynet-a.pth")
        _zoo(tmp_path, monkeypatch, config, url=url, sha256=hashlib.sha256(data).hexdigest())
        model = create_model("tinynet-a", pretrained=True)
        assert server.hits("/w/tinynet-a.pth") == 1
        create_model("tinynet-a", pretrained=True)  # the second time from the verified cache
        assert server.hits("/w/tinynet-a.pth") == 1
    assert model.CLASSES == ["cat", "dog", "fox"] and model.pretrained_cfg["architecture"] == "tinynet-a"
    assert model.pretrained_cfg["url"] == url
    with pytest.raises(NotFoundError, match="'tinynet-b' has no published weights"):
        create_model("tinynet-b", pretrained=True)


def test_importing_the_api_and_listing_models_do_not_import_torch():
    code = ("import sys\nfrom minim.cls import create_model, list_models\nassert list_models('resnet18_*')\n"
            "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
