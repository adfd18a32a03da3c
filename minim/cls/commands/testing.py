"""``minim test cls``: a checkpoint's metrics on ``data.test``, and its predictions in a file."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from minim.cls.analysis.test_output import check_out, write_test_output
from minim.cls.commands.common import is_main, warn
from minim.cls.commands.render import print_metrics_table
from minim.cls.plan import load_cls_config
from minim.cls.plan.checkpoints import check_checkpoint
from minim.errors import UsageError


def parse_metric_options(pairs: Sequence[str] | dict | None) -> dict | None:
    """``['topk=(1,5)', 'thrs=0.5', 'average_mode=none']`` -> dict (values read as Python literals)."""
    if pairs is None or isinstance(pairs, dict):
        return pairs
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--metric-options expects KEY=VALUE, got {pair!r}")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        options[key.strip()] = value
    return options or None


@dataclass
class TestResult:
    metrics: dict[str, Any]
    classes: list[str]
    predictions: list[dict[str, Any]]
    out_file: str | None = None

    __test__ = False


def test(
    config,
    checkpoint: str | None = None,
    *,
    metrics: Sequence[str] | str | None = None,
    metric_options: Sequence[str] | dict | None = None,
    out: str | None = None,
    out_items: Sequence[str] | None = None,
    device: str | None = None,
    cfg_options: Sequence[str] = (),
    console: bool = True,
    launcher: str = "none",
) -> TestResult:
    """``minim test cls CONFIG --checkpoint CKPT``: metrics of a checkpoint on ``data.test``.

    ``launcher='pytorch'|'slurm'``: this process is one worker of a distributed test; each rank
    scores its share of the images and the scores are gathered back in dataset order, so the
    metrics and ``out`` equal a single process's. Rank 0 prints and writes ``out`` (``.json``: minim's
    layout, ``.pkl``: mmcls's; ``out_items`` as mmcls's ``--out-items``, see
    :mod:`minim.cls.analysis.test_output`).
    """
    from minim.cls.engine.worker_session import WorkerSession

    items = check_out(out, out_items)  # before any work: a bad --out must not cost a whole evaluation
    cfg, entry = load_cls_config(config, list(cfg_options))
    check_checkpoint(checkpoint, entry, "test", cfg)  # before torch is imported
    with WorkerSession(launcher, cfg, device) as setup:
        return _test(cfg, entry, setup, checkpoint, metrics=metrics, metric_options=metric_options, out=out,
                     items=items, device=device, console=console and is_main(setup))


test.__test__ = False  # not a pytest test


def _test(cfg, entry, setup, checkpoint, *, metrics, metric_options, out, items, device, console) -> TestResult:
    import warnings

    from minim.cls.apis.test import test_checkpoint
    from minim.cls.engine.device import resolve_device
    from minim.cls.metrics import evaluate

    for warning in getattr(cfg, "warnings", []):
        warn(warning, console)
    options = parse_metric_options(metric_options)
    eval_cfg = dict(cfg.get("evaluation") or {})
    if metrics is None or (not isinstance(metrics, str) and len(metrics) == 0):
        metrics = eval_cfg.get("metric", "accuracy")
    elif not isinstance(metrics, str):
        metrics = list(metrics) if len(metrics) > 1 else metrics[0]
    if options is None:  # the config's topk / thrs / average_mode hold for --metrics too
        options = eval_cfg.get("metric_options")
    run = test_checkpoint(cfg, checkpoint, entry, setup.device if setup is not None else resolve_device(device))
    for message in run.warnings:
        warn(message, console)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = evaluate(run.scores, run.gt_labels, metrics, options)
    for item in caught:
        warn(str(item.message), console)
    predictions = _predictions(run.dataset, run.scores, run.gt_labels, run.metas, run.classes)
    result = TestResult(metrics=dict(results), classes=run.classes, predictions=predictions)
    if out is not None and is_main(setup):
        write_test_output(out, results, run.classes, run.scores, run.gt_labels, [p["file"] for p in predictions], items)
        result.out_file = str(out)
    if console:
        processes = f", {setup.world_size} processes" if setup is not None else ""
        print_metrics_table(results, title=f"{Path(run.checkpoint).name} on data.test ({len(run.dataset)} images"
                                           f"{processes})")
        if out is not None:
            print(f"wrote {out}")
    return result


def _predictions(dataset, scores, gt_labels, metas, classes: Sequence[str]) -> list[dict[str, Any]]:
    from minim.cls.datasets.checks import sample_source

    out = []
    for i, row in enumerate(scores):
        label = int(row.argmax())
        meta = metas[i] if i < len(metas) and isinstance(metas[i], dict) else {}
        filename = meta.get("filename") or sample_source(dataset, i)
        out.append(
            {
                "file": str(filename),
                "gt_label": gt_labels[i].tolist(),  # an int, or a multi-label vector
                "pred_label": label,
                "pred_score": float(row[label]),
                "pred_class": str(classes[label]) if label < len(classes) else str(label),
                "scores": [float(v) for v in row],
            }
        )
    return out
