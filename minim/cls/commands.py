"""Library entry points of ``minim train|test|infer cls``; they know nothing of click.

Each takes plain Python values, raises :mod:`minim.errors` on bad input (before any long
work starts) and returns a result object; ``console=True`` prints what a user should see.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from minim.atomic import write_text_atomic
from minim.errors import CheckpointError, ConfigError, DataError, MinimError, UsageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


# --------------------------------------------------------------------------------------- train
@dataclass
class TrainResult:
    """What a training run produced."""

    work_dir: Path
    epochs: int
    iters: int
    seconds: float
    #: training images per second inside training iterations (evaluation and checkpoints excluded)
    images_per_second: float
    best_key: str | None = None
    best_score: float | None = None
    best_checkpoint: str | None = None
    best_number: int | None = None
    last_metrics: dict[str, Any] = field(default_factory=dict)
    latest_checkpoint: str | None = None
    log_file: str | None = None
    json_log: str | None = None
    config_file: str | None = None
    by_epoch: bool = True


def _warn(message: str, console: bool) -> None:
    if console:
        import sys

        print(f"minim: warning: {message}", file=sys.stderr, flush=True)


def resolve_work_dir(cli_work_dir: str | None, cfg, stem: str) -> Path:
    """``--work-dir`` > config ``work_dir`` > ``work_dirs/<config stem>``."""
    if cli_work_dir:
        return Path(cli_work_dir).expanduser()
    if cfg.get("work_dir"):
        return Path(cfg.work_dir).expanduser()
    return Path("work_dirs") / stem


def _resume_path(resume: str | bool | None, cfg, work_dir: Path) -> str | None:
    from minim.cls.engine.checkpoint_io import newest_checkpoint

    if resume in (None, False, ""):
        return cfg.get("resume_from")
    if resume in (True, "auto"):
        found = newest_checkpoint(work_dir)
        if found is None:
            raise CheckpointError(
                f"--resume: no checkpoint to resume from in {work_dir} (no latest.pth, epoch_*.pth or iter_*.pth)",
                hint="pass the checkpoint: --resume PATH",
            )
        return str(found)
    return str(Path(resume).expanduser())


def _model_num_classes(model) -> int:
    head = getattr(model, "head", None)
    value = getattr(head, "num_classes", None)
    if not isinstance(value, int):
        value = getattr(model, "num_classes", None)
    if not isinstance(value, int):
        raise ConfigError("the model has no head.num_classes")
    return value


def check_classes(dataset, num_classes: int, split: str) -> None:
    """``len(dataset.CLASSES)`` must equal the head's ``num_classes`` (one clear line otherwise)."""
    from minim.cls.datasets import check_labels

    classes = getattr(dataset, "CLASSES", None)
    if classes is not None and len(classes) != num_classes:
        raise DataError(
            f"data.{split} has {len(classes)} classes but model.head.num_classes={num_classes}",
            hint=f"set model.head.num_classes={len(classes)} (e.g. --cfg-options model.head.num_classes={len(classes)})",
        )
    check_labels(dataset, num_classes)


def _existing_checkpoints(work_dir: Path) -> list[str]:
    from minim.cls.engine.checkpoint_io import CHECKPOINT_NAME

    if not work_dir.is_dir():
        return []
    return sorted(p.name for p in work_dir.glob("*.pth") if CHECKPOINT_NAME.match(p.name))


def train(
    config,
    *,
    work_dir: str | None = None,
    resume: str | bool | None = None,
    cfg_options: Sequence[str] = (),
    device: str | None = None,
    gpus: int | None = None,
    seed: int | None = None,
    deterministic: bool = False,
    amp: bool = False,
    channels_last: bool = False,
    auto_scale_lr: bool = False,
    validate: bool = True,
    console: bool = True,
    progress: bool | None = None,
    launcher: str = "none",
    sync_bn: bool = False,
) -> TrainResult:
    """``minim train cls CONFIG``: train from a config file or index name; see the module docs.

    ``launcher='pytorch'|'slurm'``: this process is one worker of a distributed run started by
    torchrun/srun (``minim train ... --launcher pytorch`` starts them, see :mod:`minim.launch`); it
    joins the process group and trains its share. ``sync_bn`` (or ``sync_bn=True`` in the config)
    turns BatchNorm into SyncBatchNorm in distributed runs on CUDA.
    """
    from minim.cls.apis.config_source import load_cls_config
    from minim.cls.engine.worker_session import WorkerSession

    cfg, _entry = load_cls_config(config, list(cfg_options))
    with WorkerSession(launcher, cfg, device, gpus) as setup:
        return _train(cfg, config, setup, work_dir=work_dir, resume=resume, device=device, gpus=gpus, seed=seed,
                      deterministic=deterministic, amp=amp, channels_last=channels_last,
                      auto_scale_lr=auto_scale_lr, validate=validate, console=console and _is_main(setup),
                      progress=progress, sync_bn=sync_bn)


def _is_main(setup) -> bool:
    return setup is None or setup.rank == 0


def _train(cfg, config, setup, *, work_dir, resume, device, gpus, seed, deterministic, amp, channels_last,
           auto_scale_lr, validate, console, progress, sync_bn) -> TrainResult:
    from minim.cls.apis.config_source import config_stem, weights_path
    from minim.cls.engine.device import resolve_device
    from minim.cls.engine.seed import init_random_seed, set_random_seed

    notes = [f"config warning: {w}" for w in getattr(cfg, "warnings", [])]
    for warning in getattr(cfg, "warnings", []):
        _warn(warning, console)
    stem = config_stem(cfg, fallback=Path(str(config)).stem)
    cfg.work_dir = str(resolve_work_dir(work_dir, cfg, stem))
    if setup is not None:
        run_device = setup.device
        for note in setup.notes:
            notes.append(note)
            _warn(note, console)
    else:
        run_device = resolve_device(device if device is not None else cfg.get("device"), gpus)
    if sync_bn:
        cfg.sync_bn = True
        if setup is None:
            _warn("--sync-bn only matters in distributed runs (--launcher pytorch|slurm); ignored in one process",
                  console)
    if amp and cfg.get("fp16") is None:
        cfg.fp16 = dict(loss_scale="dynamic")
    if channels_last:
        cfg.channels_last = True
    if deterministic:
        cfg.deterministic = True
    if auto_scale_lr:
        if not cfg.get("auto_scale_lr"):
            raise ConfigError(
                "--auto-scale-lr: the config has no auto_scale_lr",
                hint="add auto_scale_lr = dict(base_batch_size=256) (the batch size its lr was tuned for)",
            )
        cfg.auto_scale_lr.enable = True
    for key in ("model", "data", "optimizer"):
        if key not in cfg:
            raise ConfigError(f"config has no {key!r}")
    work_path = Path(cfg.work_dir)
    resume_from = _resume_path(resume, cfg, work_path)  # not written into the dumped config

    from minim.cls.apis.train import auto_scale_lr as scale_lr
    from minim.cls.apis.train import optimizer_hook_settings, runner_limits

    runner_limits(cfg)
    optimizer_hook_settings(cfg)
    scale_note = scale_lr(cfg, setup.world_size if setup is not None else 1)
    if scale_note:
        notes.append(scale_note)
    run_seed = init_random_seed(seed if seed is not None else cfg.get("seed"))
    cfg.seed = run_seed
    set_random_seed(run_seed, deterministic=bool(cfg.get("deterministic", False)))

    # model first (cheap): lets save_best and the resume checkpoint be checked before data work
    from minim.cls.engine import checkpoint_io
    from minim.cls.engine.dist import main_process_first
    from minim.cls.engine.evaluation import resolve_save_best, split_eval_cfg
    from minim.cls.models import build_classifier

    with main_process_first():  # downloads and dataset preparation: once, by rank 0 first
        model = build_classifier(cfg.model)
        num_classes = _model_num_classes(model)
        if validate:
            _, metric_cfg = split_eval_cfg(cfg.get("evaluation") or {})
            hook_cfg, _ = split_eval_cfg(cfg.get("evaluation") or {})
            resolve_save_best(hook_cfg.get("save_best"), hook_cfg.get("rule"), metric_cfg.get("metric", "accuracy"), metric_cfg.get("metric_options"), num_classes)
        if resume_from:
            checkpoint_io.read(resume_from)  # unreadable -> error now
        elif cfg.get("load_from"):
            from minim.cls.checkpoint import load_checkpoint

            load_checkpoint(model, weights_path(cfg.load_from), map_location="cpu")

        from minim.cls.datasets import build_dataset, check_same_classes

        train_dataset = build_dataset(cfg.data.train)
        check_classes(train_dataset, num_classes, "train")
        val_dataset = None
        if validate:
            val_dataset = build_dataset(cfg.data.val, dict(test_mode=True))
            check_classes(val_dataset, num_classes, "val")
            check_same_classes(train_dataset, val_dataset)
        datasets = [train_dataset]
        workflow = [tuple(f) for f in (cfg.get("workflow") or [("train", 1)])]
        if len(workflow) == 2:
            # mmcls: the ('val', N) workflow computes the validation LOSS on val data with the TRAIN pipeline
            loss_cfg = dict(cfg.data.val)
            loss_cfg["pipeline"] = cfg.data.train.pipeline
            datasets.append(build_dataset(loss_cfg))
    classes = list(train_dataset.CLASSES) if train_dataset.CLASSES is not None else None
    model.CLASSES = classes

    earlier = _existing_checkpoints(work_path)
    if earlier and not resume_from:
        message = (
            f"{work_path} already holds checkpoints of an earlier run ({', '.join(earlier[:3])}"
            f"{', ...' if len(earlier) > 3 else ''}); files of the same name will be replaced as this run "
            "reaches them (use --resume to continue that run, or --work-dir for a fresh folder)"
        )
        notes.append(message)
        _warn(message, console)

    from minim.cls.apis.train import train_model
    from minim.cls.engine.env_info import collect_env, format_env

    config_text = cfg.dump() if hasattr(cfg, "dump") else repr(dict(cfg))
    meta = {
        "env_info": format_env(collect_env(run_device)),
        "config": config_text,
        "seed": run_seed,
        "exp_name": f"{stem}.py",
        "CLASSES": classes,
        "dataset_meta": {"classes": classes},
        "minim_version": _minim_version(),
    }
    runner = train_model(
        model, datasets, cfg, distributed=setup is not None, validate=validate, device=run_device, meta=meta,
        val_dataset=val_dataset, console=console, progress=progress, notes=notes, resume_from=resume_from,
    )
    result = _train_result(runner, cfg, stem)
    if console:
        print_train_summary(result, val_dataset)
    return result


def _minim_version() -> str:
    from minim import __version__

    return __version__


def _train_result(runner, cfg, stem: str) -> TrainResult:
    from minim.cls.engine.evaluation import EvalHook

    msgs = runner.meta.get("hook_msgs", {})
    eval_hook = runner.get_hook(EvalHook)
    latest = Path(cfg.work_dir) / "latest.pth"
    return TrainResult(
        work_dir=Path(cfg.work_dir),
        epochs=runner.epoch,
        iters=runner.iter,
        seconds=runner.train_time,
        # every rank trains as many samples as rank 0: the run's throughput is world_size times rank 0's
        images_per_second=runner.samples_trained * runner.world_size / runner.train_seconds if runner.train_seconds else 0.0,
        best_key=msgs.get("best_key"),
        best_score=msgs.get("best_score"),
        best_checkpoint=msgs.get("best_ckpt"),
        best_number=msgs.get("best_number"),
        last_metrics=dict(eval_hook.last_results) if eval_hook else {},
        latest_checkpoint=str(latest) if latest.exists() else msgs.get("last_ckpt"),
        log_file=str(runner.logger.text_path) if runner.logger.text_path else None,
        json_log=str(runner.logger.json_path) if runner.logger.json_path else None,
        config_file=str(Path(cfg.work_dir) / f"{stem}.py"),
        by_epoch=runner.by_epoch,
    )


def _sample_image(dataset) -> str | None:
    if dataset is None or not len(dataset):
        return None
    try:
        from minim.cls.datasets.checks import sample_source

        path = sample_source(dataset, 0)
    except Exception:  # noqa: BLE001 - only a suggestion in the summary
        return None
    return path if os.path.isfile(path) else None


def _fmt_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def print_train_summary(result: TrainResult, val_dataset=None) -> None:
    """The closing lines of ``minim train``: best score, where the checkpoint is, what to run next."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    progress = f"{result.epochs} epochs, {result.iters} iterations" if result.by_epoch else f"{result.iters} iterations"
    console.print(
        f"\n[bold green]Training finished[/] in {_fmt_seconds(result.seconds)}: {progress}, "
        f"{result.images_per_second:.0f} training images/s.",
    )
    checkpoint = result.best_checkpoint or result.latest_checkpoint
    if result.best_key is not None and result.best_score is not None:
        unit = "epoch" if result.by_epoch else "iteration"
        console.print(
            f"Best {result.best_key} on the validation set: [bold]{result.best_score:.2f} %[/] at {unit} "
            f"{result.best_number} -> {result.best_checkpoint}", markup=True
        )
    elif result.last_metrics:
        shown = ", ".join(f"{k} {v:.2f} %" for k, v in result.last_metrics.items() if isinstance(v, float))
        console.print(f"Final validation: {shown}")
    if result.latest_checkpoint:
        console.print(f"Latest checkpoint: {result.latest_checkpoint}")
    console.print(f"Logs: {result.log_file} (and .json); config: {result.config_file}")
    if checkpoint:
        image = _sample_image(val_dataset) or "IMAGE_OR_DIR"
        console.print("Try it next:")
        console.print(f"  minim infer cls {result.config_file} {image} --checkpoint {checkpoint}", markup=False)


# ---------------------------------------------------------------------------------------- test
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


def _checkpoint_for(checkpoint, entry, command: str) -> str:
    from minim.cls.apis.config_source import weights_path

    path = weights_path(checkpoint, entry)
    if path is None:
        raise UsageError(f"minim {command} needs --checkpoint (the config has no published weights in the index)")
    if "://" not in path and not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return path


def test(
    config,
    checkpoint: str | None = None,
    *,
    metrics: Sequence[str] | str | None = None,
    metric_options: Sequence[str] | dict | None = None,
    out: str | None = None,
    device: str | None = None,
    cfg_options: Sequence[str] = (),
    console: bool = True,
    launcher: str = "none",
) -> TestResult:
    """``minim test cls CONFIG --checkpoint CKPT``: metrics of a checkpoint on ``data.test``.

    ``launcher='pytorch'|'slurm'``: this process is one worker of a distributed test; each rank
    scores its share of the images and the scores are gathered back in dataset order, so the
    metrics and ``out`` equal a single process's. Rank 0 prints and writes ``out``.
    """
    from minim.cls.apis.config_source import load_cls_config
    from minim.cls.engine.worker_session import WorkerSession

    cfg, entry = load_cls_config(config, list(cfg_options))
    with WorkerSession(launcher, cfg, device) as setup:
        return _test(cfg, entry, setup, checkpoint, metrics=metrics, metric_options=metric_options, out=out,
                     device=device, console=console and _is_main(setup))


test.__test__ = False  # not a pytest test


def _test(cfg, entry, setup, checkpoint, *, metrics, metric_options, out, device, console) -> TestResult:
    import warnings

    from minim.cls.apis.inference import init_model
    from minim.cls.engine.data import build_eval_loader, loader_settings
    from minim.cls.engine.device import resolve_device
    from minim.cls.engine.evaluation import collect_scores
    from minim.cls.metrics import evaluate

    for warning in getattr(cfg, "warnings", []):
        _warn(warning, console)
    options = parse_metric_options(metric_options)
    eval_cfg = dict(cfg.get("evaluation") or {})
    if metrics is None or (not isinstance(metrics, str) and len(metrics) == 0):
        metrics = eval_cfg.get("metric", "accuracy")
        if options is None:
            options = eval_cfg.get("metric_options")
    elif not isinstance(metrics, str):
        metrics = list(metrics) if len(metrics) > 1 else metrics[0]
    if out is not None and not str(out).endswith(".json"):
        raise UsageError(f"--out must be a .json file, got {out}")
    from minim.cls.datasets import build_dataset
    from minim.cls.engine.dist import main_process_first

    run_device = setup.device if setup is not None else resolve_device(device)
    with main_process_first():  # downloads and dataset preparation: once, by rank 0 first
        path = _checkpoint_for(checkpoint, entry, "test")
        if "test" not in (cfg.get("data") or {}):
            raise ConfigError("config has no data.test")
        dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = init_model(cfg, path, device=run_device)
    num_classes = _model_num_classes(model)
    check_classes(dataset, num_classes, "test")
    classes = list(dataset.CLASSES) if dataset.CLASSES is not None else list(model.CLASSES)
    for item in caught:
        if dataset.CLASSES is None:
            _warn(str(item.message), console)
    loader = build_eval_loader(dataset, loader_settings(cfg.data, "test"), run_device)
    metas: list = []
    scores = collect_scores(model, loader, run_device, keep_metas=metas)
    gt_labels = dataset.get_gt_labels()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = evaluate(scores, gt_labels, metrics, options)
    for item in caught:
        _warn(str(item.message), console)
    predictions = _predictions(dataset, scores, gt_labels, metas)
    result = TestResult(metrics=dict(results), classes=classes, predictions=predictions)
    if out is not None and _is_main(setup):
        write_text_atomic(out, json.dumps({"metrics": _plain(results), "classes": classes, "predictions": predictions}))
        result.out_file = str(out)
    if console:
        processes = f", {setup.world_size} processes" if setup is not None else ""
        print_metrics_table(results, title=f"{Path(path).name} on data.test ({len(dataset)} images{processes})")
        if out is not None:
            print(f"wrote {out}")
    return result


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _predictions(dataset, scores, gt_labels, metas) -> list[dict[str, Any]]:
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
                "scores": [float(v) for v in row],
            }
        )
    return out


def print_metrics_table(results: dict[str, Any], title: str = "metrics") -> None:
    """A rich table of metric values (percentages)."""
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in results.items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        if isinstance(value, list):
            text = ", ".join(f"{v:.2f}" for v in value)
        else:
            text = f"{value:.2f}"
        table.add_row(key, text)
    console = Console(highlight=False, soft_wrap=True)
    console.print(title, markup=False)
    console.print(table)
    if any(key.startswith("support") for key in results):
        console.print("accuracy, precision, recall and f1_score are percentages; support is a count of images")


# --------------------------------------------------------------------------------------- infer
def collect_images(inputs: Sequence[str]) -> list[Path]:
    """Files given directly, plus image files found recursively in folders (sorted)."""
    images: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise DataError(f"{path} holds no image ({', '.join(IMAGE_EXTENSIONS)})")
            images.extend(found)
        elif path.is_file():
            images.append(path)
        else:
            raise DataError(f"image {path} does not exist")
    return images


def infer(
    config,
    images: Sequence[str],
    checkpoint: str | None = None,
    *,
    topk: int = 5,
    device: str | None = None,
    as_json: bool = False,
    show_dir: str | None = None,
    cfg_options: Sequence[str] = (),
    console: bool = True,
) -> list[dict[str, Any]]:
    """``minim infer cls CONFIG IMAGE_OR_DIR...``: top-k classes of each image."""
    from minim.cls.apis.config_source import load_cls_config
    from minim.cls.apis.inference import annotate_image, inference_model, init_model
    from minim.cls.engine.device import resolve_device

    if topk < 1:
        raise UsageError(f"--topk must be >= 1, got {topk}")
    if not images:
        raise UsageError("give at least one image or folder")
    cfg, entry = load_cls_config(config, list(cfg_options))
    files = collect_images(images)
    path = _checkpoint_for(checkpoint, entry, "infer")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = init_model(cfg, path, device=resolve_device(device))
    for item in caught:
        _warn(str(item.message), console)
    results = []
    for file in files:
        result = inference_model(model, str(file))
        order = sorted(range(len(result["scores"])), key=lambda i: -result["scores"][i])[:topk]
        entry_out = {
            "file": str(file),
            "pred_label": result["pred_label"],
            "pred_score": result["pred_score"],
            "pred_class": result["pred_class"],
            "topk": [{"label": i, "class": str(model.CLASSES[i]), "score": result["scores"][i]} for i in order],
        }
        if show_dir is not None:
            entry_out["shown"] = str(annotate_image(file, result, _show_path(Path(show_dir), file, files)))
        results.append(entry_out)
    if console:
        if as_json:
            print(json.dumps(results, indent=2))
        else:
            _print_predictions(results)
    return results


def _show_path(show_dir: Path, file: Path, files: Sequence[Path]) -> Path:
    """``show_dir/<name>``, or ``show_dir/<folder>_<name>`` for every file when names collide."""
    names = [f.name for f in files]
    if len(set(names)) == len(names):
        return show_dir / file.name
    return show_dir / f"{file.parent.name}_{file.name}"


def _print_predictions(results: list[dict[str, Any]]) -> None:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    for item in results:
        console.print(f"[bold]{item['file']}[/]")
        for rank, top in enumerate(item["topk"], 1):
            console.print(f"  {rank}. {top['class']:<24} {top['score'] * 100:6.2f} %", markup=False)
        if "shown" in item:
            console.print(f"  -> {item['shown']}", markup=False)


__all__ = ["train", "test", "infer", "launch_preflight", "TrainResult", "TestResult", "MinimError"]


# -------------------------------------------------------------------------------------- launch
def launch_preflight(config, cfg_options: Sequence[str] = (), command: str = "train") -> str:
    """Before starting workers: read the config once (errors show once, not per process); the job name."""
    from minim.cls.apis.config_source import config_stem, load_cls_config

    cfg, _entry = load_cls_config(config, list(cfg_options))
    return f"{config_stem(cfg, fallback=Path(str(config)).stem)}_{command}"
