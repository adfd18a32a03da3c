"""Checkpoints: reading safely, layout detection, strict loading with head skipping, atomic saving."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import warnings
from pathlib import Path

import pytest
import torch
import torchvision

from minim.cls.checkpoint import (
    SkippedTensorsWarning,
    load_checkpoint,
    load_prefixed_checkpoint,
    read_checkpoint,
    save_checkpoint,
    torchvision_weights_url,
)
from minim.cls.models import build_classifier
from minim.cls.models.backbones.mobilenet_v2 import mmcls_mobilenet_v2_key_to_torchvision
from minim.cls.models.zoo import model_config_for_arch
from minim.errors import CheckpointError

torch.set_num_threads(1)


def resnet18(num_classes=10):
    torch.manual_seed(1)
    return build_classifier(model_config_for_arch("resnet18", num_classes=num_classes)).eval()


@pytest.fixture(scope="module")
def torchvision_resnet18_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tv") / "tv_resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


def outputs(model, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        return model.eval()(torch.randn(2, 3, 32, 32))


# ----------------------------------------------------------------------------- saving / reading
def test_save_and_read_round_trip(tmp_path):
    model = resnet18()
    model.CLASSES = [f"c{i}" for i in range(10)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.forward_train(torch.randn(2, 3, 32, 32), torch.tensor([0, 1]))["loss"].backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2)
    path = save_checkpoint(tmp_path / "sub" / "epoch_1.pth", model, optimizer, scheduler,
                           meta={"epoch": 1, "iter": 5, "config": "model = dict(type='ImageClassifier')\n",
                                 "hook_msgs": {"best_score": 0.5}})
    assert path.exists() and [p.name for p in path.parent.iterdir()] == ["epoch_1.pth"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable by the team, as the logs are (not 0600)
    ckpt = read_checkpoint(path)
    assert set(ckpt) == {"state_dict", "meta", "optimizer", "scheduler"}
    meta = ckpt["meta"]
    assert meta["CLASSES"] == model.CLASSES and meta["epoch"] == 1 and meta["iter"] == 5
    assert meta["config"].startswith("model = ") and meta["hook_msgs"] == {"best_score": 0.5}
    assert meta["minim_version"] and meta["torch_version"] == torch.__version__
    assert all(t.device.type == "cpu" for t in ckpt["state_dict"].values())
    assert ckpt["optimizer"]["state"] and ckpt["scheduler"]["step_size"] == 2

    fresh = resnet18()
    assert load_checkpoint(fresh, path)["CLASSES"] == model.CLASSES
    assert torch.equal(outputs(fresh), outputs(model))
    restored = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    restored.load_state_dict(ckpt["optimizer"])


def test_save_unwraps_data_parallel_and_config_objects(tmp_path):
    from minim.config import Config

    model = resnet18()
    model.cfg = Config.from_dict({"model": {"type": "ImageClassifier"}})
    path = save_checkpoint(tmp_path / "ddp.pth", torch.nn.DataParallel(model))
    ckpt = read_checkpoint(path)
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])
    assert isinstance(ckpt["meta"]["config"], str) and "ImageClassifier" in ckpt["meta"]["config"]
    assert ckpt["meta"]["CLASSES"] is None
    assert "optimizer" not in ckpt


def test_save_is_atomic(tmp_path, monkeypatch):
    model = resnet18()
    path = save_checkpoint(tmp_path / "latest.pth", model, meta={"epoch": 1})

    def broken_save(obj, handle, *args, **kwargs):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(CheckpointError, match=f"cannot write checkpoint {path}: disk full"):
        save_checkpoint(path, model, meta={"epoch": 2})
    monkeypatch.undo()
    assert read_checkpoint(path)["meta"]["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pth"]


def test_saved_meta_with_foreign_objects_stays_weights_only_loadable(tmp_path):
    import numpy as np

    path = save_checkpoint(tmp_path / "m.pth", resnet18(),
                           meta={"seed": np.int64(3), "path": tmp_path, "classes": ("a", "b"), "obj": object()})
    meta = read_checkpoint(path)["meta"]
    assert meta["seed"] == 3 and meta["path"] == str(tmp_path) and meta["classes"] == ("a", "b")
    assert isinstance(meta["obj"], str)


# ----------------------------------------------------------------------------- unsafe / broken files
class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": _Exploit(marker)}, path)
    with pytest.raises(CheckpointError, match="evil.pth") as info:
        load_checkpoint(resnet18(), path)
    assert "weights-only" in info.value.hint
    assert not marker.exists()


def test_truncated_file_is_a_checkpoint_error(tmp_path, torchvision_resnet18_file):
    data = torchvision_resnet18_file.read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.pth"):
        read_checkpoint(path)


@pytest.mark.parametrize("content, words", [
    (b"hello, this is text\n", "notes.pth is not a PyTorch checkpoint (neither a zip archive nor a pickle)"),
    (b'{"metrics": {}}\n', "notes.pth is not a PyTorch checkpoint"),
    (b"", "notes.pth is empty"),
])
def test_not_a_checkpoint_is_a_checkpoint_error(tmp_path, content, words):
    path = tmp_path / "notes.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="notes.pth") as info:
        load_checkpoint(resnet18(), path)
    assert words in str(info.value) and "file an issue" not in str(info.value)


def test_non_dict_and_missing_files(tmp_path):
    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="is a folder"):
        read_checkpoint(tmp_path)
    path = tmp_path / "odd.pth"
    torch.save({"epoch": 3, "note": "x"}, path)
    with pytest.raises(CheckpointError, match="no state_dict"):
        load_checkpoint(resnet18(), path)


def test_unsupported_scheme():
    with pytest.raises(CheckpointError, match="open-mmlab"):
        read_checkpoint("open-mmlab://resnet50_v1c")


# ----------------------------------------------------------------------------- layouts
def test_torchvision_checkpoint_fine_tunes_to_ten_classes(torchvision_resnet18_file):
    model = resnet18(num_classes=10)
    head_before = model.head.fc.weight.clone()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_checkpoint(model, torchvision_resnet18_file) == {}
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and caught[0].category is SkippedTensorsWarning
    assert "head.fc.weight" in messages[0] and "head.fc.bias" in messages[0] and "[1000, 512]" in messages[0]
    assert caught[0].message.shapes.startswith("head.fc.weight (checkpoint [1000, 512], model [10, 512])")
    reference = torch.load(torchvision_resnet18_file, weights_only=True)
    assert torch.equal(model.backbone.conv1.weight, reference["conv1.weight"])
    assert torch.equal(model.head.fc.weight, head_before)


def test_fine_tune_warning_goes_to_the_logger(torchvision_resnet18_file, caplog):
    import logging

    logger = logging.getLogger("minim.test")
    with caplog.at_level(logging.WARNING, logger="minim.test"):
        load_checkpoint(resnet18(), torchvision_resnet18_file, logger=logger)
    assert len(caplog.records) == 1 and "head.fc.weight" in caplog.records[0].getMessage()


def test_missing_and_unexpected_keys_are_errors(tmp_path, torchvision_resnet18_file):
    state = torch.load(torchvision_resnet18_file, weights_only=True)
    missing = dict(state)
    del missing["layer1.0.conv1.weight"]
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="missing keys: backbone.layer1.0.conv1.weight"):
        load_checkpoint(resnet18(1000), tmp_path / "missing.pth")
    extra = dict(state, **{"layer5.weight": torch.zeros(1)})
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match="unexpected keys: backbone.layer5.weight"):
        load_checkpoint(resnet18(1000), tmp_path / "extra.pth")


def test_backbone_shape_mismatch_is_an_error(torchvision_resnet18_file):
    model = build_classifier(model_config_for_arch("resnet34", num_classes=1000))
    with pytest.raises(CheckpointError, match="does not fit") as info:
        load_checkpoint(model, torchvision_resnet18_file)
    assert "missing keys" in str(info.value)
    cfg = dict(type="ImageClassifier", backbone=dict(type="ResNet_CIFAR", depth=18),
               neck=dict(type="GlobalAveragePooling"), head=dict(type="LinearClsHead", num_classes=1000,
                                                                 in_channels=512))
    with pytest.raises(CheckpointError, match="shape mismatches: backbone.conv1.weight"):
        load_checkpoint(build_classifier(cfg), torchvision_resnet18_file)


def test_num_batches_tracked_may_be_absent_and_module_prefix_is_stripped(tmp_path, torchvision_resnet18_file):
    state = torch.load(torchvision_resnet18_file, weights_only=True)
    wrapped = {"module." + k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": wrapped}, tmp_path / "ddp.pth")
    model = resnet18(1000)
    load_checkpoint(model, tmp_path / "ddp.pth")
    assert torch.equal(model.head.fc.weight, state["fc.weight"])


def test_revise_keys(tmp_path, torchvision_resnet18_file):
    state = torch.load(torchvision_resnet18_file, weights_only=True)
    torch.save({"model": {"encoder." + k: v for k, v in state.items()}}, tmp_path / "enc.pth")
    model = resnet18(1000)
    load_checkpoint(model, tmp_path / "enc.pth", revise_keys=[(r"^encoder\.", "")])
    assert torch.equal(model.backbone.conv1.weight, state["conv1.weight"])


def test_mmpretrain_checkpoint_classes_come_from_dataset_meta(tmp_path):
    classes = ("cat", "dog", "eel", "fox", "gnu")
    source = resnet18(5)
    state = {k: v for k, v in source.state_dict().items()}
    torch.save({"meta": {"dataset_meta": {"classes": classes}, "mmengine_version": "0.10"},
                "state_dict": state, "message_hub": {}}, tmp_path / "mmpretrain.pth")
    model = resnet18(5)
    meta = load_checkpoint(model, tmp_path / "mmpretrain.pth")
    assert meta["CLASSES"] == list(classes)
    assert torch.equal(outputs(model), outputs(source))


def _save_with_foreign_object(path, module_name, state):
    """torch.save a checkpoint whose message_hub holds an object of class ``module_name.History`` (a module
    that exists only while saving, as mmengine does not exist here)."""
    import sys
    import types

    import numpy as np

    parents = module_name.split(".")
    created = [".".join(parents[:i]) for i in range(1, len(parents) + 1)]
    for name in created:
        sys.modules[name] = types.ModuleType(name)
    History = type("History", (), {"__module__": module_name})
    sys.modules[module_name].History = History
    history = History()
    history.log = np.array([0.5, 0.25])
    try:
        torch.save({"meta": {"dataset_meta": {"classes": ["a", "b"]}}, "state_dict": state,
                    "message_hub": {"log_scalars": {"train/loss": history}}}, path)
    finally:
        for name in created:
            del sys.modules[name]


def test_an_mmpretrain_training_checkpoint_reads_without_mmengine(tmp_path):
    """epoch_N.pth of mmpretrain keeps mmengine HistoryBuffers (with numpy arrays) in its message_hub: they
    are read as inert data, so the weights load; any other foreign object is still refused."""
    source = resnet18(2)
    _save_with_foreign_object(tmp_path / "epoch_3.pth", "mmengine.logging.history_buffer", source.state_dict())
    model = resnet18(2)
    assert load_checkpoint(model, tmp_path / "epoch_3.pth")["CLASSES"] == ["a", "b"]
    assert torch.equal(outputs(model), outputs(source))
    history = read_checkpoint(tmp_path / "epoch_3.pth")["message_hub"]["log_scalars"]["train/loss"]
    assert type(history).__module__ == "minim.cls.checkpoint" and history.state["log"].tolist() == [0.5, 0.25]
    from minim.cls.analysis.publish import publish_checkpoint

    published = publish_checkpoint(tmp_path / "epoch_3.pth", tmp_path / "release" / "r18.pth")
    assert "message_hub" in published.dropped
    assert set(torch.load(published.path, weights_only=True)) == {"state_dict", "meta"}  # plain again
    _save_with_foreign_object(tmp_path / "other.pth", "evil.payload", source.state_dict())
    with pytest.raises(CheckpointError, match="evil.payload.History") as info:
        read_checkpoint(tmp_path / "other.pth")
    assert "weights-only" in info.value.hint


def test_mmcls_mobilenet_v2_key_table():
    assert mmcls_mobilenet_v2_key_to_torchvision("conv1.conv.weight") == "features.0.0.weight"
    assert mmcls_mobilenet_v2_key_to_torchvision("conv2.bn.running_var") == "features.18.1.running_var"
    assert mmcls_mobilenet_v2_key_to_torchvision("layer1.0.conv.1.conv.weight") == "features.1.conv.1.weight"
    assert mmcls_mobilenet_v2_key_to_torchvision("layer1.0.conv.1.bn.bias") == "features.1.conv.2.bias"
    assert mmcls_mobilenet_v2_key_to_torchvision("layer4.3.conv.2.bn.weight") == "features.10.conv.3.weight"
    assert mmcls_mobilenet_v2_key_to_torchvision("layer7.0.conv.1.bn.weight") == "features.17.conv.1.1.weight"
    assert mmcls_mobilenet_v2_key_to_torchvision("features.3.conv.0.0.weight") == "features.3.conv.0.0.weight"


def test_stacked_head_needs_matching_classifier_layers(tmp_path):
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), tmp_path / "mbv3.pth")
    cfg = model_config_for_arch("mobilenet_v3_small")
    cfg["head"] = dict(type="LinearClsHead", num_classes=1000, in_channels=576)
    with pytest.raises(CheckpointError, match="2 linear layer") as info:
        load_checkpoint(build_classifier(cfg), tmp_path / "mbv3.pth")
    assert "StackedLinearClsHead" in info.value.hint
    model = build_classifier(model_config_for_arch("mobilenet_v3_small", num_classes=10))
    with pytest.warns(UserWarning, match="head.layers.1.fc.weight"):
        load_checkpoint(model, tmp_path / "mbv3.pth")


def test_include_top_backbone_fine_tunes_its_classifier(tmp_path):
    torch.save(torchvision.models.squeezenet1_1().state_dict(), tmp_path / "sq.pth")
    model = build_classifier(model_config_for_arch("squeezenet1_1", num_classes=10))
    with pytest.warns(UserWarning, match=r"backbone.classifier.1.weight"):
        load_checkpoint(model, tmp_path / "sq.pth")


# ----------------------------------------------------------------------------- backbone-only loading
def test_backbone_init_cfg_with_prefix_loads_only_the_backbone(tmp_path, torchvision_resnet18_file):
    source = resnet18(1000)
    load_checkpoint(source, torchvision_resnet18_file)
    save_checkpoint(tmp_path / "full.pth", source)
    cfg = model_config_for_arch("resnet18", num_classes=10)
    cfg["backbone"]["init_cfg"] = dict(type="Pretrained", checkpoint=str(tmp_path / "full.pth"), prefix="backbone")
    model = build_classifier(cfg)
    head_before = model.head.fc.weight.clone()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.init_weights()
    assert torch.equal(model.backbone.layer4[1].conv2.weight, source.backbone.layer4[1].conv2.weight)
    assert torch.equal(model.head.fc.weight, head_before)
    with pytest.raises(CheckpointError, match="no tensors under 'neck'"):
        load_prefixed_checkpoint(model, tmp_path / "full.pth", prefix="neck")


def test_pretrained_whole_model(torchvision_resnet18_file):
    cfg = model_config_for_arch("resnet18", num_classes=10)
    cfg["pretrained"] = str(torchvision_resnet18_file)
    model = build_classifier(cfg)
    with pytest.warns(UserWarning, match="head.fc.weight"):
        model.init_weights()
    reference = torch.load(torchvision_resnet18_file, weights_only=True)
    assert torch.equal(model.backbone.conv1.weight, reference["conv1.weight"])


# ----------------------------------------------------------------------------- URLs
@pytest.fixture()
def http_dir(tmp_path):
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


def test_http_url_goes_through_the_shared_cache(http_dir, torchvision_resnet18_file):
    import hashlib

    folder, base = http_dir
    data = torchvision_resnet18_file.read_bytes()
    name = f"resnet18-{hashlib.sha256(data).hexdigest()[:8]}.pth"  # torch.hub naming: the cache checks it
    (folder / name).write_bytes(data)
    model = resnet18(1000)
    assert load_checkpoint(model, f"{base}/{name}") == {}
    reference = torch.load(torchvision_resnet18_file, weights_only=True)
    assert torch.equal(model.head.fc.weight, reference["fc.weight"])


def test_torchvision_scheme_names():
    assert torchvision_weights_url("resnet18").endswith("/resnet18-f37072fd.pth")
    assert torchvision_weights_url("mobilenet_v2").endswith("/mobilenet_v2-b0353104.pth")
    assert torchvision_weights_url("ResNet50_Weights.IMAGENET1K_V2").endswith("/resnet50-11ad3fa6.pth")
    with pytest.raises(CheckpointError, match="resnet5"):
        torchvision_weights_url("resnet5")


@pytest.mark.slow
def test_a_failed_checkpoint_write_names_the_file_and_keeps_the_old_one(tmp_path):
    """A write the OS refuses (RLIMIT_FSIZE here; a full disk alike) is one CheckpointError naming the
    checkpoint; the previous file stays and no temporary is left."""
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "epoch_1.pth"
    target.write_bytes(b"the previous checkpoint")
    script = textwrap.dedent(f"""
        import resource, signal, torch
        from minim.cls.checkpoint import save_checkpoint
        from minim.errors import CheckpointError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        try:
            save_checkpoint({str(target)!r}, torch.nn.Linear(1000, 1000))
        except CheckpointError as exc:
            print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith(f"cannot write checkpoint {target}: "), done.stdout + done.stderr
    assert "disk full" in done.stdout and "enforce fail" not in done.stdout and "Traceback" not in done.stderr
    assert target.read_bytes() == b"the previous checkpoint" and sorted(p.name for p in tmp_path.iterdir()) == [
        "epoch_1.pth"]


def test_ctrl_c_inside_a_library_error_is_recognised():
    from minim.errors import caused_by_interrupt

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos")  # what torch.save does
    except RuntimeError as exc:
        assert caused_by_interrupt(exc)
    assert not caused_by_interrupt(RuntimeError("disk full"))


def test_an_mmcls_mobilenet_v2_checkpoint_loads_into_torchvision_backbone_too(tmp_path):
    import itertools

    import torchvision

    stages = [1, 2, 3, 4, 3, 3, 1]  # mmcls MobileNetV2 blocks per layer
    names = [f"{p}.{kind}" for p in ("conv1", "conv2") for kind in ("conv", "bn")]
    names += [f"layer{s}.{j}.conv.{c}.{kind}" for s, blocks in enumerate(stages, 1) for j in range(blocks)
              for c, kind in itertools.product(range(3), ("conv", "bn"))]
    reference = torchvision.models.mobilenet_v2(num_classes=5).eval()
    torchvision_state = reference.state_dict()
    to_mmcls = {}
    for name in names:
        for leaf in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            own = mmcls_mobilenet_v2_key_to_torchvision(f"{name}.{leaf}")
            if own in torchvision_state:
                to_mmcls[own] = f"{name}.{leaf}"
    features = {k for k in torchvision_state if k.startswith("features.")}
    assert set(to_mmcls) == features  # the table reaches every backbone tensor
    mmcls_state = {"backbone." + to_mmcls[k]: torchvision_state[k] for k in features}
    mmcls_state.update({"head.fc.weight": torchvision_state["classifier.1.weight"],
                        "head.fc.bias": torchvision_state["classifier.1.bias"]})
    torch.save({"state_dict": mmcls_state, "meta": {"CLASSES": list("abcde")}}, tmp_path / "mmcls_mbv2.pth")
    model = build_classifier(dict(type="ImageClassifier", backbone=dict(type="TorchvisionBackbone", arch="mobilenet_v2"),
                                  neck=None, head=dict(type="LinearClsHead", num_classes=5, in_channels=1280))).eval()
    load_checkpoint(model, tmp_path / "mmcls_mbv2.pth")
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.head(model.extract_feat(images)), reference(images))


def test_a_checkpoint_for_the_index_must_fit_the_config_head_and_all(torchvision_resnet18_file):
    from minim.cls.analysis.index_entry import _load_exactly

    with pytest.raises(CheckpointError, match=r"tensor shapes differ: head.fc.weight \(checkpoint \[1000, 512\], "
                                              r"model \[10, 512\]\)"):
        _load_exactly(resnet18(num_classes=10), Path(torchvision_resnet18_file))
