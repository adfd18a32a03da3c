"""``minim run cls confusion_matrix``: from a model run and from a ``minim test --out`` file."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from cls_tools_support import make_checkpoint, png_size, tiny_shufflenet_config, write_image_tree

CLASSES = ["cat", "dog", "fox"]


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cm")
    data = write_image_tree(root / "data", CLASSES, per_class=4)
    config = tiny_shufflenet_config(root / "tiny.py", data)
    checkpoint = make_checkpoint(root / "ckpt.pth", config, CLASSES, seed=3)
    return data, config, checkpoint


def _independent_matrix(data, config, checkpoint) -> np.ndarray:
    """Predict every image with the inference API and count with scikit-learn."""
    from minim.cls.apis import inference_model, init_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = init_model(str(config), str(checkpoint))
    gt, pred = [], []
    for label, name in enumerate(CLASSES):
        for image in sorted((data / name).glob("*.png")):
            gt.append(label)
            pred.append(inference_model(model, str(image))["pred_label"])
    return sk_confusion_matrix(gt, pred, labels=range(len(CLASSES)))


def _read_csv(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["true\\predicted", *CLASSES]
    assert [row[0] for row in rows[1:]] == CLASSES
    return np.array([[int(v) for v in row[1:]] for row in rows[1:]])


def test_model_run_gives_png_and_csv_equal_to_an_independent_count(run_cli, tmp_path, model_files):
    data, config, checkpoint = model_files
    out, table = tmp_path / "cm.png", tmp_path / "cm.csv"
    result = run_cli("run", "cls", "confusion_matrix", str(config), "--checkpoint", str(checkpoint),
                     "--out", str(out), "--csv", str(table), "--show-values")
    assert result.exit_code == 0, result.err
    matrix = _read_csv(table)
    expected = _independent_matrix(data, config, checkpoint)
    assert matrix.sum() == 12 and (matrix.sum(axis=1) == 4).all()
    np.testing.assert_array_equal(matrix, expected)
    accuracy = 100 * np.trace(expected) / 12
    assert f"top-1 accuracy {accuracy:.2f}% over 12 images, 3 classes" in result.out
    width, height = png_size(out)
    assert width >= 600 and height >= 600
    with Image.open(out) as image:
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 50


def test_results_file_of_minim_test(run_cli, tmp_path):
    gt = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    pred = [0, 1, 0, 1, 1, 2, 0, 2, 1]
    predictions = [{"file": f"img{i}.png", "gt_label": g, "pred_label": p, "pred_score": 0.9, "scores": []}
                   for i, (g, p) in enumerate(zip(gt, pred))]
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"metrics": {}, "classes": CLASSES, "predictions": predictions}))
    table, out = tmp_path / "cm.csv", tmp_path / "cm.png"
    result = run_cli("run", "cls", "confusion_matrix", "--results", str(results), "--csv", str(table),
                     "--out", str(out), "--normalize", "--show-values")
    assert result.exit_code == 0, result.err
    np.testing.assert_array_equal(_read_csv(table), [[2, 1, 0], [0, 2, 0], [1, 1, 2]])
    assert png_size(out)[0] >= 600

    printed = run_cli("run", "cls", "confusion_matrix", "--results", str(results))
    assert printed.out.splitlines()[1] == "cat,2,1,0"


def test_bad_arguments(run_cli, tmp_path):
    result = run_cli("run", "cls", "confusion_matrix", "--out", str(tmp_path / "cm.png"))
    assert result.exit_code == 2 and "--results" in result.err

    not_results = tmp_path / "r.json"
    not_results.write_text(json.dumps({"metrics": {"accuracy_top-1": 1.0}}))
    result = run_cli("run", "cls", "confusion_matrix", "--results", str(not_results))
    assert result.exit_code == 1 and "no 'predictions' list" in result.err and "minim test" in result.err

    pickled = tmp_path / "r.pkl"  # what `minim test --out r.pkl` writes, for mmcls's scripts
    pickled.write_bytes(b"\x80\x05N.")
    result = run_cli("run", "cls", "confusion_matrix", "--results", str(pickled))
    assert result.exit_code == 1 and "reads minim's JSON layout, not a pickle" in result.err and "FILE.json" in result.err

    bad_label = tmp_path / "bad.json"
    bad_label.write_text(json.dumps({"classes": ["a"], "predictions": [{"gt_label": 0, "pred_label": 3}]}))
    result = run_cli("run", "cls", "confusion_matrix", "--results", str(bad_label))
    assert result.exit_code == 1 and "names only 1 classes" in result.err

    result = run_cli("run", "cls", "confusion_matrix", "--results", str(bad_label), "--out", str(tmp_path / "cm.bmp"))
    assert result.exit_code == 2 and "cm.bmp" in result.err


@pytest.mark.parametrize("options, words", [
    (["--cmap", "Blu"], "--cmap 'Blu' is not a matplotlib colour map (did you mean 'Blues'"),
    (["--csv", "cm.txt"], "--csv must name a .csv file, got cm.txt"),
])
def test_bad_output_options_fail_before_anything_is_written(run_cli, tmp_path, monkeypatch, options, words):
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"classes": ["a", "b"], "predictions": [{"gt_label": 0, "pred_label": 1}]}))
    result = run_cli("run", "cls", "confusion_matrix", "--results", str(results), "--csv", "cm.csv", "--out", "cm.png",
                     *options)
    assert result.exit_code == 2 and words in result.err and result.err.count("\n") == 1
    assert result.out == "" and sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
