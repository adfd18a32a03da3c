"""``minim train cls``: load the config, check everything cheap first, then train and summarise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from minim.cls.commands.common import is_main, warn
from minim.cls.commands.render import print_train_summary
from minim.errors import CheckpointError, ConfigError
from minim.filekinds import not_a_regular_file


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


def resolve_work_dir(cli_work_dir: str | None, cfg, stem: str) -> Path:
    """``--work-dir`` > config ``work_dir`` > ``work_dirs/<config stem>``."""
    if cli_work_dir:
        return Path(cli_work_dir).expanduser()
    if cfg.get("work_dir"):
        return Path(cfg.work_dir).expanduser()
    return Path("work_dirs") / stem


def resume_path(resume: str | bool | None, cfg, work_dir: Path) -> str | None:
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
                      auto_scale_lr=auto_scale_lr, validate=validate, console=console and is_main(setup),
                      progress=progress, sync_bn=sync_bn)


def _train(cfg, config, setup, *, work_dir, resume, device, gpus, seed, deterministic, amp, channels_last,
           auto_scale_lr, validate, console, progress, sync_bn) -> TrainResult:
    from minim.cls.apis.config_source import config_stem
    from minim.cls.engine.device import resolve_device
    from minim.cls.engine.seed import init_random_seed, set_random_seed

    notes: list[str] = []
    shown = [f"warning: {w}" for w in getattr(cfg, "warnings", [])]  # on stderr now; in the log file later
    for warning in getattr(cfg, "warnings", []):
        warn(warning, console)
    stem = config_stem(cfg)
    cfg.work_dir = str(resolve_work_dir(work_dir, cfg, stem))
    if setup is not None:
        run_device = setup.device
        for note in setup.notes:
            shown.append(f"warning: {note}")
            warn(note, console)
    else:
        run_device = resolve_device(device if device is not None else cfg.get("device"), gpus)
    _apply_flags(cfg, sync_bn=sync_bn, amp=amp, channels_last=channels_last, deterministic=deterministic,
                 auto_scale_lr=auto_scale_lr, distributed=setup is not None, console=console)
    for key in ("model", "data", "optimizer"):
        if key not in cfg:
            raise ConfigError(f"config has no {key!r}")
    work_path = Path(cfg.work_dir)
    resume_from = resume_path(resume, cfg, work_path)  # not written into the dumped config

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

    model, datasets, val_dataset, resume_checkpoint = _build_model_and_data(cfg, resume_from, validate)
    train_dataset = datasets[0]
    classes = list(train_dataset.CLASSES) if train_dataset.CLASSES is not None else None
    model.CLASSES = classes

    earlier = _existing_checkpoints(work_path)
    if earlier and not resume_from:
        message = (
            f"{work_path} already holds checkpoints of an earlier run ({', '.join(earlier[:3])}"
            f"{', ...' if len(earlier) > 3 else ''}); files of the same name will be replaced as this run "
            "reaches them (use --resume to continue that run, or --work-dir for a fresh folder)"
        )
        shown.append(f"warning: {message}")
        warn(message, console)

    from minim.cls.apis.train import train_model

    meta = {"CLASSES": classes, "dataset_meta": {"classes": classes}}  # train_model adds env, config, seed
    runner = train_model(
        model, datasets, cfg, distributed=setup is not None, validate=validate, device=run_device, meta=meta,
        val_dataset=val_dataset, console=console, progress=progress, notes=notes, file_notes=shown,
        resume_from=resume_from, resume_checkpoint=resume_checkpoint,
    )
    result = _train_result(runner, cfg, stem)
    if console:
        print_train_summary(result, val_dataset)
    return result


def _apply_flags(cfg, *, sync_bn, amp, channels_last, deterministic, auto_scale_lr, distributed, console) -> None:
    """The command-line switches, written into ``cfg`` (so the config copy in the work dir records them)."""
    if sync_bn:
        cfg.sync_bn = True
        if not distributed:
            warn("--sync-bn only matters in distributed runs (--launcher pytorch|slurm); ignored in one process",
                 console)
    if amp and cfg.get("fp16") is None:
        cfg.fp16 = dict(loss_scale="dynamic")
    if channels_last:
        cfg.channels_last = True
    if deterministic:
        cfg.deterministic = True
    if auto_scale_lr:
        from minim.cls.apis.train import check_auto_scale_lr

        if not check_auto_scale_lr(cfg):
            raise ConfigError(
                "--auto-scale-lr: the config has no auto_scale_lr",
                hint="add auto_scale_lr = dict(base_batch_size=256) (the batch size its lr was tuned for)",
            )
        cfg.auto_scale_lr.enable = True


def _check_load_from(load_from: str) -> None:
    """A local ``load_from`` must be a readable file; say how to get it (or do without it) if not."""
    if "://" in load_from:
        return
    problem = not_a_regular_file(Path(load_from).expanduser())
    if problem:
        raise CheckpointError(f"load_from {load_from} {problem}",
                              hint="download the weights again (minim download cls --config NAME --dest DIR, the "
                                   "name the config came from), or set load_from = None to train from random weights")


def _build_model_and_data(cfg, resume_from: str | None, validate: bool):
    """``(model, datasets, val dataset, resume checkpoint)``: the model first (cheap), so that ``save_best``
    and the resume checkpoint are checked before any data work; downloads and dataset preparation are
    done once, by rank 0 first."""
    from minim.cls.apis.config_source import weights_path
    from minim.cls.datasets import build_dataset, check_same_classes
    from minim.cls.datasets.checks import check_num_classes
    from minim.cls.engine import checkpoint_io
    from minim.cls.engine.dist import main_process_first
    from minim.cls.engine.evaluation import resolve_save_best, split_eval_cfg
    from minim.cls.models import build_classifier, num_classes_of

    if not resume_from and cfg.get("load_from"):
        _check_load_from(str(cfg.load_from))
    with main_process_first():
        model = build_classifier(cfg.model)
        num_classes = num_classes_of(model)
        if validate:
            hook_cfg, metric_cfg = split_eval_cfg(cfg.get("evaluation") or {})
            resolve_save_best(hook_cfg.get("save_best"), hook_cfg.get("rule"), metric_cfg.get("metric", "accuracy"),
                              metric_cfg.get("metric_options"), num_classes)
        resume_checkpoint = None
        if resume_from:
            resume_checkpoint = checkpoint_io.read(resume_from)  # unreadable: an error now, before any data work
        else:  # (a resumed run's weights replace any pretrained ones)
            model.init_weights()  # pretrained= / init_cfg=dict(type='Pretrained', ...), as mmcls's train.py
        if not resume_from and cfg.get("load_from"):
            weights_path(cfg.load_from)  # a URL is fetched once, by rank 0; train_model loads it
        train_dataset = build_dataset(cfg.data.train)
        check_num_classes(train_dataset, num_classes, "train")
        val_dataset = None
        if validate:
            val_dataset = build_dataset(cfg.data.val, dict(test_mode=True))
            check_same_classes(train_dataset, val_dataset)  # first: it names the class val lacks
            check_num_classes(val_dataset, num_classes, "val")
        datasets = [train_dataset]
        workflow = [tuple(f) for f in (cfg.get("workflow") or [("train", 1)])]
        if len(workflow) == 2:
            # mmcls: the ('val', N) workflow computes the validation LOSS on val data with the TRAIN pipeline
            loss_cfg = dict(cfg.data.val)
            loss_cfg["pipeline"] = cfg.data.train.pipeline
            datasets.append(build_dataset(loss_cfg))
    return model, datasets, val_dataset, resume_checkpoint


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
        best_checkpoint=_from_cwd(msgs.get("best_ckpt")),
        best_number=msgs.get("best_number"),
        last_metrics=dict(eval_hook.last_results) if eval_hook else {},
        latest_checkpoint=str(latest) if latest.exists() else _from_cwd(msgs.get("last_ckpt")),
        log_file=str(runner.logger.text_path) if runner.logger.text_path else None,
        json_log=str(runner.logger.json_path) if runner.logger.json_path else None,
        config_file=str(Path(cfg.work_dir) / f"{stem}.py"),
        by_epoch=runner.by_epoch,
    )


def _from_cwd(path: str | None) -> str | None:
    """``path`` relative to the current folder when it lies below it (shorter commands to copy), else as is."""
    if path is None:
        return None
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path

