"""``minim test --out FILE [--out-items ...]``: the test run's metrics and predictions in a file.

``.json``: minim's layout, ``{"metrics": {...}, "classes": [...], "predictions": [{"file", "gt_label",
"pred_label", "pred_score", "pred_class", "scores"}, ...]}`` (what ``confusion_matrix --results`` reads).
``.pkl``: mmcls 0.x's ``tools/test.py`` layout for its analysis scripts: the metric keys at the top,
then ``class_scores`` (N x C array), ``pred_score``, ``pred_label`` (arrays) and ``pred_class`` (list).
``out_items`` picks the prediction fields as mmcls's ``--out-items`` does (``all``, ``none`` or names).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from minim.atomic import atomic_output
from minim.errors import UsageError
from minim.filekinds import cannot_write
from minim.suggest import did_you_mean

ITEMS = ("class_scores", "pred_score", "pred_label", "pred_class")
FORMATS = (".json", ".pkl", ".pickle")
#: the per-image JSON key of each item, in the order the JSON file lists them
_JSON_KEYS = {"pred_label": "pred_label", "pred_score": "pred_score", "pred_class": "pred_class",
              "class_scores": "scores"}


def check_out(out: str | None, out_items: Sequence[str] | None = None) -> list[str]:
    """The prediction items to write (``None``: all); errors come before any work: an unknown format or item,
    items without ``out``, ``none`` with others."""
    if out is None and out_items:
        raise UsageError("--out-items chooses what --out writes: give --out FILE.json or FILE.pkl too")
    if out is not None and Path(out).suffix.lower() not in FORMATS:
        raise UsageError(f"--out must end in .json (minim's layout) or .pkl (mmcls's), got {out}")
    problem = None if out is None else cannot_write(Path(out))
    if problem:
        raise UsageError(f"--out {out}: {problem}", hint="give a file in a folder you can write to")
    items = list(out_items or ()) or ["all"]
    if "none" in items and len(items) > 1:
        raise UsageError(f"--out-items none writes no predictions; it cannot go with {', '.join(i for i in items if i != 'none')}")
    for item in items:
        if item not in (*ITEMS, "all", "none"):
            raise UsageError(f"unknown --out-items {item!r}; choose from {', '.join((*ITEMS, 'all', 'none'))}",
                             hint=did_you_mean(item, (*ITEMS, "all", "none")))
    if "none" in items:
        return []
    return list(ITEMS) if "all" in items else [item for item in ITEMS if item in items]


def write_test_output(out: str, metrics: dict[str, Any], classes: Sequence[str], scores: np.ndarray,
                      gt_labels: np.ndarray, files: Sequence[str], items: Sequence[str]) -> Path:
    """Write ``out`` atomically in the layout its suffix selects (see the module docs)."""
    pred_label = scores.argmax(axis=1)
    pred_score = scores[np.arange(len(scores)), pred_label] if len(scores) else np.zeros(0, scores.dtype)
    names = [str(classes[label]) if label < len(classes) else str(label) for label in pred_label]
    values = {"class_scores": scores, "pred_score": pred_score, "pred_label": pred_label, "pred_class": names}
    path = Path(out)
    if path.suffix.lower() == ".json":
        payload: dict[str, Any] = {"metrics": _plain(metrics), "classes": list(classes)}
        if items:
            shown = [item for item in _JSON_KEYS if item in items]
            payload["predictions"] = [
                {"file": str(files[i]), "gt_label": gt_labels[i].tolist(),
                 **{_JSON_KEYS[item]: _plain(values[item][i]) for item in shown}}
                for i in range(len(scores))
            ]
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(payload), encoding="utf-8")
    else:
        payload = {**metrics, **{item: values[item] for item in items}}
        with atomic_output(path) as tmp, open(tmp, "wb") as handle:
            pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars and arrays as Python numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
