"""Multi-label metrics equal mmcls 0.25's on the same inputs (values recorded from mmcls, ties included)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from minim.cls.metrics.multi_label import average_performance, evaluate_multilabel, mean_average_precision
from minim.errors import ConfigError

CASES = json.loads((Path(__file__).parent / "fixtures" / "mmcls_metrics" / "multilabel.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_values_equal_mmcls(case):
    pred, target = np.array(case["pred"]), np.array(case["target"])
    assert mean_average_precision(pred, target) == pytest.approx(case["mAP"], abs=1e-9)
    for options, expected in case.items():
        if options.startswith("{"):
            with pytest.warns(UserWarning) if len(json.loads(options)) == 2 else _no_warning():
                values = average_performance(pred, target, **json.loads(options))
            assert values == pytest.approx(expected, abs=1e-9)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_difficult_labels_of_the_caller_are_left_alone():
    pred, target = np.array(CASES[-1]["pred"]), np.array(CASES[-1]["target"])
    before = target.copy()
    average_performance(pred, target, thr=0.5)
    assert (target == before).all()  # mmcls writes 0 over the -1 entries of the caller's array


def test_evaluate_keys_defaults_and_errors():
    pred, target = np.array(CASES[-1]["pred"]), np.array(CASES[-1]["target"])
    results = evaluate_multilabel(pred, target, ["mAP", "CP", "OF1"])
    assert list(results) == ["mAP", "CP", "OF1"]
    assert results["CP"] == pytest.approx(CASES[-1]['{"thr": 0.5}'][0])
    with pytest.raises(ConfigError, match="did you mean 'mAP'"):
        evaluate_multilabel(pred, target, "map")
    with pytest.raises(ConfigError, match="thr, k"):
        evaluate_multilabel(pred, target, "CP", {"topk": 1})
