"""Batched inference (``inference_files``, ``minim infer --batch-size``) gives the per-image results, in order."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from cls_engine_support import write_tiny_setup

#: (width, height) of the images, in folder order; None: a corrupt file. The tiny test pipeline resizes the short
#: side to 16 px without cropping: batches of 3 or 4 hold squares only (one forward pass) or mixed sizes.
SIZES = [(20, 20), (24, 24), (32, 32), None, (40, 20), (18, 30), (16, 16), (28, 28)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(config, random-weight checkpoint, the model, image files in order with a corrupt one in the middle)."""
    from minim.cls.apis import init_model
    from minim.cls.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("batched")
    config = write_tiny_setup(root)
    tiny = config.read_text()
    assert tiny.count("dict(type='Resize', size=16)") == 2
    config.write_text(tiny.replace("dict(type='Resize', size=16)", "dict(type='Resize', size=(16, -1))"))  # short side
    rng = np.random.default_rng(0)
    files = []
    for i, size in enumerate(SIZES):
        path = root / "photos" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        if size is None:
            path.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        else:
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
        files.append(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no class names: a random-weight model
        model = init_model(str(config))
    checkpoint = save_checkpoint(root / "random.pth", model, meta={"CLASSES": ["cat", "dog", "fox"]})
    return config, checkpoint, model, files


def assert_per_image_results_in_order(model, files, batched):
    from minim.cls.apis import inference_model
    from minim.errors import DataError

    assert [position for position, _ in batched] == list(range(len(files)))
    for (_, result), file in zip(batched, files):
        if file.name == "3.png":
            assert isinstance(result, DataError) and "cannot decode image" in str(result) and "3.png" in str(result)
            continue
        expected = inference_model(model, str(file))
        assert result["scores"] == pytest.approx(expected["scores"], abs=1e-5)
        assert np.argsort(result["scores"])[::-1].tolist() == np.argsort(expected["scores"])[::-1].tolist()
        assert (result["pred_label"], result["pred_class"]) == (expected["pred_label"], expected["pred_class"])


@pytest.mark.parametrize("batch_size, workers, channels_last", [(1, 0, False), (4, 0, False), (4, 0, True),
                                                                 (3, 2, False), (None, None, None)])
def test_batches_give_the_per_image_results_in_order(setup, batch_size, workers, channels_last, monkeypatch):
    import copy

    from minim.cls.apis import batch_inference

    _, _, model, files = setup
    monkeypatch.setattr(batch_inference, "PROBE_MIN_IMAGES", 1)  # the probes run (on mixed sizes, a bad file)
    batched = list(batch_inference.inference_files(copy.deepcopy(model), files, batch_size, workers=workers,
                                                   channels_last=channels_last))
    assert_per_image_results_in_order(model, files, batched)


def test_the_probe_scores_the_first_images_and_workers_read_the_rest(setup, monkeypatch):
    import copy

    from minim.cls.apis import batch_inference
    from minim.cls.engine import probe

    _, _, model, files = setup
    monkeypatch.setattr(batch_inference, "PROBE_MIN_IMAGES", 1)
    for name in ("WARM_UP_CALLS", "TIMED_STEPS", "TIMED_IMAGES"):  # 4 batches of 2 per probe, channels_last
        monkeypatch.setattr(probe, name, 1)  # and forward: files 0-24 (those that differ in size scored one by one)
    starts = []
    image_files = batch_inference._ImageFiles
    monkeypatch.setattr(batch_inference, "_ImageFiles",
                        lambda *args, **kw: starts.append(kw.get("start", 0)) or image_files(*args, **kw))
    batched = list(batch_inference.inference_files(copy.deepcopy(model), files * 4, 2, workers=1))
    assert starts == [0, 26]  # the workers' loader starts after the files the probes read (25: scored after them)
    assert_per_image_results_in_order(model, files * 4, batched)


def test_cli_batch_size_does_not_change_the_output(setup, run_cli):
    config, checkpoint, _, files = setup
    outputs = []
    for batch_size in ("1", "4"):
        result = run_cli("infer", "cls", str(config), str(files[0].parent), "--checkpoint", str(checkpoint), "--json",
                         "--topk", "2", "--batch-size", batch_size)
        assert result.exit_code == 0, result.err
        assert result.err.count("minim: warning: skipped: cannot decode image") == 1 and "3.png" in result.err
        outputs.append(json.loads(result.out))
    one, four = outputs
    assert [item["file"] for item in one] == [str(f) for f in files if f.name != "3.png"]
    assert [item["file"] for item in four] == [item["file"] for item in one]
    for a, b in zip(one, four):
        assert [t["label"] for t in a["topk"]] == [t["label"] for t in b["topk"]]
        assert [t["score"] for t in a["topk"]] == pytest.approx([t["score"] for t in b["topk"]], abs=1e-5)
    rejected = run_cli("infer", "cls", str(config), str(files[0]), "--checkpoint", str(checkpoint), "--batch-size", "0")
    assert rejected.exit_code != 0 and "--batch-size" in rejected.err


@pytest.mark.parametrize("dynamic", [True, False])
def test_exported_onnx_runs_in_batches_only_with_a_dynamic_batch_axis(setup, tmp_path, dynamic):
    pytest.importorskip("onnxruntime")
    from minim.cls.analysis import onnx_export
    from minim.cls.analysis.export_metadata import describe_model
    from minim.cls.apis import inference_model, init_model
    from minim.cls.apis.batch_inference import inference_files

    _, _, model, files = setup
    squares = [files[i] for i in (0, 1, 2, 6)]  # all 16x16 after the pipeline: the export's fixed size
    description = describe_model(model, (3, 16, 16), dynamic_batch=dynamic, input_name=onnx_export.INPUT_NAME,
                                 output_name=onnx_export.OUTPUT_NAME)
    path, _, _ = onnx_export.export_onnx(model, tmp_path / "m.onnx", (3, 16, 16), dynamic=dynamic,
                                         description=description)
    exported = init_model(str(path))
    assert exported.dynamic_batch is dynamic
    batched = list(inference_files(exported, squares, 4, workers=0))
    assert [position for position, _ in batched] == [0, 1, 2, 3]
    for (_, result), file in zip(batched, squares):
        assert result["scores"] == pytest.approx(inference_model(model, str(file))["scores"], abs=1e-5)


def test_the_fastest_batch_is_found_by_doubling_until_the_time_per_image_rises():
    from minim.cls.engine.probe import fastest_batch

    per_image = {1: 10.0, 2: 6.0, 3: 6.5, 4: 5.0, 8: 7.0, 16: 1.0, 32: 1.0}  # 16: never tried, 8 was slower than 4
    tried = []

    def seconds(size):
        tried.append(size)
        return per_image[size] * size

    assert fastest_batch(seconds, 32) == {"batch_size": 4, "images_per_second": 0.2}
    assert tried == [1, 2, 4, 8]
    assert fastest_batch(seconds, 3)["batch_size"] == 2 and tried[-3:] == [1, 2, 3]  # 1, 2, then 3 itself
    assert fastest_batch(lambda size: 1.0, 32, sizes=[32]) == {"batch_size": 32, "images_per_second": 32.0}


@pytest.mark.slow
def test_many_files_get_the_measured_forward_and_batch_size_with_the_same_results(setup, monkeypatch):
    import copy
    import json

    from minim.cls.apis import batch_inference
    from minim.cls.engine import probe
    from minim.cls.engine.probe import probe_cache_path

    _, _, model, files = setup
    monkeypatch.setattr(probe, "MIN_RUN_SHARE", 0.0)  # remembered whatever else this machine runs meanwhile
    squares = [f for f, size in zip(files, SIZES) if size is not None and size[0] == size[1]]
    monkeypatch.setattr(batch_inference, "PROBE_MIN_IMAGES", len(squares))  # the probes run for these few
    traces, trace = [], batch_inference._frozen_scores
    monkeypatch.setattr(batch_inference, "_frozen_scores", lambda *args: traces.append(args) or trace(*args))
    measured = list(batch_inference.inference_files(copy.deepcopy(model), squares))
    assert len(traces) == 1  # the trace the probe timed is the one that scores
    eager = list(batch_inference.inference_files(copy.deepcopy(model), squares, 2, channels_last=False))
    choices = json.loads(probe_cache_path("inference").read_text())
    (choice,) = [value for key, value in choices.items() if " at most " in key]
    assert choice["forward"] in ("eager", "frozen TorchScript") and set(choice["rates"]) == {"eager",
                                                                                            "frozen TorchScript"}
    assert 1 <= choice["batch_size"] <= len(squares)
    for (_, fast), (_, plain) in zip(measured, eager):  # frozen TorchScript folds BatchNorm: rounding only
        assert fast["scores"] == pytest.approx(plain["scores"], abs=1e-5) and fast["pred_label"] == plain["pred_label"]


def test_a_cpu_with_several_cores_reads_and_scores_in_one_stream_per_core(setup):
    import copy
    import threading

    import torch

    from minim.cls.apis import batch_inference
    from minim.launch.commands import usable_cpu_count

    if usable_cpu_count() < 2:
        pytest.skip("one usable CPU: a single stream")
    _, _, model, files = setup
    scorer, calls = copy.deepcopy(model), []
    forward_test = scorer.forward_test

    def recorded(img):
        calls.append((threading.current_thread().name, torch.get_num_threads()))
        return forward_test(img)

    scorer.forward_test = recorded
    threads = torch.get_num_threads()
    batched = list(batch_inference.inference_files(scorer, files * 3, 2, channels_last=False))
    assert_per_image_results_in_order(model, files * 3, batched)
    assert calls and all(name.startswith("minim-stream") and used == 1 for name, used in calls)
    assert torch.get_num_threads() == threads
    unfinished = batch_inference.inference_files(scorer, files * 3, 2, channels_last=False)
    next(unfinished)
    assert torch.get_num_threads() == 1  # while the streams run
    unfinished.close()  # a caller that stops early gets its threads back
    assert torch.get_num_threads() == threads


def test_the_probes_measure_in_the_streams_that_then_score(setup, monkeypatch):
    """Probes timed on all cores at once would choose for a layout that does not run: they run in the streams."""
    import copy
    import threading

    import torch

    from minim.cls.apis import batch_inference
    from minim.cls.engine import probe
    from minim.launch.commands import usable_cpu_count

    if usable_cpu_count() < 2:
        pytest.skip("one usable CPU: a single stream")
    _, _, model, files = setup
    monkeypatch.setattr(probe, "MIN_RUN_SHARE", 0.0)  # remembered whatever else this machine runs meanwhile
    squares = [f for f, size in zip(files, SIZES) if size is not None and size[0] == size[1]] * 4
    monkeypatch.setattr(batch_inference, "PROBE_MIN_IMAGES", len(squares))
    scorer, calls = copy.deepcopy(model), []
    forward_test = scorer.forward_test

    def recorded(img):
        if not torch.jit.is_tracing():  # (the trace is made once, in the calling thread)
            calls.append((threading.current_thread().name, torch.get_num_threads()))
        return forward_test(img)

    scorer.forward_test = recorded  # (the probes' copy of the model keeps it)
    batched = list(batch_inference.inference_files(scorer, squares))
    assert_per_image_results_in_order(model, squares, batched)
    assert calls and all(name.startswith("minim-stream") and used == 1 for name, used in calls)
    streams = f"({usable_cpu_count()} streams of 1 thread)"
    for kind in ("channels_last", "inference"):
        (key,) = json.loads(probe.probe_cache_path(kind).read_text())
        assert streams in key  # measured for this layout: a run on all cores in one stream measures again


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity to run on one core")
def test_on_one_core_workers_are_weighed_against_the_measured_model(setup, monkeypatch):
    import copy

    from minim.cls.apis import batch_inference
    from minim.cls.engine import probe

    _, _, model, files = setup
    monkeypatch.setattr(batch_inference, "PROBE_MIN_IMAGES", 1)
    for name in ("WARM_UP_CALLS", "TIMED_STEPS", "TIMED_IMAGES"):
        monkeypatch.setattr(probe, name, 1)
    chosen, worker_choices = [], []
    choose_inference, choose_workers = batch_inference.choose_inference, batch_inference.choose_workers
    monkeypatch.setattr(batch_inference, "choose_inference",
                        lambda *args, **kw: chosen.append(choose_inference(*args, **kw)) or chosen[-1])
    monkeypatch.setattr(batch_inference, "choose_workers",
                        lambda *args, **kw: worker_choices.append(kw) or choose_workers(*args, **kw))
    squares = [f for f, size in zip(files, SIZES) if size is not None and size[0] == size[1]] * 4  # measurable
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {max(affinity)})
    try:
        batched = list(batch_inference.inference_files(copy.deepcopy(model), squares, channels_last=False))
    finally:
        os.sched_setaffinity(0, affinity)
    assert_per_image_results_in_order(model, squares, batched)
    # one core: DataLoader workers would take it from the model, so they are weighed against its measured cost
    assert worker_choices[0]["cpu_seconds_per_sample"] == pytest.approx(1 / chosen[0].images_per_second)


def test_batches_are_normalized_on_the_device_to_the_per_image_values(setup):
    import torch

    from minim.cls.apis.batch_inference import _ImageFiles, _loader
    from minim.cls.apis.inference import preprocessor

    _, _, model, files = setup
    squares, mixed = [files[i] for i in (0, 1, 2, 6)], [files[4], files[5]]
    for group in (squares, mixed):
        loader = _loader(_ImageFiles(group, preprocessor(model)), len(group), 0, torch.device("cpu"))
        assert loader.normalizer is not None and loader.dataset[0]["img"].dtype == torch.uint8
        (batch,) = list(loader)
        expected = [preprocessor(model)(str(file)) for file in group]
        images = batch["img"] if isinstance(batch["img"], list) else list(batch["img"])
        assert isinstance(batch["img"], list) == (group is mixed)
        assert len(images) == len(expected) and all(torch.equal(a, b) for a, b in zip(images, expected))
