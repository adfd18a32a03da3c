"""The Python API: init_model, inference_model, show_result_pyplot, test_model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cls_engine_support import write_tiny_setup
from minim.errors import MinimError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from minim.cls.commands import train

    root = tmp_path_factory.mktemp("api")
    config = write_tiny_setup(root)
    result = train(str(config), work_dir=str(root / "run"), cfg_options=["runner.max_epochs=1"], console=False,
                   validate=False)
    return root / "run" / "tiny_cfg.py", result.latest_checkpoint, root / "data"


def test_init_model_reads_classes_from_checkpoint(trained):
    from minim.cls.apis import init_model

    config, checkpoint, _ = trained
    model = init_model(str(config), checkpoint, device="cpu")
    assert model.CLASSES == ["cat", "dog", "fox"] and not model.training
    assert model.cfg.model.head.num_classes == 3


def test_init_model_without_class_names_warns(trained, tmp_path):
    from minim.cls.apis import init_model

    config, checkpoint, _ = trained
    bare = tmp_path / "bare.pth"
    torch.save(torch.load(checkpoint, weights_only=True)["state_dict"], bare)
    from minim.cls.apis.inference import ClassNamesWarning
    from minim.cls.apis.test import test_checkpoint
    from minim.config import load_config

    with pytest.warns(ClassNamesWarning, match="class_<i>"):
        model = init_model(str(config), str(bare))
    assert model.CLASSES == ["class_0", "class_1", "class_2"]
    run = test_checkpoint(load_config(config), str(bare), None, torch.device("cpu"))
    assert run.classes == ["cat", "dog", "fox"] and run.warnings == []  # the test set's names make it moot
    with pytest.warns(ClassNamesWarning, match="ImageNet names"):
        big = init_model(str(config), options={"model.head.num_classes": 1000})
    assert len(big.CLASSES) == 1000 and big.CLASSES[0].startswith("tench")


def test_init_model_accepts_a_dict_and_options(trained):
    from minim.cls.apis import init_model
    from minim.config import load_config

    config, checkpoint, _ = trained
    cfg = load_config(config)
    model = init_model(cfg, checkpoint, options=["model.head.topk=(1,2)"])
    assert model.CLASSES == ["cat", "dog", "fox"] and model.cfg.model.head.topk == (1, 2)
    assert cfg.model.head.topk == (1,)  # the caller's config is left alone
    init_model(cfg.to_dict(), checkpoint)


def test_inference_model_paths_and_arrays_agree(trained):
    from minim.cls.apis import inference_model, init_model

    config, checkpoint, data = trained
    model = init_model(str(config), checkpoint)
    path = data / "val" / "fox" / "0.png"
    result = inference_model(model, str(path))
    assert set(result) == {"pred_label", "pred_score", "pred_class", "scores"}
    assert isinstance(result["pred_label"], int) and isinstance(result["pred_score"], float)
    assert result["pred_class"] == model.CLASSES[result["pred_label"]]
    assert sum(result["scores"]) == pytest.approx(1.0, abs=1e-5)
    rgb = np.asarray(Image.open(path).convert("RGB"))
    from_bgr = inference_model(model, rgb[:, :, ::-1].copy())  # mmcls convention: BGR arrays
    from_rgb = inference_model(model, rgb, bgr=False)
    assert from_bgr["scores"] == pytest.approx(result["scores"], abs=1e-6)
    assert from_rgb["scores"] == pytest.approx(result["scores"], abs=1e-6)
    with pytest.raises(MinimError, match="does not exist"):
        inference_model(model, str(data / "missing.png"))
    gray = rgb.mean(axis=2).astype(np.uint8)
    Image.fromarray(gray).save(data.parent / "gray.png")
    from_file = inference_model(model, str(data.parent / "gray.png"))  # loads as 3 equal channels
    for array in (gray, gray[:, :, None]):
        assert inference_model(model, array)["scores"] == pytest.approx(from_file["scores"], abs=1e-6)


@pytest.mark.parametrize("array, hint", [
    (np.zeros((8, 8, 4), np.uint8), "drop the alpha channel"),
    (np.zeros((3, 8, 8), np.uint8), "channels-first: img.transpose(1, 2, 0)"),
    (np.zeros((8, 8, 3), np.float32), "(img * 255).astype('uint8')"),
    (np.zeros((8, 8, 2), np.uint8), None),
])
def test_unusable_arrays_are_named_with_the_fix(trained, array, hint):
    from minim.cls.apis import inference_model, init_model

    config, checkpoint, _ = trained
    with pytest.raises(MinimError, match=r"must be H x W x 3 \(or H x W\) uint8") as info:
        inference_model(init_model(str(config), checkpoint), array)
    assert str(tuple(array.shape)) in str(info.value) and (hint is None or hint in info.value.hint)


def test_show_result_pyplot_saves_png_without_window(trained, tmp_path):
    from minim.cls.apis import inference_model, init_model, show_result_pyplot

    config, checkpoint, data = trained
    model = init_model(str(config), checkpoint)
    path = data / "val" / "cat" / "0.png"
    result = inference_model(model, str(path))
    out = show_result_pyplot(model, str(path), result, out_file=str(tmp_path / "figs" / "r.png"), title="cat?")
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 100


def test_show_result_pyplot_without_matplotlib(trained, monkeypatch):
    from minim.cls.apis import show_result_pyplot

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MinimError, match="minim\\[plot\\]"):
        show_result_pyplot(None, np.zeros((4, 4, 3), np.uint8), {"pred_label": 0})


@pytest.mark.parametrize("writer", ["annotate_image", "show_result_pyplot"])
def test_a_failed_image_write_keeps_the_earlier_file(tmp_path, monkeypatch, writer):
    import errno

    from matplotlib.figure import Figure
    from PIL import Image as PILImage

    from minim.cls.apis import inference

    out = tmp_path / "out.png"
    out.write_bytes(b"the earlier picture")
    result = {"pred_label": 1, "pred_score": 0.75, "pred_class": "dog"}

    def full_disk(self, target, *args, **kwargs):
        Path(target).write_bytes(b"half a PNG")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure if writer == "show_result_pyplot" else PILImage.Image,
                        "savefig" if writer == "show_result_pyplot" else "save", full_disk)
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(OSError, match="No space left"):
        if writer == "annotate_image":
            inference.annotate_image(image, result, out)
        else:
            inference.show_result_pyplot(None, image, result, out_file=str(out))
    assert out.read_bytes() == b"the earlier picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_test_model_scores_in_dataset_order(trained):
    from minim.cls.apis import init_model, test_model
    from minim.cls.datasets import build_dataset

    config, checkpoint, _ = trained
    model = init_model(str(config), checkpoint)
    dataset = build_dataset(model.cfg.data.test, dict(test_mode=True))
    scores = test_model(model, dataset, samples_per_gpu=4)
    assert scores.shape == (9, 3) and np.allclose(scores.sum(1), 1, atol=1e-5)
    # the mmcls notebook's next step: dataset.evaluate(outputs, metric, metric_options)
    results = dataset.evaluate(list(scores), metric=["accuracy", "recall"], metric_options=dict(topk=(1,)))
    expected = (scores.argmax(1) == dataset.get_gt_labels()).mean() * 100
    assert results["accuracy_top-1"] == pytest.approx(expected) and "recall" in results
    first_four = dataset.evaluate(scores[:4], metric="accuracy", metric_options=dict(topk=1), indices=range(4))
    assert first_four["accuracy"] == pytest.approx((scores[:4].argmax(1) == dataset.get_gt_labels()[:4]).mean() * 100)


def test_on_a_cpu_with_several_cores_evaluation_reads_and_scores_in_streams(trained, monkeypatch):
    """The same scores and metas in dataset order as the loader's own batches, read and scored in one stream per
    core (torch on one thread each) without iterating the loader; deterministic: in the loader's batch size."""
    import json
    import threading

    from minim.cls.apis import init_model
    from minim.cls.datasets import build_dataset
    from minim.cls.engine import evaluation, probe
    from minim.cls.engine.data import build_eval_loader
    from minim.cls.engine.device_loader import DeviceLoader
    from minim.launch.commands import usable_cpu_count

    if usable_cpu_count() < 2:
        pytest.skip("one usable CPU: a single stream")
    config, checkpoint, _ = trained
    model, cpu = init_model(str(config), checkpoint), torch.device("cpu")
    dataset = build_dataset(model.cfg.data.test, dict(test_mode=True))
    loader = build_eval_loader(dataset, {"samples_per_gpu": 4, "workers_per_gpu": 2}, cpu)
    turn_metas: list = []
    with monkeypatch.context() as one_stream:
        one_stream.setattr(evaluation, "eval_stream_count", lambda *args: 1)
        in_turn = evaluation.collect_scores(model, loader, cpu, keep_metas=turn_metas)
    calls, forward_test = [], model.forward_test

    def recorded(img):
        calls.append((threading.current_thread().name, torch.get_num_threads(), len(img)))
        return forward_test(img)

    model.forward_test = recorded
    monkeypatch.setattr(DeviceLoader, "__iter__", None)  # the loader's batches (and workers) are not used
    monkeypatch.setattr(probe, "MIN_RUN_SHARE", 0.0)  # remembered whatever else this machine runs meanwhile
    metas, threads = [], torch.get_num_threads()
    in_streams = evaluation.collect_scores(model, loader, cpu, keep_metas=metas)
    assert np.allclose(in_streams, in_turn, atol=1e-6) and metas == turn_metas and len(metas) == len(dataset)
    assert calls and all(name.startswith("minim-stream") and used == 1 for name, used, _ in calls)
    assert torch.get_num_threads() == threads
    (key,) = json.loads(probe.probe_cache_path("inference").read_text())  # measured, on images without labels
    assert key.endswith(" at most 4 eager") and f"({usable_cpu_count()} streams of 1 thread)" in key
    calls.clear()
    monkeypatch.setattr(torch, "are_deterministic_algorithms_enabled", lambda: True)
    monkeypatch.setattr(evaluation, "choose_inference", None)  # no timing-dependent choice
    assert np.array_equal(evaluation.collect_scores(model, loader, cpu), evaluation.collect_scores(model, loader, cpu))
    assert sorted(size for _, _, size in calls) == [1, 1, 4, 4, 4, 4]  # 9 images in the loader's batches of 4


def test_config_fromfile_is_load_config(trained):
    from minim.config import Config

    config, _, _ = trained
    cfg = Config.fromfile(str(config))
    assert isinstance(cfg, Config) and cfg.filename == str(config) and cfg.model.head.num_classes == 3


def test_a_top_level_key_one_slip_from_an_engine_key_warns(tmp_path):
    from minim.cls.plan.config import load_cls_config

    config = write_tiny_setup(tmp_path)
    config.write_text(config.read_text() + "load_form = 'weights.pth'\nevalution = dict(interval=2)\n"
                      "data_root = 'data'\nbase_lr = 0.1\n")
    cfg, _ = load_cls_config(str(config))
    assert cfg.warnings == [
        "config key 'load_form' is not one minim reads (did you mean 'load_from'?); it has no effect",
        "config key 'evalution' is not one minim reads (did you mean 'evaluation'?); it has no effect",
    ]


@pytest.mark.parametrize("checkpoint, words", [
    ("torchvision://resnet18", "https://download.pytorch.org/models/resnet18-f37072fd.pth is not in the cache"),
    ("mmcls://resnet18", "checkpoint mmcls://resnet18: the mmcls:// scheme is not supported"),
])
def test_checkpoint_schemes_reach_the_loader_intact(tmp_path, monkeypatch, checkpoint, words):
    from minim.cls.apis import init_model

    monkeypatch.setenv("MINIM_OFFLINE", "1")
    monkeypatch.setenv("MINIM_HOME", str(tmp_path / "home"))
    with pytest.raises(MinimError) as info:
        init_model("resnet18_torchvision-v1_in1k", checkpoint)
    assert words in str(info.value)


def test_training_from_a_dict_config_writes_config_py_and_names_it(tmp_path, monkeypatch):
    from minim.cls.commands import train
    from minim.config import load_config

    cfg = load_config(str(write_tiny_setup(tmp_path))).to_dict()
    monkeypatch.chdir(tmp_path)
    result = train(cfg, cfg_options=["runner.max_epochs=1"], console=False, validate=False)
    assert Path(result.work_dir) == Path("work_dirs") / "config"
    assert Path(result.config_file).is_file() and Path(result.config_file).name == "config.py"


def test_show_result_pyplot_takes_mmcls_arguments(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minim.cls.apis import show_result_pyplot

    shown = []
    monkeypatch.setattr(plt, "pause", lambda seconds: shown.append((plt.gcf().get_size_inches().tolist(), seconds)))
    image = np.zeros((8, 8, 3), np.uint8)
    assert show_result_pyplot(None, image, {"pred_label": 1}, (6, 4), "mine", wait_time=0.5) is None
    assert shown == [([6.0, 4.0], 0.5)] and not plt.get_fignums()  # shown for wait_time, then closed
