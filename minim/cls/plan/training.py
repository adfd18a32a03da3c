"""``plan_training``: everything a training run needs that the config, the command line and the file system tell,
checked once, before torch is imported, into a :class:`TrainPlan` that the engine then executes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from minim.cls.engine.checkpoint_hook import build_checkpoint_hook
from minim.cls.engine.checkpoint_io import CHECKPOINT_NAME
from minim.cls.engine.eval_settings import resolve_save_best, split_eval_cfg
from minim.cls.engine.hooks import HOOKS, priority_value
from minim.cls.engine.logger_hook import check_log_config
from minim.cls.engine.lr_schedule import build_lr_hook
from minim.cls.engine.momentum_schedule import build_momentum_hook
from minim.cls.loader_settings import loader_settings
from minim.cls.metrics import metric_keys
from minim.cls.plan.checkpoints import check_load_from, check_resume_file, earlier_checkpoints, resume_path
from minim.cls.plan.config import config_stem, resolve_work_dir
from minim.cls.plan.data import check_split, head_num_classes
from minim.config import load_config
from minim.errors import ConfigError
from minim.suggest import did_you_mean

RUNNER_TYPES = {"EpochBasedRunner": "max_epochs", "IterBasedRunner": "max_iters"}
OPTIMIZER_HOOK_TYPES = ("OptimizerHook", "Fp16OptimizerHook", "GradientCumulativeOptimizerHook", "GradientCumulativeFp16OptimizerHook")
OPTIMIZER_HOOK_KEYS = ("type", "grad_clip", "cumulative_iters", "loss_scale", "detect_anomalous_params", "distributed", "coalesce", "bucket_size_mb")
#: a recipe at most this long, at most this learning rate, is a fine-tuning one (see :func:`random_start_warning`)
FINE_TUNING_MAX_EPOCHS, FINE_TUNING_MAX_ITERS, FINE_TUNING_MAX_LR = 30, 10_000, 0.01


@dataclass
class TrainOptions:
    """What the command line adds to a config (``minim train``'s options); the defaults are ``train_model``'s."""

    work_dir: str | None = None
    resume: str | bool | None = None
    device: str | None = None
    gpus: int | None = None
    seed: int | None = None
    deterministic: bool = False
    amp: bool = False
    channels_last: bool = False
    auto_scale_lr: bool = False
    sync_bn: bool = False
    validate: bool = True
    distributed: bool = False
    #: whether the run builds its datasets from ``cfg.data`` (``train_model``'s caller brings its own)
    build_data: bool = True


@dataclass
class TrainPlan:
    """A checked training run: the config (with the command line's switches written in) and what was read from it.

    The engine executes it (:func:`minim.cls.apis.train.train_from_plan`, :func:`minim.cls.apis.train.train_model`).
    New run-wide choices (data caching, loader workers, memory format) belong here as fields, decided once.
    """

    cfg: Any
    stem: str
    work_dir: Path
    by_epoch: bool
    max_epochs: int | None
    max_iters: int | None
    workflow: list[tuple[str, int]]
    optimizer_settings: dict[str, Any]
    channels_last: bool
    #: the seed asked for (None: drawn when the run starts)
    seed: int | None
    #: ``auto_scale_lr.base_batch_size`` when the lr is to be scaled to the real batch size
    auto_scale_base: int | None
    resume_from: str | None
    load_from: str | None
    #: the head's class count as the config states it (None: the model decides)
    num_classes: int | None
    validate: bool
    distributed: bool
    device: str | None = None
    gpus: int | None = None
    build_data: bool = True
    #: warnings shown before the run (they go to the log file too)
    warnings: list[str] = field(default_factory=list)


def plan_training(cfg, options: TrainOptions | None = None, *, entry=None,
                  warn: Callable[[str], None] | None = None) -> TrainPlan:
    """Check ``cfg`` and ``options`` without building anything; the :class:`TrainPlan` to execute.

    Writes the command line's switches into ``cfg`` (so the config copy of the run records them) and
    ``cfg.work_dir``. Every mistake is a :mod:`minim.errors` error naming the key at fault; warnings go to
    ``warn`` as they are found (so they show even when a later check fails) and into ``plan.warnings``.
    ``entry``: the index entry the config came from, if any.
    """
    options = options or TrainOptions()
    found: list[str] = []

    def note(message: str) -> None:
        found.append(message)
        if warn is not None:
            warn(message)

    for message in getattr(cfg, "warnings", []):
        note(message)
    stem = config_stem(cfg)
    _settle_work_dir(cfg, options, stem)
    _apply_switches(cfg, options, note)
    if options.build_data:
        for key in ("model", "data", "optimizer"):
            if key not in cfg:
                raise ConfigError(f"config has no {key!r}")
    work_dir = Path(cfg.work_dir)
    resume_from, load_from = _start_checkpoints(cfg, options, work_dir)
    by_epoch, max_epochs, max_iters = runner_limits(cfg)
    workflow = check_workflow(cfg.get("workflow"))
    settings = optimizer_hook_settings(cfg)
    if cfg.get("optimizer") is None:
        raise ConfigError("config has no optimizer; add e.g. optimizer = dict(type='SGD', lr=0.1, momentum=0.9)")
    auto_scale_base = auto_scale_lr_base(cfg)
    num_classes = head_num_classes(cfg.get("model"))
    if options.validate:
        check_evaluation(cfg.get("evaluation") or {}, num_classes)
    check_custom_hooks(cfg.get("custom_hooks"))
    check_schedules(cfg, by_epoch)
    _, trackers = check_log_config(cfg.get("log_config"))  # a tracker's missing package too
    if not options.validate:
        for kind, tracker in trackers:
            if kind == "MMClsWandbHook" and tracker.get("num_eval_images", 100) > 0:
                note(f"MMClsWandbHook logs no validation tables (num_eval_images={tracker.get('num_eval_images', 100)}):"
                     " --no-validate turns evaluation off; set num_eval_images=0 to silence this")
    if options.build_data:
        data = cfg.get("data") or {}
        loader_settings(data, "train", cfg.get("sampler"))
        train_folders = check_split(data, "train", num_classes)
        if options.validate:
            loader_settings(data, "val")
            check_split(data, "val", num_classes, like=train_folders)
    check_work_dir(work_dir)
    if not resume_from:
        for message in _start_warnings(cfg, work_dir, load_from, max_epochs, max_iters, entry):
            note(message)
    return TrainPlan(
        cfg=cfg, stem=stem, work_dir=work_dir, by_epoch=by_epoch, max_epochs=max_epochs, max_iters=max_iters,
        workflow=workflow, optimizer_settings=settings, channels_last=bool(cfg.get("channels_last", False)),
        seed=options.seed if options.seed is not None else cfg.get("seed"), auto_scale_base=auto_scale_base,
        resume_from=resume_from, load_from=load_from, num_classes=num_classes, validate=options.validate,
        distributed=options.distributed, device=options.device, gpus=options.gpus, build_data=options.build_data,
        warnings=found,
    )


def _settle_work_dir(cfg, options: TrainOptions, stem: str) -> None:
    """``cfg.work_dir`` from ``--work-dir``, the config or the config's name (the caller's cfg must have one)."""
    if options.build_data:
        cfg.work_dir = str(resolve_work_dir(options.work_dir, cfg, stem))
    elif cfg.get("work_dir") is None:
        raise ConfigError("cfg.work_dir is not set")


def _start_checkpoints(cfg, options: TrainOptions, work_dir: Path) -> tuple[str | None, str | None]:
    """``(resume_from, load_from)``, both checked to be files (URLs aside); resuming wins over ``load_from``,
    as in mmcls."""
    resume_from = resume_path(options.resume, cfg, work_dir)
    if resume_from and "://" not in resume_from:
        check_resume_file(resume_from, "resume_from" if options.resume in (None, False, "") else "--resume")
    load_from = None if resume_from or not cfg.get("load_from") else str(cfg.load_from)
    if load_from:
        check_load_from(load_from)
    return resume_from, load_from


def _start_warnings(cfg, work_dir: Path, load_from: str | None, max_epochs: int | None, max_iters: int | None,
                    entry) -> list[str]:
    """What a fresh run should hear first: checkpoints it will overwrite, weights it does not start from."""
    found = []
    earlier = earlier_checkpoints(work_dir)
    if earlier:
        found.append(f"{work_dir} already holds checkpoints of an earlier run ({', '.join(earlier[:3])}"
                     f"{', ...' if len(earlier) > 3 else ''}); files of the same name will be replaced as this run "
                     "reaches them (use --resume to continue that run, or --work-dir for a fresh folder)")
    random_start = None if load_from else random_start_warning(cfg, max_epochs, max_iters, entry)
    if random_start:
        found.append(random_start)
    return found


def _apply_switches(cfg, options: TrainOptions, note: Callable[[str], None]) -> None:
    """The command-line switches, written into ``cfg`` (so the config copy in the work dir records them)."""
    if options.sync_bn:
        cfg.sync_bn = True
        if not options.distributed:
            note("--sync-bn only matters in distributed runs (--launcher pytorch|slurm); ignored in one process")
    if options.amp and cfg.get("fp16") is None:
        cfg.fp16 = dict(loss_scale="dynamic")
    if options.channels_last:
        cfg.channels_last = True
    if options.deterministic:
        cfg.deterministic = True
    if options.auto_scale_lr:
        if not check_auto_scale_lr(cfg):
            raise ConfigError(
                "--auto-scale-lr: the config has no auto_scale_lr",
                hint="add auto_scale_lr = dict(base_batch_size=256) (the batch size its lr was tuned for)",
            )
        cfg.auto_scale_lr.enable = True


def runner_limits(cfg) -> tuple[bool, int | None, int | None]:
    """(by_epoch, max_epochs, max_iters) from ``runner`` (or the legacy ``total_epochs``)."""
    runner = cfg.get("runner")
    if runner is None:
        if cfg.get("total_epochs") is not None:
            return True, int(cfg["total_epochs"]), None
        raise ConfigError("config has no runner; add runner = dict(type='EpochBasedRunner', max_epochs=N)")
    runner = dict(runner)
    kind = runner.pop("type", "EpochBasedRunner")
    if kind not in RUNNER_TYPES:
        raise ConfigError(f"unknown runner type {kind!r}; known: {', '.join(RUNNER_TYPES)}", hint=did_you_mean(kind, RUNNER_TYPES))
    limit_key = RUNNER_TYPES[kind]
    for key, value in runner.items():
        if key != limit_key and value is not None:  # max_epochs=None next to max_iters is harmless
            raise ConfigError(
                f"runner {kind} has unknown key {key!r}; it takes {limit_key}"
                + (" (use max_epochs with EpochBasedRunner, max_iters with IterBasedRunner)" if key in RUNNER_TYPES.values() else "")
            )
    value = runner.get(limit_key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"runner.{limit_key} must be a positive int, got {value!r}")
    return (True, value, None) if kind == "EpochBasedRunner" else (False, None, value)


def check_workflow(workflow) -> list[tuple[str, int]]:
    """``workflow`` as a list of ``('train', N)`` / ``('val', N)`` (default: train only)."""
    flows = [tuple(flow) for flow in (workflow or [("train", 1)])]
    for flow in flows:
        if len(flow) != 2 or flow[0] not in ("train", "val") or not isinstance(flow[1], int) or flow[1] <= 0:
            raise ConfigError(f"workflow entries must be ('train', N) or ('val', N), got {flow!r}")
    return flows


def optimizer_hook_settings(cfg) -> dict[str, Any]:
    """grad_clip / cumulative_iters / fp16 loss scale from ``optimizer_config`` (+ ``fp16``)."""
    opt_cfg = dict(cfg.get("optimizer_config") or {})
    for key in opt_cfg:
        if key not in OPTIMIZER_HOOK_KEYS:
            raise ConfigError(
                f"optimizer_config has unknown key {key!r}; known: {', '.join(OPTIMIZER_HOOK_KEYS)}",
                hint=did_you_mean(key, OPTIMIZER_HOOK_KEYS),
            )
    kind = opt_cfg.get("type", "OptimizerHook")
    if kind not in OPTIMIZER_HOOK_TYPES:
        raise ConfigError(f"unknown optimizer_config type {kind!r}; known: {', '.join(OPTIMIZER_HOOK_TYPES)}")
    grad_clip = opt_cfg.get("grad_clip")
    if grad_clip is not None:
        grad_clip = dict(grad_clip)
        if "max_norm" not in grad_clip or set(grad_clip) - {"max_norm", "norm_type"}:
            raise ConfigError(f"optimizer_config.grad_clip must be dict(max_norm=..., norm_type=2), got {grad_clip!r}")
    cumulative = int(opt_cfg.get("cumulative_iters", 1))
    if cumulative < 1:
        raise ConfigError("optimizer_config.cumulative_iters must be >= 1")
    fp16 = cfg.get("fp16")
    if "Fp16" in kind and fp16 is None:
        fp16 = {"loss_scale": opt_cfg.get("loss_scale", "dynamic")}
    return {"grad_clip": grad_clip, "cumulative_iters": cumulative, "fp16": fp16}


def check_auto_scale_lr(cfg):
    """``cfg.auto_scale_lr`` (None when unset); anything but a dict is a :class:`ConfigError`."""
    settings = cfg.get("auto_scale_lr")
    if settings is not None and not hasattr(settings, "get"):
        raise ConfigError(f"auto_scale_lr must be a dict such as dict(base_batch_size=256), got {settings!r}",
                          hint="on the command line: --cfg-options auto_scale_lr.base_batch_size=256")
    return settings


def auto_scale_lr_base(cfg) -> int | None:
    """``auto_scale_lr.base_batch_size`` when ``auto_scale_lr.enable`` (the lr is then scaled), else None."""
    settings = check_auto_scale_lr(cfg)
    if not settings or not settings.get("enable", False):
        return None
    base = settings.get("base_batch_size")
    if not isinstance(base, int) or base <= 0:
        raise ConfigError("auto_scale_lr needs base_batch_size (e.g. auto_scale_lr = dict(base_batch_size=256))")
    return base


def check_evaluation(evaluation: Mapping[str, Any], num_classes: int | None) -> None:
    """``evaluation``'s keys, metric names and options, and ``save_best`` (a key the metrics produce)."""
    hook_cfg, metric_cfg = split_eval_cfg(evaluation)
    metric, metric_options = metric_cfg.get("metric", "accuracy"), metric_cfg.get("metric_options")
    metric_keys(metric, metric_options, num_classes)
    resolve_save_best(hook_cfg.get("save_best"), hook_cfg.get("rule"), metric, metric_options, num_classes)


def check_custom_hooks(custom_hooks) -> None:
    """``custom_hooks``: dicts of a known hook type and priority, EMAHook at most once (their other arguments are
    checked when the hooks are built)."""
    hooks = list(custom_hooks or [])
    for hook_cfg in hooks:
        if not isinstance(hook_cfg, Mapping):
            raise ConfigError(f"custom_hooks entries must be dicts such as dict(type=..., priority='NORMAL'), got {hook_cfg!r}")
        if "type" not in hook_cfg:
            raise ConfigError(f"custom_hooks entry {dict(hook_cfg)!r} has no 'type' key")
        if isinstance(hook_cfg["type"], str):
            HOOKS.check_name(hook_cfg["type"])
        if hook_cfg.get("priority") is not None:
            priority_value(hook_cfg["priority"])
    emas = sum(1 for hook_cfg in hooks if hook_cfg.get("type") == "EMAHook")
    if emas > 1:
        raise ConfigError(f"custom_hooks lists EMAHook {emas} times; keep one")


def check_schedules(cfg, by_epoch: bool) -> None:
    """``lr_config``, ``momentum_config`` and ``checkpoint_config``: their hooks are built once here, only to check
    them (their builders need no torch); the engine builds the run's own."""
    build_lr_hook(cfg.get("lr_config"), by_epoch)
    build_momentum_hook(cfg.get("momentum_config"), by_epoch)
    build_checkpoint_hook(cfg.get("checkpoint_config"), by_epoch)


def check_work_dir(work_dir: Path) -> None:
    """The work dir must be a folder that exists or can be created and written (nothing is created here)."""
    existing = work_dir.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"work dir {work_dir}: {existing} is a file, not a folder",
                          hint="choose another folder with --work-dir DIR")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"work dir {work_dir}: folder {existing} is not writable",
                          hint="choose another folder with --work-dir DIR")


def random_start_warning(cfg, max_epochs: int | None, max_iters: int | None, entry=None) -> str | None:
    """A warning when a fine-tuning recipe (lr <= 0.01, a short schedule) starts from random weights although
    pretrained ones came with it: ``.pth`` files beside the config (``minim download`` puts them there), or an
    index entry with weights whose head was replaced (another ``num_classes``). None otherwise."""
    if _names_pretrained_weights(cfg.get("model")):
        return None
    lr = (cfg.get("optimizer") or {}).get("lr")
    short = (max_epochs is not None and max_epochs <= FINE_TUNING_MAX_EPOCHS) or \
            (max_iters is not None and max_iters <= FINE_TUNING_MAX_ITERS)
    if not (isinstance(lr, (int, float)) and lr <= FINE_TUNING_MAX_LR and short):
        return None
    recipe = f"lr {lr:g}, {f'{max_epochs} epochs' if max_epochs is not None else f'{max_iters} iterations'}"
    filename = getattr(cfg, "filename", None)
    beside = [path for path in sorted(Path(filename).parent.glob("*.pth")) if not _written_by_training(path.name)] \
        if filename else []
    if beside:
        return (f"a fine-tuning recipe ({recipe}) starts from random weights (load_from is None) and will likely learn "
                f"next to nothing; start from the weights beside the config: load_from = '{beside[0]}'")
    replaced = _entry_num_classes(entry, cfg)
    if replaced is not None and replaced != head_num_classes(cfg.get("model")):
        return (f"a fine-tuning recipe ({recipe}) with a replaced head ({replaced} -> "
                f"{head_num_classes(cfg.get('model'))} classes) starts from random weights (load_from is None) and "
                "will likely learn next to nothing; download the weights (minim download cls --config NAME --dest DIR) "
                "and set load_from to the .pth file")
    return None


def _written_by_training(name: str) -> bool:
    return bool(CHECKPOINT_NAME.match(name)) or name.startswith("best_") or name == "latest.pth"


def _names_pretrained_weights(model_cfg: Any) -> bool:
    """Whether a model config loads weights itself: ``pretrained=...`` or an ``init_cfg`` of type 'Pretrained'."""
    if isinstance(model_cfg, Mapping):
        if model_cfg.get("pretrained"):
            return True
        init_cfg = model_cfg.get("init_cfg")
        if isinstance(init_cfg, Mapping) and init_cfg.get("type") == "Pretrained":
            return True
        return any(_names_pretrained_weights(value) for value in model_cfg.values())
    if isinstance(model_cfg, (list, tuple)):
        return any(_names_pretrained_weights(value) for value in model_cfg)
    return False


def _entry_num_classes(entry, cfg) -> int | None:
    """The head's class count in the index config of ``entry`` (before ``--cfg-options``), when the entry has
    weights; else None."""
    filename = getattr(cfg, "filename", None)
    if entry is None or getattr(entry, "weights", None) is None or not filename:
        return None
    return head_num_classes(load_config(filename).get("model"))
