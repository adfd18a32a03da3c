"""`minim test cls` (metrics table, --out JSON) and `minim infer cls` (--json, --show-dir)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cls_engine_support import COLOURS, write_tiny_setup


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(config in the work dir, best checkpoint, data root) of a 1-epoch tiny run."""
    from minim.cls.commands import train

    root = tmp_path_factory.mktemp("trained")
    config = write_tiny_setup(root)
    result = train(str(config), work_dir=str(root / "run"), cfg_options=["runner.max_epochs=1"], console=False)
    return root / "run" / "tiny_cfg.py", result.best_checkpoint, root / "data"


def test_test_prints_metrics_and_writes_json(trained, tmp_path, run_cli):
    config, checkpoint, data = trained
    out = tmp_path / "sub" / "results.json"
    result = run_cli("test", "cls", str(config), "--checkpoint", checkpoint, "--metrics", "accuracy", "precision",
                     "--metric-options", "topk=(1,)", "--out", str(out))
    assert result.exit_code == 0, result.err
    assert "accuracy_top-1" in result.out and "precision" in result.out
    payload = json.loads(out.read_text())
    assert set(payload) == {"metrics", "classes", "predictions"}
    assert set(payload["metrics"]) == {"accuracy_top-1", "precision"}
    assert payload["classes"] == ["cat", "dog", "fox"]
    assert len(payload["predictions"]) == 9
    for item in payload["predictions"]:
        assert set(item) == {"file", "gt_label", "pred_label", "pred_score", "pred_class", "scores"}
        assert item["pred_class"] == payload["classes"][item["pred_label"]]
        assert item["file"].endswith(".png") and len(item["scores"]) == 3
        assert item["pred_score"] == max(item["scores"]) and item["pred_label"] == int(np.argmax(item["scores"]))
    assert [item["gt_label"] for item in payload["predictions"]] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    accuracy = np.mean([p["gt_label"] == p["pred_label"] for p in payload["predictions"]]) * 100
    assert payload["metrics"]["accuracy_top-1"] == pytest.approx(accuracy)
    assert not list(out.parent.glob(".*tmp*"))


def test_test_metrics_keep_the_configs_metric_options(trained, run_cli):
    config, checkpoint, _ = trained
    plain = run_cli("test", "cls", str(config), "--checkpoint", checkpoint, "--metrics", "accuracy")
    assert plain.exit_code == 0 and "asks for more" not in plain.err  # the default topk: said nowhere, top-1 only
    asked = run_cli("test", "cls", str(config), "--checkpoint", checkpoint, "--metrics", "accuracy",
                    "--cfg-options", "evaluation.metric_options.topk=(1,5)")
    assert "topk=(1, 5) asks for more than the 3 classes" in asked.err
    assert "--cfg-options 'evaluation.metric_options.topk=(1,)'" in asked.err
    options = ["--cfg-options", "evaluation.metric_options.topk=(1,2)"]
    kept = run_cli("test", "cls", str(config), "--checkpoint", checkpoint, "--metrics", "accuracy", *options)
    assert kept.exit_code == 0 and "asks for more" not in kept.err
    assert "accuracy_top-2" in kept.out and "accuracy_top-5" not in kept.out


def test_test_errors(trained, tmp_path, run_cli):
    config, checkpoint, _ = trained
    missing = run_cli("test", "cls", str(config), "--checkpoint", str(tmp_path / "nope.pth"))
    assert missing.exit_code == 1 and "nope.pth" in missing.err and "does not exist" in missing.err
    assert "training writes work_dirs/<config name>/latest.pth" in missing.err
    typo = run_cli("test", "cls", str(config), "--checkpoint", checkpoint.replace(".pth", ".ph.pth"))
    assert f"did you mean {checkpoint}?" in typo.err
    bad_metric = run_cli("test", "cls", str(config), "--checkpoint", checkpoint, "--metrics", "acuracy")
    assert bad_metric.exit_code == 1 and "accuracy" in bad_metric.err
    no_checkpoint = run_cli("test", "cls", str(config))
    assert no_checkpoint.exit_code == 2 and "--checkpoint" in no_checkpoint.err


def test_a_head_that_does_not_fit_the_checkpoint_is_an_error_not_a_random_score(trained, run_cli):
    config, checkpoint, data = trained
    for command in (["test", "cls", str(config)], ["infer", "cls", str(config), str(data / "val")]):
        result = run_cli(*command, "--checkpoint", checkpoint, "--cfg-options", "model.head.num_classes=2")
        assert result.exit_code == 1 and result.out == ""
        assert "shape mismatches: head." in result.err
        assert "the checkpoint's head has 3 classes and the model's 2" in result.err


def test_the_test_set_must_name_the_checkpoints_classes_in_its_order(trained, tmp_path, run_cli):
    config, checkpoint, data = trained
    reordered = run_cli("test", "cls", str(config), "--checkpoint", checkpoint,
                        "--cfg-options", "data.test.classes=[fox,dog,cat]")
    assert reordered.exit_code == 1 and "the test set classes are the checkpoint classes in another order" \
        in reordered.err and "data.test.classes=['cat', 'dog', 'fox']" in reordered.err
    partial = tmp_path / "val"
    for name in ("cat", "fox"):  # no dog images in this test set
        (partial / name).mkdir(parents=True)
        for image in (data / "val" / name).iterdir():
            (partial / name / image.name).write_bytes(image.read_bytes())
    lacking = run_cli("test", "cls", str(config), "--checkpoint", checkpoint,
                      "--cfg-options", f"data.test.data_prefix={partial}")
    assert lacking.exit_code == 1 and "only in checkpoint: ['dog']" in lacking.err
    fixed = run_cli("test", "cls", str(config), "--checkpoint", checkpoint, "--cfg-options",
                    f"data.test.data_prefix={partial}", "data.test.classes=[cat,dog,fox]", "--out",
                    str(tmp_path / "r.json"))
    assert fixed.exit_code == 0, fixed.err
    assert "has no folder for the classes ['dog']" in fixed.err
    labels = [p["gt_label"] for p in json.loads((tmp_path / "r.json").read_text())["predictions"]]
    assert labels == [0, 0, 0, 2, 2, 2]


def test_test_measures_channels_last_for_its_forward_passes_unless_the_config_sets_it(trained, tmp_path, run_cli,
                                                                                      monkeypatch):
    from minim.cls.engine import probe

    monkeypatch.setattr(probe, "MIN_RUN_SHARE", 0.0)  # remembered whatever else this machine runs meanwhile
    config, checkpoint, _ = trained
    scores = {}
    for name, options in (("on", ["channels_last=True"]), ("off", ["channels_last=False"]), ("measured", [])):
        out = tmp_path / f"{name}.json"
        cfg_options = ["--cfg-options", *options] if options else []
        result = run_cli("test", "cls", str(config), "--checkpoint", checkpoint, "--out", str(out), *cfg_options)
        assert result.exit_code == 0, result.err
        scores[name] = [p["scores"] for p in json.loads(out.read_text())["predictions"]]
        assert probe.probe_cache_path().exists() == (name == "measured")  # the config's value: nothing measured
    (key,) = json.loads(probe.probe_cache_path().read_text())
    assert key.endswith(" inference")  # eval-mode forward passes, not training steps
    for name in ("on", "measured"):  # the memory format changes float rounding only
        assert np.allclose(scores[name], scores["off"], atol=1e-6)


def test_infer_json_matches_test_scores(trained, tmp_path, run_cli):
    config, checkpoint, data = trained
    image = data / "val" / "dog" / "1.png"
    result = run_cli("infer", "cls", str(config), str(image), "--checkpoint", checkpoint, "--json", "--topk", "2",
                     "--cfg-options", "modle.x=1")
    assert result.exit_code == 0, result.err
    assert "minim: warning: --cfg-options modle.x: the config has no key 'modle' (did you mean 'model'?)" in result.err
    items = json.loads(result.out)
    assert len(items) == 1
    item = items[0]
    assert set(item) == {"file", "pred_label", "pred_score", "pred_class", "topk"}
    assert len(item["topk"]) == 2 and all(set(t) == {"label", "class", "score"} for t in item["topk"])
    assert item["topk"][0]["label"] == item["pred_label"] and item["topk"][0]["class"] == item["pred_class"]
    assert item["topk"][0]["score"] >= item["topk"][1]["score"]
    out = tmp_path / "r.json"
    assert run_cli("test", "cls", str(config), "--checkpoint", checkpoint, "--out", str(out)).exit_code == 0
    by_file = {p["file"]: p for p in json.loads(out.read_text())["predictions"]}
    assert by_file[str(image)]["scores"][item["pred_label"]] == pytest.approx(item["pred_score"], abs=1e-6)


def test_infer_folder_and_show_dir_keeps_colours(trained, tmp_path, run_cli):
    config, checkpoint, data = trained
    show = tmp_path / "shown"
    result = run_cli("infer", "cls", str(config), str(data / "val"), "--checkpoint", checkpoint, "--show-dir", str(show))
    assert result.exit_code == 0, result.err
    assert result.out.count("1. ") == 9 and "%" in result.out
    written = sorted(str(p.relative_to(show)) for p in show.rglob("*.png"))
    assert written == [f"{c}/{i}.png" for c in ("cat", "dog", "fox") for i in range(3)]  # the folder's own layout
    annotated = np.asarray(Image.open(show / "fox" / "0.png").convert("RGB"))
    assert annotated.shape[0] >= 256
    corner = annotated[-20:, -20:].reshape(-1, 3).mean(0)  # far from the text: the image itself
    assert np.allclose(corner, COLOURS[2], atol=20)  # fox is blue: RGB order kept (mmcls trap #17)


def test_infer_skips_hidden_files_and_carries_on_past_a_bad_image(trained, tmp_path, run_cli):
    config, checkpoint, data = trained
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, image in enumerate(sorted((data / "val" / "cat").iterdir())[:2]):
        (photos / f"p{i}.png").write_bytes(image.read_bytes())
    (photos / "._p0.png").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (photos / ".ipynb_checkpoints").mkdir()
    (photos / ".ipynb_checkpoints" / "p0-checkpoint.png").write_bytes((photos / "p0.png").read_bytes())
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    result = run_cli("infer", "cls", str(config), str(photos), "--checkpoint", checkpoint, "--json")
    assert result.exit_code == 0, result.err
    assert [Path(item["file"]).name for item in json.loads(result.out)] == ["p0.png", "p1.png"]
    assert result.err.count("minim: warning: skipped: cannot decode image") == 1 and "broken.png" in result.err
    only_bad = run_cli("infer", "cls", str(config), str(photos / "broken.png"), "--checkpoint", checkpoint)
    assert only_bad.exit_code == 1 and "none of the 1 image(s) could be read" in only_bad.err


def test_show_dir_keeps_every_input_apart(trained, tmp_path, run_cli):
    config, checkpoint, data = trained
    show = tmp_path / "shown"
    single = data / "val" / "cat" / "0.png"
    result = run_cli("infer", "cls", str(config), str(data / "train"), str(data / "val"), str(single), str(single),
                     "--checkpoint", checkpoint, "--show-dir", str(show))
    assert result.exit_code == 0, result.err
    written = {str(p.relative_to(show)) for p in show.rglob("*.png")}
    assert len(written) == 18 + 9 + 2 and {"train/cat/0.png", "val/cat/0.png", "0.png", "0_2.png"} <= written


def test_infer_errors(trained, tmp_path, run_cli):
    config, checkpoint, _ = trained
    missing = run_cli("infer", "cls", str(config), str(tmp_path / "no.png"), "--checkpoint", checkpoint)
    assert missing.exit_code == 1 and "no.png" in missing.err
    empty = tmp_path / "empty"
    empty.mkdir()
    no_images = run_cli("infer", "cls", str(config), str(empty), "--checkpoint", checkpoint)
    assert no_images.exit_code == 1 and "holds no image" in no_images.err


def test_metric_options_parse_python_literals():
    from minim.cls.commands import parse_metric_options
    from minim.errors import UsageError

    assert parse_metric_options(["topk=(1,5)", "thrs=0.5", "average_mode=none"]) == {
        "topk": (1, 5), "thrs": 0.5, "average_mode": "none"}
    assert parse_metric_options(None) is None
    with pytest.raises(UsageError):
        parse_metric_options(["topk"])


def test_out_items_and_the_mmcls_pickle_layout(trained, tmp_path, run_cli):
    import pickle

    config, checkpoint, _ = trained
    json_out, pkl_out = tmp_path / "r.json", tmp_path / "r.pkl"
    common = ["test", "cls", str(config), "--checkpoint", checkpoint, "--metric-options", "topk=(1,)"]
    assert run_cli(*common, "--out", str(json_out), "--out-items", "pred_label", "pred_class").exit_code == 0
    payload = json.loads(json_out.read_text())
    assert set(payload["predictions"][0]) == {"file", "gt_label", "pred_label", "pred_class"}
    assert run_cli(*common, "--out", str(pkl_out)).exit_code == 0
    with open(pkl_out, "rb") as handle:
        mmcls = pickle.load(handle)  # what mmcls's tools/test.py --out results.pkl writes
    assert set(mmcls) == {"accuracy_top-1", "class_scores", "pred_score", "pred_label", "pred_class"}
    assert mmcls["class_scores"].shape == (9, 3) and mmcls["pred_label"].tolist() == [
        p["pred_label"] for p in payload["predictions"]]
    assert mmcls["pred_class"] == [p["pred_class"] for p in payload["predictions"]]
    assert mmcls["accuracy_top-1"] == pytest.approx(payload["metrics"]["accuracy_top-1"])
    assert run_cli(*common, "--out", str(json_out), "--out-items", "none").exit_code == 0
    assert set(json.loads(json_out.read_text())) == {"metrics", "classes"}
    bad = run_cli(*common, "--out", str(tmp_path / "r.yaml"))
    assert bad.exit_code == 2 and "must end in .json (minim's layout) or .pkl (mmcls's)" in bad.err
    typo = run_cli(*common, "--out", str(json_out), "--out-items", "pred_lable")
    assert typo.exit_code == 2 and "did you mean 'pred_label'" in typo.err
    alone = run_cli(*common, "--out-items", "pred_label")
    assert alone.exit_code == 2 and "--out-items chooses what --out writes" in alone.err
    mixed = run_cli(*common, "--out", str(json_out), "--out-items", "none", "pred_label")
    assert mixed.exit_code == 2 and "cannot go with pred_label" in mixed.err
