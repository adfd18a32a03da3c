"""``train_model``: build the runner, hooks and loaders from a config and train (mmcls 0.x API)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from minim.errors import ConfigError
from minim.suggest import did_you_mean

RUNNER_TYPES = {"EpochBasedRunner": "max_epochs", "IterBasedRunner": "max_iters"}
OPTIMIZER_HOOK_TYPES = ("OptimizerHook", "Fp16OptimizerHook", "GradientCumulativeOptimizerHook", "GradientCumulativeFp16OptimizerHook")
OPTIMIZER_HOOK_KEYS = ("type", "grad_clip", "cumulative_iters", "loss_scale", "detect_anomalous_params", "distributed", "coalesce", "bucket_size_mb")


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


def _backend_note() -> str:
    """`` (nccl)`` / `` (gloo)``: the process group's backend, empty when not distributed."""
    import torch.distributed as dist

    return f" ({dist.get_backend()})" if dist.is_available() and dist.is_initialized() else ""


def check_auto_scale_lr(cfg):
    """``cfg.auto_scale_lr`` (None when unset); anything but a dict is a :class:`ConfigError`."""
    settings = cfg.get("auto_scale_lr")
    if settings is not None and not hasattr(settings, "get"):
        raise ConfigError(f"auto_scale_lr must be a dict such as dict(base_batch_size=256), got {settings!r}",
                          hint="on the command line: --cfg-options auto_scale_lr.base_batch_size=256")
    return settings


def auto_scale_lr(cfg, world_size: int = 1) -> str | None:
    """Scale ``optimizer.lr`` linearly to the real batch size when ``auto_scale_lr.enable``; the log line."""
    settings = check_auto_scale_lr(cfg)
    if not settings or not settings.get("enable", False):
        return None
    base = settings.get("base_batch_size")
    if not isinstance(base, int) or base <= 0:
        raise ConfigError("auto_scale_lr needs base_batch_size (e.g. auto_scale_lr = dict(base_batch_size=256))")
    from minim.cls.engine.data import loader_settings

    per_process = int(loader_settings(cfg.data, "train")["samples_per_gpu"])  # train_dataloader's, if it sets one
    batch = per_process * world_size
    old = cfg.optimizer.lr
    cfg.optimizer.lr = old * batch / base
    return (
        f"auto_scale_lr: optimizer.lr {old:g} -> {cfg.optimizer.lr:g} "
        f"(batch {batch} = {per_process} x {world_size} process(es), base_batch_size {base})"
    )


def _prepare_cache(dataset) -> None:
    prepare = getattr(dataset, "prepare_cache", None)
    if callable(prepare):
        prepare()


def train_model(
    model,
    datasets,
    cfg,
    distributed: bool = False,
    validate: bool = True,
    timestamp: str | None = None,
    device=None,
    meta: dict[str, Any] | None = None,
    *,
    val_dataset=None,
    console: bool = True,
    progress: bool | None = None,
    notes: Sequence[str] = (),
    resume_from: str | None = None,
    resume_checkpoint: dict[str, Any] | None = None,
    file_notes: Sequence[str] = (),
):
    """Train ``model`` on ``datasets`` (train dataset, plus the val-loss dataset for ``('val', 1)``).

    ``resume_from`` (or ``cfg.resume_from``) continues a run from its checkpoint (``resume_checkpoint``:
    its contents, when the caller has read it already); otherwise ``cfg.load_from`` gives the weights to
    start from, as mmcls's ``train_model`` does. ``notes`` are lines logged at the start (lr scaling),
    ``file_notes`` lines the caller has shown as warnings already (config warnings): they go to the log
    file only.

    Everything is checked (runner, optimizer, schedules, class counts, hooks, ``save_best``, the resume
    checkpoint) before ``cfg.work_dir`` is touched. Returns the finished :class:`Runner`.

    ``distributed=True`` needs a process group (see :func:`minim.cls.engine.dist.init_distributed`;
    ``device`` is then this rank's device): the model is wrapped in DistributedDataParallel
    (``find_unused_parameters`` from the config), BatchNorm becomes SyncBatchNorm when
    ``cfg.sync_bn`` (CUDA only), every rank trains on its shard of each epoch and evaluates its
    shard of the val set (gathered, so metrics equal a single process's), and at the end the
    replicas are checked to hold identical weights.
    """
    from minim.cls.engine import batch_normalize, checkpoint_io
    from minim.cls.engine.compiling import compile_model, compile_options
    from minim.cls.engine.device import cpu_contention, resolve_device
    from minim.cls.engine.dist import is_distributed
    from minim.cls.engine.runner import check_resumable

    if distributed and not is_distributed():
        raise ConfigError("train_model(distributed=True) needs an initialised process group",
                          hint="run under minim train ... --launcher pytorch|slurm, or call init_distributed first")
    if cfg.get("work_dir") is None:
        raise ConfigError("cfg.work_dir is not set")
    datasets = list(datasets) if isinstance(datasets, (list, tuple)) else [datasets]
    device = resolve_device(device if device is not None else cfg.get("device"))
    plan = _check_plan(cfg, datasets, device)
    resume_from = resume_from or cfg.get("resume_from")
    _check_class_counts(model, datasets, plan.workflow)
    if cfg.get("load_from") and not resume_from:  # mmcls: resume_from wins over load_from
        _load_from(model, cfg.load_from)

    notes = list(notes)
    model, optimizer, train_module = _place_model(model, cfg, device, distributed, plan.channels_last, notes)
    loaders = _build_loaders(cfg, datasets, plan.workflow, plan.seed, device)
    cautions = _one_image_batches(loaders, plan.workflow)
    busy = cpu_contention(device)
    if busy:
        cautions.append(busy)
    eval_hook = None
    if validate:
        val_dataset, eval_hook = _build_evaluation(cfg, model, val_dataset, plan.by_epoch, device)
    hooks = _build_hooks(cfg, plan.by_epoch, eval_hook)
    if resume_from and resume_checkpoint is None:
        resume_checkpoint = checkpoint_io.read(resume_from)
    if resume_checkpoint is not None:  # before the work dir is written
        check_resumable(model.module if hasattr(model, "module") else model, resume_checkpoint, resume_from)
    compiling = compile_options(cfg.get("compile"))
    if compiling is not None:
        notes.append(compile_model(model, compiling))

    try:
        return _run_in_work_dir(
            cfg, model, optimizer, train_module, plan, device, loaders, hooks,
            meta=meta, timestamp=timestamp, console=console, progress=progress, notes=notes, cautions=cautions,
            file_notes=file_notes, resume=(resume_from, resume_checkpoint), distributed=distributed,
        )
    finally:
        for dataset in [*datasets, val_dataset]:  # the caller's datasets yield normalized images again
            batch_normalize.restore(dataset)


@dataclass
class _Plan:
    """The run's settings, checked before anything is built."""

    by_epoch: bool
    max_epochs: int | None
    max_iters: int | None
    workflow: list[tuple[str, int]]
    optimizer_settings: dict[str, Any]
    precision: Any
    channels_last: bool
    seed: int


def _check_plan(cfg, datasets: list, device) -> _Plan:
    """Runner, workflow, optimizer settings and precision of ``cfg`` (errors name the key at fault)."""
    import torch

    from minim.cls.engine.device import resolve_precision

    by_epoch, max_epochs, max_iters = runner_limits(cfg)
    workflow = [tuple(flow) for flow in (cfg.get("workflow") or [("train", 1)])]
    for flow in workflow:
        if len(flow) != 2 or flow[0] not in ("train", "val") or not isinstance(flow[1], int) or flow[1] <= 0:
            raise ConfigError(f"workflow entries must be ('train', N) or ('val', N), got {flow!r}")
    if len(datasets) != len(workflow):
        raise ConfigError(f"workflow {workflow} needs {len(workflow)} dataset(s), got {len(datasets)}")
    settings = optimizer_hook_settings(cfg)
    if cfg.get("optimizer") is None:
        raise ConfigError("config has no optimizer; add e.g. optimizer = dict(type='SGD', lr=0.1, momentum=0.9)")
    if cfg.get("cudnn_benchmark", False) and device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return _Plan(by_epoch, max_epochs, max_iters, workflow, settings,
                 precision=resolve_precision(device, settings["fp16"], amp=False),
                 channels_last=bool(cfg.get("channels_last", False)), seed=int(cfg.get("seed") or 0))


def _check_class_counts(model, datasets: list, workflow) -> None:
    """Each training dataset's classes must be as many as the head's (before anything is written)."""
    from minim.cls.datasets.checks import check_num_classes
    from minim.cls.models import num_classes_of

    num_classes = num_classes_of(model)
    for dataset, (mode, _) in zip(datasets, workflow):
        if mode == "train":
            check_num_classes(dataset, num_classes, "train")


def _load_from(model, load_from: str) -> None:
    """``load_from``: the weights to start from (file, URL, ``torchvision://``), strict but for the head."""
    from minim.cls.apis.config_source import weights_path
    from minim.cls.checkpoint import load_checkpoint

    load_checkpoint(model, weights_path(load_from), map_location="cpu")


def _place_model(model, cfg, device, distributed: bool, channels_last: bool, notes: list[str]):
    """``(model, optimizer, DDP wrapper or None)``: SyncBatchNorm on request, on ``device``, optimizer built."""
    import torch

    from minim.cls.engine.optimizer import build_optimizer

    if distributed and cfg.get("sync_bn", False):
        from minim.cls.engine.parallel import convert_sync_bn

        model, note = convert_sync_bn(model, device)
        notes.append(note)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, cfg.optimizer)
    train_module = None
    if distributed:
        from minim.cls.engine.parallel import wrap_ddp

        train_module = wrap_ddp(model, device, cfg.get("find_unused_parameters", False))
    return model, optimizer, train_module


def _build_hooks(cfg, by_epoch: bool, eval_hook) -> list[tuple[Any, Any]]:
    """``(hook, priority)`` pairs: the config's ``custom_hooks`` first (on equal priority they run before the
    built-in ones: PreciseBNHook at ABOVE_NORMAL before the evaluation), then lr, momentum, checkpoint,
    evaluation (None: no evaluation), logger."""
    from minim.cls.engine import custom_hooks as mmcls_hooks, ema as ema_hook  # noqa: F401 - register custom hook types
    from minim.cls.engine.checkpoint_hook import build_checkpoint_hook
    from minim.cls.engine.hooks import HOOKS, priority_value
    from minim.cls.engine.logger_hook import build_logger_hook
    from minim.cls.engine.lr_schedule import build_lr_hook
    from minim.cls.engine.momentum_schedule import build_momentum_hook

    hooks = []
    for hook_cfg in cfg.get("custom_hooks") or []:
        if not isinstance(hook_cfg, dict):
            raise ConfigError(f"custom_hooks entries must be dicts such as dict(type=..., priority='NORMAL'), got {hook_cfg!r}")
        hook_cfg = dict(hook_cfg)
        priority = hook_cfg.pop("priority", None)
        if priority is not None:
            priority_value(priority)  # a bad priority is an error now, not once the work dir is written
        hooks.append((HOOKS.build(hook_cfg), priority))
    emas = [hook for hook, _ in hooks if isinstance(hook, ema_hook.EMAHook)]
    if len(emas) > 1:
        raise ConfigError(f"custom_hooks lists EMAHook {len(emas)} times; keep one")
    built_in = (build_lr_hook(cfg.get("lr_config"), by_epoch), build_momentum_hook(cfg.get("momentum_config"), by_epoch),
                build_checkpoint_hook(cfg.get("checkpoint_config"), by_epoch), eval_hook,
                build_logger_hook(cfg.get("log_config")))
    return hooks + [(hook, None) for hook in built_in if hook is not None]


def _build_loaders(cfg, datasets: list, workflow, seed: int, device) -> list:
    """One loader per workflow entry (reproducible training order; Normalize per batch on the device)."""
    from minim.cls.engine import batch_normalize
    from minim.cls.engine.data import build_eval_loader, build_train_loader, loader_settings

    data_cfg = cfg.get("data") or {}
    on_device = bool(cfg.get("normalize_on_device", True))
    loaders = []
    for dataset, (mode, _) in zip(datasets, workflow):
        _prepare_cache(dataset)
        if mode == "train":
            loader = build_train_loader(dataset, loader_settings(data_cfg, "train"), seed, device)
        else:
            loader = build_eval_loader(dataset, loader_settings(data_cfg, "val"), device)
        loaders.append(batch_normalize.attach(loader, dataset, on_device))
    return loaders


def _one_image_batches(loaders: list, workflow) -> list[str]:
    """A warning for training loaders whose last batch holds one image: a BatchNorm layer that sees one value
    per channel (after global pooling, or on small images) cannot train on it, and mmcls fails there too."""
    from minim.cls.engine.runner import ONE_IMAGE_BATCH_HINT

    found = []
    for loader, (mode, _) in zip(loaders, workflow):
        per_process, size = len(loader.sampler), loader.batch_size
        if mode == "train" and not loader.drop_last and size > 1 and per_process % size == 1:
            found.append(f"each epoch's last training batch holds 1 image ({per_process} per process, "
                         f"samples_per_gpu={size}); BatchNorm may fail on it: {ONE_IMAGE_BATCH_HINT}")
    return found


def _build_evaluation(cfg, model, val_dataset, by_epoch: bool, device):
    """``(val dataset, EvalHook)``: ``data.val`` unless the caller gave the dataset; its classes are checked."""
    from minim.cls.datasets.checks import check_num_classes
    from minim.cls.engine import batch_normalize
    from minim.cls.engine.data import build_eval_loader, loader_settings
    from minim.cls.engine.evaluation import build_eval_hook
    from minim.cls.models import num_classes_of

    data_cfg = cfg.get("data") or {}
    if val_dataset is None:
        from minim.cls.datasets import build_dataset

        val_dataset = build_dataset(data_cfg["val"], dict(test_mode=True))
    num_classes = num_classes_of(model)
    check_num_classes(val_dataset, num_classes, "val")
    _prepare_cache(val_dataset)
    loader = build_eval_loader(val_dataset, loader_settings(data_cfg, "val"), device)
    loader = batch_normalize.attach(loader, val_dataset, bool(cfg.get("normalize_on_device", True)))
    return val_dataset, build_eval_hook(cfg.get("evaluation"), loader, val_dataset.get_gt_labels(), num_classes, by_epoch)


def _run_in_work_dir(cfg, model, optimizer, train_module, plan: _Plan, device, loaders: list, hooks: list, *,
                     meta, timestamp, console, progress, notes, cautions, file_notes, resume, distributed):
    """Claim the work dir, write the config copy and logs, build the runner and train (resuming if asked)."""
    from minim.cls.apis.config_source import config_stem
    from minim.cls.engine.allocator import retain_freed_memory
    from minim.cls.engine.dist import broadcast_object, get_world_size, is_main_process
    from minim.cls.engine.logger import RunLogger
    from minim.cls.engine.runner import Runner
    from minim.cls.engine.work_dir import claim_work_dir

    retained = device.type == "cpu" and cfg.get("cpu_retain_freed_memory", True) and retain_freed_memory()
    work_dir = Path(cfg.work_dir)
    with claim_work_dir(work_dir, enabled=is_main_process()):  # one run per work dir
        timestamp = broadcast_object(timestamp or _unique_timestamp(work_dir))  # rank 0's names the logs
        if is_main_process() and hasattr(cfg, "dump"):
            cfg.dump(str(work_dir / f"{config_stem(cfg)}.py"))
        logger = RunLogger(work_dir, timestamp, console=console, progress=progress)
        meta = _complete_meta(meta, cfg, plan.seed, device)
        runner = Runner(
            model, optimizer, work_dir=work_dir, logger=logger, device=device, max_epochs=plan.max_epochs,
            max_iters=plan.max_iters, precision=plan.precision, seed=plan.seed, meta=meta,
            channels_last=plan.channels_last, grad_clip=plan.optimizer_settings["grad_clip"],
            cumulative_iters=plan.optimizer_settings["cumulative_iters"], train_module=train_module,
        )
        for hook, priority in hooks:
            runner.register_hook(hook, priority)
        for note in file_notes:
            logger.info(note, console=False)
        for note in notes:
            logger.info(note)
        for caution in cautions:
            logger.warning(caution)
        if "env_info" in meta:
            logger.info("Environment:\n" + meta["env_info"], console=False)
        if "config" in meta:
            logger.info("Config:\n" + meta["config"], console=False)
        batch_normalized = any(loader.batch_normalizer is not None and mode == "train"
                               for loader, (mode, _) in zip(loaders, plan.workflow))
        logger.info(
            f"device {device}, precision {plan.precision.describe()}{', channels_last' if plan.channels_last else ''}"
            f"{', freed CPU memory kept for reuse' if retained else ''}"
            f"{', images normalized on the device batch by batch' if batch_normalized else ''}, "
            f"seed {plan.seed}, world size {get_world_size()}{_backend_note()}, work dir {work_dir}"
        )
        resume_from, resume_checkpoint = resume
        try:
            if resume_checkpoint is not None:
                runner.resume(resume_from, checkpoint=resume_checkpoint)
            start = time.perf_counter()
            runner.run(loaders, plan.workflow)
            runner.train_time = time.perf_counter() - start
            if distributed:
                _check_replicas(model, logger)
        finally:
            logger.close()
    return runner


def _check_replicas(model, logger) -> list[str]:
    """After distributed training: rank 0's buffers to every rank, then compare every rank's weights.

    Logs ``model state identical on all N ranks (sha256 ...)`` with each rank's digest, or a warning."""
    from minim.cls.engine.dist import broadcast_buffers, replica_digests

    broadcast_buffers(model)
    digests = replica_digests(model)
    listing = ", ".join(f"rank {rank}: {digest}" for rank, digest in enumerate(digests))
    if len(set(digests)) == 1:
        logger.info(f"model state identical on all {len(digests)} ranks (sha256 {digests[0][:16]}...)", console=False)
        logger.info(f"replica state sha256: {listing}", console=False)
    else:
        logger.warning(f"the model replicas differ after training (state sha256 {listing}); the checkpoints hold "
                       "rank 0's weights")
    return digests


def _complete_meta(meta, cfg, seed: int, device) -> dict[str, Any]:
    """Run meta (first JSON log line, checkpoint meta): env info, config text, seed, experiment name."""
    from minim.cls.engine.env_info import collect_env, format_env

    meta = dict(meta or {})
    meta.setdefault("env_info", format_env(collect_env(device)))
    if "config" not in meta:
        meta["config"] = cfg.dump() if hasattr(cfg, "dump") else repr(dict(cfg))
    meta.setdefault("seed", seed)
    filename = getattr(cfg, "filename", None)
    meta.setdefault("exp_name", Path(filename).name if filename else "config.py")
    return meta


def _unique_timestamp(work_dir: Path) -> str:
    """``YYYYmmdd_HHMMSS``, suffixed when a log of that name already exists (never overwrite a log)."""
    stamp = time.strftime("%Y%m%d_%H%M%S")
    candidate, n = stamp, 1
    while (work_dir / f"{candidate}.log").exists() or (work_dir / f"{candidate}.log.json").exists():
        candidate = f"{stamp}_{n}"
        n += 1
    return candidate
