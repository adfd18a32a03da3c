"""Parity: torchvision checkpoints (and mmcls 0.x ones) load into minim's models with equal outputs.

For every torchvision ImageNet-1k classification architecture (every torchvision entry of the
built-in cls model index once it exists): build torchvision's model the way its weights build
it (random init), save its state dict to a file, build minim's model from the config, load the
file through ``load_checkpoint`` and compare eval-mode logits.  The default run compares logits
for the first case of each arch with at most ``FAST_PARAMS`` parameters plus one representative
per family (``FAST_REPRESENTATIVES``, so every backbone class is covered); the rest is marked
slow.  Every case also gets a cheap key/shape check on the meta device (no weights).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

torchvision = pytest.importorskip("torchvision")
import torchvision.models as tvm  # noqa: E402

from minim.cls.checkpoint import convert_state_dict, load_checkpoint  # noqa: E402
from minim.cls.models import build_classifier  # noqa: E402
from minim.cls.models.zoo import all_torchvision_archs, model_config_for_arch, torchvision_weights_kwargs  # noqa: E402

torch.set_num_threads(2)

FAST_PARAMS = 10_000_000
FAST_REPRESENTATIVES = {
    "alexnet", "convnext_tiny", "efficientnet_v2_s", "inception_v3", "maxvit_t", "resnet18", "resnext50_32x4d",
    "swin_t", "swin_v2_t", "vgg11_bn", "vit_b_32",
}
TOLERANCE = 1e-5


@dataclass(frozen=True)
class Case:
    arch: str
    weights: str  # torchvision weights enum member name
    config_path: Path | None = None  # an index config; None: model_config_for_arch

    @property
    def id(self) -> str:
        return f"{self.arch}-{self.weights}" if self.config_path is None else f"{self.config_path.stem}"


def _weights_to_arch() -> dict[str, str]:
    return {tvm.get_model_weights(arch).__name__: arch for arch in all_torchvision_archs()}


def _index_cases() -> list[Case]:
    """Torchvision entries of the built-in cls index (empty until the index exists)."""
    try:
        from minim.index import load_index

        index = load_index("cls")
    except Exception:  # noqa: BLE001 - no index yet: fall back to torchvision's own list
        return []
    by_enum = _weights_to_arch()
    cases = []
    for entry in index.models:
        weights = getattr(entry, "weights", None)
        if weights is None or getattr(weights, "format", None) != "torchvision":
            continue
        found = re.search(r"(\w+_Weights)\.(\w+)", str(getattr(entry, "source", "") or ""))
        if found and found.group(1) in by_enum:
            cases.append(Case(by_enum[found.group(1)], found.group(2), Path(entry.config_path)))
    return cases


def _cases() -> list[Case]:
    cases = _index_cases()
    covered = {case.arch for case in cases}
    for arch in all_torchvision_archs():
        if arch not in covered:
            cases.append(Case(arch, tvm.get_model_weights(arch).DEFAULT.name))
    return cases


def _params():
    """Fast: the first case of each small (or representative) arch; every other case is slow."""
    params, seen = [], set()
    for case in _cases():
        small = tvm.get_model_weights(case.arch)[case.weights].meta["num_params"] <= FAST_PARAMS
        fast = (small or case.arch in FAST_REPRESENTATIVES) and case.arch not in seen
        seen.add(case.arch)
        params.append(pytest.param(case, id=case.id, marks=[] if fast else [pytest.mark.slow]))
    return params


def _input_size(case: Case) -> int:
    if case.arch.startswith("swin_"):
        return 64  # torchvision's Swin pads windows itself: any multiple of 32 works (meta says 224)
    meta = tvm.get_model_weights(case.arch)[case.weights].meta
    return max(int(meta["min_size"][0]), 32)


@pytest.fixture()
def fast_trunc_normal(monkeypatch):
    """Random init is irrelevant here (weights are copied): replace torch's slow trunc_normal_."""

    def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
        with torch.no_grad():
            return tensor.normal_(mean, std).clamp_(a, b)

    monkeypatch.setattr(torch.nn.init, "trunc_normal_", trunc_normal_)


def _torchvision_builder_kwargs(case: Case) -> dict:
    """The arguments torchvision's builder gets when it loads ``case.weights``."""
    kwargs = dict(torchvision_weights_kwargs(case.arch, case.weights))
    if case.arch in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=True, init_weights=False)
    return kwargs


def _torchvision_reference(case: Case) -> torch.nn.Module:
    """torchvision's model built as its weights build it (aux classifiers included), random init."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tvm.get_model(case.arch, weights=None, **_torchvision_builder_kwargs(case))
    with torch.no_grad():
        for module in model.modules():  # non-trivial BN statistics so that eval-mode BN matters
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _minim_model(case: Case) -> torch.nn.Module:
    if case.config_path is not None:
        from minim.config import load_config

        return build_classifier(load_config(case.config_path).model)
    return build_classifier(model_config_for_arch(case.arch, weights=case.weights))


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in _cases()])
def test_config_fits_the_checkpoint_layout(case: Case, monkeypatch):
    """Every case, cheaply (meta device, no weights): the config's model has exactly the keys and
    shapes that torchvision's checkpoint maps onto."""
    from torchvision.models.regnet import BlockParams

    compute_widths = BlockParams.from_init_params

    def widths_on_cpu(*args, **kwargs):  # RegNet computes its widths with tensor ops
        with torch.device("cpu"):
            return compute_widths(*args, **kwargs)

    monkeypatch.setattr(BlockParams, "from_init_params", widths_on_cpu)
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = tvm.get_model(case.arch, weights=None, **_torchvision_builder_kwargs(case))
        model = _minim_model(case)
    converted = convert_state_dict(model, reference.state_dict())
    own = model.state_dict()
    assert sorted(k for k in own if k not in converted and not k.endswith("num_batches_tracked")) == []
    assert sorted(k for k in converted if k not in own) == []
    assert [k for k in converted if converted[k].shape != own[k].shape] == []


@pytest.mark.parametrize("case", _params())
def test_torchvision_checkpoint_gives_equal_logits(case: Case, tmp_path, fast_trunc_normal):
    torch.manual_seed(0)
    reference = _torchvision_reference(case)
    size = _input_size(case)
    img = torch.randn(1, 3, size, size)
    with torch.no_grad():
        expected = reference(img)
    checkpoint = tmp_path / f"{case.arch}.pth"
    torch.save(reference.state_dict(), checkpoint)
    del reference  # the biggest archs hold gigabytes
    model = _minim_model(case).eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a full checkpoint loads without skipping anything
            meta = load_checkpoint(model, checkpoint)
    finally:
        checkpoint.unlink()  # up to 2.5 GB each: the whole parametrisation would keep tens of GB on disk
    assert meta == {}
    with torch.no_grad():
        actual = model(img)
    assert actual.shape == expected.shape == (1, 1000)
    assert (actual - expected).abs().max().item() <= TOLERANCE
    assert model.num_classes == 1000


# ----------------------------------------------------------------------------- mmcls 0.x round trips
def torchvision_resnet_to_mmcls(state_dict: dict) -> dict:
    """torchvision ResNet keys -> mmcls ImageClassifier keys (tools/convert_models/torchvision_to_mmcls)."""
    out = {}
    for key, value in state_dict.items():
        out[("head." + key) if key.startswith("fc.") else ("backbone." + key)] = value
    return out


_MBV2_BLOCKS = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 3), (6, 3), (7, 1)]  # (mmcls layer, block count)


def torchvision_mobilenet_v2_to_mmcls(state_dict: dict) -> dict:
    """torchvision MobileNetV2 keys -> mmcls keys (the inverse of minim's loader table, written out)."""
    block_names = {}
    index = 1
    for layer, count in _MBV2_BLOCKS:
        for j in range(count):
            block_names[index] = f"layer{layer}.{j}"
            index += 1
    first_block = {"conv.0.0": "conv.0.conv", "conv.0.1": "conv.0.bn", "conv.1": "conv.1.conv", "conv.2": "conv.1.bn"}
    other_block = {"conv.0.0": "conv.0.conv", "conv.0.1": "conv.0.bn", "conv.1.0": "conv.1.conv",
                   "conv.1.1": "conv.1.bn", "conv.2": "conv.2.conv", "conv.3": "conv.2.bn"}
    stems = {"features.0.0": "conv1.conv", "features.0.1": "conv1.bn", "features.18.0": "conv2.conv",
             "features.18.1": "conv2.bn"}
    out = {}
    for key, value in state_dict.items():
        module, param = key.rsplit(".", 1)
        if module == "classifier.1":
            out[f"head.fc.{param}"] = value
            continue
        if module in stems:
            out[f"backbone.{stems[module]}.{param}"] = value
            continue
        _, block, inner = module.split(".", 2)
        table = first_block if int(block) == 1 else other_block
        out[f"backbone.{block_names[int(block)]}.{table[inner]}.{param}"] = value
    return out


@pytest.mark.parametrize("arch, convert, backbone", [
    ("resnet18", torchvision_resnet_to_mmcls, dict(type="ResNet", depth=18, num_stages=4, out_indices=(3,),
                                                   style="pytorch")),
    ("mobilenet_v2", torchvision_mobilenet_v2_to_mmcls, dict(type="MobileNetV2", widen_factor=1.0)),
])
def test_mmcls_checkpoint_round_trip(arch, convert, backbone, tmp_path):
    torch.manual_seed(0)
    reference = _torchvision_reference(Case(arch, "IMAGENET1K_V1"))
    mmcls_state = convert(reference.state_dict())
    assert any(".conv1.conv." in k for k in mmcls_state) == (arch == "mobilenet_v2")
    classes = [f"class_{i}" for i in range(1000)]
    path = tmp_path / "mmcls.pth"
    torch.save({"meta": {"CLASSES": classes, "mmcls_version": "0.25.0"}, "state_dict": mmcls_state}, path)
    in_channels = 512 if arch == "resnet18" else 1280
    model = build_classifier(dict(type="ImageClassifier", backbone=backbone, neck=dict(type="GlobalAveragePooling"),
                                  head=dict(type="LinearClsHead", num_classes=1000, in_channels=in_channels,
                                            topk=(1, 5)))).eval()
    meta = load_checkpoint(model, path)
    assert meta["CLASSES"] == classes
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (model(img) - reference(img)).abs().max().item() <= TOLERANCE
