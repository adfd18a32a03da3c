"""``minim test cls``: a checkpoint's metrics on ``data.test``, and its predictions in a file."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from minim.cls.analysis.test_output import check_out, write_test_output
from minim.cls.commands.common import checkpoint_for, is_main, warn
from minim.cls.commands.render import print_metrics_table
from minim.errors import ConfigError, UsageError


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
    from minim.cls.apis.config_source import load_cls_config
    from minim.cls.engine.worker_session import WorkerSession

    items = check_out(out, out_items)  # before any work: a bad --out must not cost a whole evaluation
    cfg, entry = load_cls_config(config, list(cfg_options))
    with WorkerSession(launcher, cfg, device) as setup:
        return _test(cfg, entry, setup, checkpoint, metrics=metrics, metric_options=metric_options, out=out,
                     items=items, device=device, console=console and is_main(setup))


test.__test__ = False  # not a pytest test


def _test(cfg, entry, setup, checkpoint, *, metrics, metric_options, out, items, device, console) -> TestResult:
    import warnings

    from minim.cls.apis.inference import init_model
    from minim.cls.engine import batch_normalize
    from minim.cls.engine.data import build_eval_loader, loader_settings
    from minim.cls.engine.device import resolve_device
    from minim.cls.engine.evaluation import collect_scores
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
    from minim.cls.datasets import build_dataset, compare_classes
    from minim.cls.engine.dist import main_process_first

    run_device = setup.device if setup is not None else resolve_device(device)
    with main_process_first():  # downloads and dataset preparation: once, by rank 0 first
        path = checkpoint_for(checkpoint, entry, "test")
        if "test" not in (cfg.get("data") or {}):
            raise ConfigError("config has no data.test")
        dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = init_model(cfg, path, device=run_device, strict=True)
    if dataset.CLASSES is not None and model.classes_from_checkpoint:
        compare_classes(model.CLASSES, dataset.CLASSES, ("checkpoint", "test set"), "data.test")
    from minim.cls.datasets.checks import check_num_classes
    from minim.cls.models import num_classes_of

    check_num_classes(dataset, num_classes_of(model), "test")
    classes = list(dataset.CLASSES) if dataset.CLASSES is not None else list(model.CLASSES)
    for item in caught:  # the test set's own class names make the checkpoint's missing ones moot
        if dataset.CLASSES is None or "class names are not saved" not in str(item.message):
            warn(str(item.message), console)
    loader = batch_normalize.attach(build_eval_loader(dataset, loader_settings(cfg.data, "test"), run_device), dataset,
                                    bool(cfg.get("normalize_on_device", True)))
    metas: list = []
    scores = collect_scores(model, loader, run_device, keep_metas=metas)
    gt_labels = dataset.get_gt_labels()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = evaluate(scores, gt_labels, metrics, options)
    for item in caught:
        warn(str(item.message), console)
    predictions = _predictions(dataset, scores, gt_labels, metas, classes)
    result = TestResult(metrics=dict(results), classes=classes, predictions=predictions)
    if out is not None and is_main(setup):
        write_test_output(out, results, classes, scores, gt_labels, [p["file"] for p in predictions], items)
        result.out_file = str(out)
    if console:
        processes = f", {setup.world_size} processes" if setup is not None else ""
        print_metrics_table(results, title=f"{Path(path).name} on data.test ({len(dataset)} images{processes})")
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
                "gt_label": int(gt_labels[i]),
                "pred_label": label,
                "pred_score": float(row[label]),
                "pred_class": str(classes[label]) if label < len(classes) else str(label),
                "scores": [float(v) for v in row],
            }
        )
    return out
