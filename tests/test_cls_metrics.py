"""minim.cls.metrics against scikit-learn, with mmcls 0.x keys and units."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from minim.cls.metrics import confusion_matrix, evaluate, infer_rule, metric_keys
from minim.errors import ConfigError, DataError


def softmax_scores(n=200, classes=7, seed=0, skip_predicted=()):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes)) * 2
    for c in skip_predicted:  # class never predicted
        logits[:, c] -= 100
    scores = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, classes, n)
    return scores, labels


def test_accuracy_topk_matches_sklearn():
    scores, labels = softmax_scores()
    result = evaluate(scores, labels, "accuracy", {"topk": (1, 3, 5)})
    assert list(result) == ["accuracy_top-1", "accuracy_top-3", "accuracy_top-5"]
    for k in (1, 3, 5):
        expected = skm.top_k_accuracy_score(labels, scores, k=k, labels=range(7)) * 100
        assert result[f"accuracy_top-{k}"] == pytest.approx(expected)
        assert isinstance(result[f"accuracy_top-{k}"], float)
    assert evaluate(scores, labels, metric_options={"topk": 1}) == {"accuracy": pytest.approx(result["accuracy_top-1"])}
    assert evaluate(scores, labels, metric_options={"topk": [1, 3]}).keys() == {"accuracy_top-1", "accuracy_top-3"}
    assert list(evaluate(scores, labels)) == ["accuracy_top-1", "accuracy_top-5"]  # default topk=(1, 5)


def test_accuracy_thresholds():
    scores, labels = softmax_scores(seed=2)
    result = evaluate(scores, labels, "accuracy", {"topk": (1, 2), "thrs": (0.0, 0.3)})
    assert list(result) == [
        "accuracy_top-1_thr_0.00", "accuracy_top-1_thr_0.30", "accuracy_top-2_thr_0.00", "accuracy_top-2_thr_0.30"
    ]
    order = np.argsort(-scores, axis=1)
    for k, thr in itertools.product((1, 2), (0.0, 0.3)):
        hits = [any(order[i, j] == labels[i] and scores[i, order[i, j]] > thr for j in range(k)) for i in range(len(labels))]
        assert result[f"accuracy_top-{k}_thr_{thr:.2f}"] == pytest.approx(np.mean(hits) * 100)
    single = evaluate(scores, labels, "accuracy", {"topk": 1, "thrs": 0.3})
    assert single == {"accuracy": pytest.approx(result["accuracy_top-1_thr_0.30"])}
    assert list(evaluate(scores, labels, "accuracy", {"topk": 1, "thrs": (0.5,)})) == ["accuracy_thr_0.50"]


@pytest.mark.parametrize("skip", [(), (2, 5)])
def test_precision_recall_f1_support_match_sklearn(skip):
    scores, labels = softmax_scores(n=150, classes=6, seed=3, skip_predicted=skip)
    labels[labels == 4] = 0  # class 4 never occurs in the ground truth
    result = evaluate(scores, labels, ["f1_score", "support", "precision", "recall", "accuracy"])
    assert list(result) == ["accuracy_top-1", "accuracy_top-5", "support", "precision", "recall", "f1_score"]
    pred = scores.argmax(1)
    kwargs = dict(labels=range(6), zero_division=0)
    assert result["precision"] == pytest.approx(skm.precision_score(labels, pred, average="macro", **kwargs) * 100)
    assert result["recall"] == pytest.approx(skm.recall_score(labels, pred, average="macro", **kwargs) * 100)
    assert result["f1_score"] == pytest.approx(skm.f1_score(labels, pred, average="macro", **kwargs) * 100)
    assert result["support"] == 150.0
    per_class = evaluate(scores, labels, ["precision", "recall", "f1_score", "support"], {"average_mode": "none"})
    p, r, f, s = skm.precision_recall_fscore_support(labels, pred, **kwargs)
    np.testing.assert_allclose(per_class["precision"], p * 100)
    np.testing.assert_allclose(per_class["recall"], r * 100)
    np.testing.assert_allclose(per_class["f1_score"], f * 100)
    np.testing.assert_array_equal(per_class["support"], s)


def test_precision_with_thresholds_counts_only_confident_predictions():
    scores, labels = softmax_scores(n=120, classes=4, seed=4)
    result = evaluate(scores, labels, ["precision", "recall"], {"thrs": (0.0, 0.5)})
    assert list(result) == ["precision_thr_0.00", "precision_thr_0.50", "recall_thr_0.00", "recall_thr_0.50"]
    pred = np.where(scores.max(1) > 0.5, scores.argmax(1), -1)
    expected = skm.precision_score(labels, pred, labels=range(4), average="macro", zero_division=0) * 100
    assert result["precision_thr_0.50"] == pytest.approx(expected)
    expected = skm.recall_score(labels, pred, labels=range(4), average="macro", zero_division=0) * 100
    assert result["recall_thr_0.50"] == pytest.approx(expected)


def test_topk_larger_than_the_class_count_is_clamped_with_a_warning():
    scores, labels = softmax_scores(classes=3)
    with warnings.catch_warnings():  # mmcls's default topk=(1, 5) on 3 classes: top-1, nothing was asked
        warnings.simplefilter("error")
        assert list(evaluate(scores, labels)) == ["accuracy_top-1"]
    with pytest.warns(UserWarning, match=r"reporting top-1 only .*--cfg-options 'evaluation.metric_options.topk=\(1,\)'"):
        result = evaluate(scores, labels, metric_options={"topk": (1, 5)})
    assert list(result) == ["accuracy_top-1"]
    with pytest.warns(UserWarning, match="using topk=3"):
        assert evaluate(scores, labels, metric_options={"topk": 5}) == {"accuracy": 100.0}
    with pytest.raises(ConfigError, match="every k"):
        evaluate(scores, labels, metric_options={"topk": (4, 5)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(scores, labels, metric_options={"topk": (1, 3)})


@pytest.mark.parametrize("metric", ["accuracy", ["precision", "accuracy"], ["support", "f1_score", "recall"]])
@pytest.mark.parametrize(
    "options",
    [None, {"topk": 1}, {"topk": (1, 5)}, {"topk": [1, 2], "thrs": (0.1, 0.6)}, {"thrs": 0.2, "average_mode": "none"}],
)
@pytest.mark.parametrize("classes", [3, 8])
def test_metric_keys_predicts_evaluate(metric, options, classes):
    scores, labels = softmax_scores(n=40, classes=classes, seed=classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert metric_keys(metric, options, classes) == list(evaluate(scores, labels, metric, options))


def test_metric_keys_without_class_count_keeps_topk():
    assert metric_keys("accuracy") == ["accuracy_top-1", "accuracy_top-5"]
    assert metric_keys("accuracy", None, 2) == ["accuracy_top-1"]


def test_unknown_metric_and_options():
    scores, labels = softmax_scores(classes=5)
    with pytest.raises(ConfigError, match="unknown metric 'acuracy'") as info:
        evaluate(scores, labels, "acuracy")
    assert "did you mean 'accuracy'" in info.value.hint
    with pytest.raises(ConfigError, match="unknown metric option 'top_k'") as info:
        evaluate(scores, labels, metric_options={"top_k": 1})
    assert "topk" in info.value.hint
    for options in ({"topk": 0}, {"topk": "1"}, {"average_mode": "micro"}, {"thrs": "x"}):
        with pytest.raises(ConfigError):
            evaluate(scores, labels, metric_options=options)


def test_inputs_tensor_list_and_errors():
    scores, labels = softmax_scores(classes=5)
    expected = evaluate(scores, labels)
    assert evaluate(torch.from_numpy(scores), torch.from_numpy(labels)) == pytest.approx(expected)
    assert evaluate(list(scores), list(labels)) == pytest.approx(expected)
    with pytest.raises(DataError, match="score rows"):
        evaluate(scores, labels[:-1])
    with pytest.raises(DataError, match=r"in \[0, 5\)"):
        evaluate(scores, labels + 5)
    with pytest.raises(DataError, match="empty"):
        evaluate(scores[:0], labels[:0])


def test_confusion_matrix_matches_sklearn():
    scores, labels = softmax_scores(classes=5, skip_predicted=(1,))
    pred = scores.argmax(1)
    matrix = confusion_matrix(pred, labels, 5)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, skm.confusion_matrix(labels, pred, labels=range(5)))
    with pytest.raises(DataError, match="predicted labels"):
        confusion_matrix([7], [0], 5)


@pytest.mark.parametrize(
    "key, rule",
    [
        ("accuracy_top-1", "greater"), ("accuracy", "greater"), ("precision", "greater"), ("recall", "greater"),
        ("f1_score", "greater"), ("support", "greater"), ("accuracy_top-5_thr_0.50", "greater"),
        ("f1_score_thr_0.30", "greater"), ("loss", "less"), ("val_loss", "less"), ("top1_err", "less"),
    ],
)
def test_infer_rule(key, rule):
    assert infer_rule(key) == rule


def test_infer_rule_unknown_key():
    with pytest.raises(ConfigError, match="'mystery'") as info:
        infer_rule("mystery")
    assert "rule=" in info.value.hint


def test_metric_options_that_are_not_a_dict_are_a_config_error():
    with pytest.raises(ConfigError, match="metric_options must be a dict") as info:
        evaluate(np.eye(3), [0, 1, 2], "accuracy", "{topk: 1}")
    assert "evaluation.metric_options.topk" in info.value.hint
