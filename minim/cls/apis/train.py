"""Training, executing a checked :class:`~minim.cls.plan.TrainPlan`.

:func:`train_from_plan` (``minim train``) builds the model and datasets the plan describes and hands them to
:func:`train_model` (the mmcls 0.x API), which builds the loaders, hooks and runner and trains in the work dir.
Called directly, :func:`train_model` makes the same plan from ``cfg`` first.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.distributed as dist

from minim.cls.checkpoint import load_checkpoint
from minim.cls.datasets import build_dataset, check_same_classes
from minim.cls.datasets.checks import check_num_classes, imbalance_warning
from minim.cls.datasets.split import record_split
from minim.cls.engine import checkpoint_io
from minim.cls.engine.allocator import retain_freed_memory
from minim.cls.engine.checkpoint_hook import build_checkpoint_hook
from minim.cls.engine.compiling import compile_model, compile_options
from minim.cls.engine.data import build_eval_loader, build_train_loader
from minim.cls.engine.device import cpu_contention, resolve_device, resolve_precision
from minim.cls.engine.dist import (broadcast_buffers, broadcast_object, get_world_size, is_distributed,
                                   is_main_process, main_process_first, replica_digests)
from minim.cls.engine.env_info import collect_env, format_env
from minim.cls.engine.evaluation import build_eval_hook, describe_evaluation
from minim.cls.engine.hooks import HOOKS
from minim.cls.engine.logger import RunLogger
from minim.cls.engine.logger_hook import build_logger_hook
from minim.cls.engine.lr_schedule import build_lr_hook
from minim.cls.engine.momentum_schedule import build_momentum_hook
from minim.cls.engine.optimizer import build_optimizer
from minim.cls.engine.parallel import convert_sync_bn, wrap_ddp
from minim.cls.engine.runner import ONE_IMAGE_BATCH_HINT, Runner, check_resumable
from minim.cls.engine.seed import init_random_seed, set_random_seed
from minim.cls.engine.speed import settle_speed_choices
from minim.cls.engine.work_dir import claim_work_dir
from minim.cls.loader_settings import loader_settings
from minim.cls.models import build_classifier, num_classes_of
from minim.cls.models.losses import set_auto_class_weights
from minim.cls.plan import TrainOptions, TrainPlan, plan_training, weights_path
from minim.errors import ConfigError


def train_from_plan(plan: TrainPlan, setup=None, *, console: bool = True, progress: bool | None = None):
    """Run ``plan`` (from :func:`minim.cls.plan.plan_training`): ``(finished runner, val dataset or None)``.

    ``setup``: this worker's :class:`~minim.cls.engine.dist.DistSetup` in a launched run (None: one process).
    The plan's warnings, and the setup's notes, have been shown by the caller; they go to the log file.
    """
    cfg = plan.cfg
    shown = [f"warning: {message}" for message in plan.warnings]
    if setup is not None:
        run_device = setup.device
        shown += [f"warning: {note}" for note in setup.notes]
    else:
        run_device = resolve_device(plan.device if plan.device is not None else cfg.get("device"), plan.gpus)
    notes = []
    if plan.auto_scale_base is not None:
        notes.append(_scale_lr(cfg, plan.auto_scale_base, setup.world_size if setup is not None else 1))
    cfg.seed = init_random_seed(plan.seed)
    set_random_seed(cfg.seed, deterministic=bool(cfg.get("deterministic", False)))
    plan = dataclasses.replace(plan, seed=cfg.seed)

    model, datasets, val_dataset, resume_checkpoint = _build_model_and_data(plan)
    train_dataset = datasets[0]
    classes = list(train_dataset.CLASSES) if train_dataset.CLASSES is not None else None
    model.CLASSES = classes
    meta = {"CLASSES": classes, "dataset_meta": {"classes": classes}}  # train_model adds env, config, seed
    runner = train_model(
        model, datasets, cfg, distributed=setup is not None, validate=plan.validate, device=run_device, meta=meta,
        val_dataset=val_dataset, console=console, progress=progress, notes=notes, file_notes=shown,
        resume_from=plan.resume_from, resume_checkpoint=resume_checkpoint, plan=plan,
    )
    return runner, val_dataset


def _build_model_and_data(plan: TrainPlan):
    """``(model, datasets, val dataset, resume checkpoint)``: the model first (cheap), so that the resume
    checkpoint is read before any data work; downloads and dataset preparation are done once, by rank 0 first."""
    cfg = plan.cfg
    with main_process_first():
        model = build_classifier(cfg.model)
        resume_checkpoint = None
        if plan.resume_from:
            resume_checkpoint = checkpoint_io.read(plan.resume_from)  # unreadable: an error now, before data work
        else:  # (a resumed run's weights replace any pretrained ones)
            model.init_weights()  # pretrained= / init_cfg=dict(type='Pretrained', ...), as mmcls's train.py
        if plan.load_from:
            weights_path(plan.load_from)  # a URL is fetched once, by rank 0; train_model loads it
        train_dataset = build_dataset(cfg.data.train)
        val_dataset = None
        if plan.validate:
            val_dataset = build_dataset(cfg.data.val, dict(test_mode=True))
            check_same_classes(train_dataset, val_dataset)  # before the class counts: it names the class val lacks
        datasets = [train_dataset]
        if len(plan.workflow) == 2:
            # mmcls: the ('val', N) workflow computes the validation LOSS on val data with the TRAIN pipeline
            loss_cfg = dict(cfg.data.val)
            loss_cfg["pipeline"] = cfg.data.train.pipeline
            datasets.append(build_dataset(loss_cfg))
    return model, datasets, val_dataset, resume_checkpoint


def _scale_lr(cfg, base_batch_size: int, world_size: int) -> str:
    """Scale ``optimizer.lr`` linearly to the real batch size (``auto_scale_lr``); the log line."""
    per_process = int(loader_settings(cfg.data, "train")["samples_per_gpu"])  # train_dataloader's, if it sets one
    batch = per_process * world_size
    old = cfg.optimizer.lr
    cfg.optimizer.lr = old * batch / base_batch_size
    return (
        f"auto_scale_lr: optimizer.lr {old:g} -> {cfg.optimizer.lr:g} "
        f"(batch {batch} = {per_process} x {world_size} process(es), base_batch_size {base_batch_size})"
    )


def _backend_note() -> str:
    """`` (nccl)`` / `` (gloo)``: the process group's backend, empty when not distributed."""
    return f" ({dist.get_backend()})" if dist.is_available() and dist.is_initialized() else ""


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
    plan: TrainPlan | None = None,
):
    """Train ``model`` on ``datasets`` (train dataset, plus the val-loss dataset for ``('val', 1)``).

    ``resume_from`` (or ``cfg.resume_from``) continues a run from its checkpoint (``resume_checkpoint``:
    its contents, when the caller has read it already); otherwise ``cfg.load_from`` gives the weights to
    start from, as mmcls's ``train_model`` does. ``notes`` are lines logged at the start (lr scaling),
    ``file_notes`` lines the caller has shown as warnings already (config warnings): they go to the log
    file only.

    ``plan``: the checked plan of ``cfg`` (:func:`minim.cls.plan.plan_training`); made here when not given, its
    warnings then logged. Everything is checked (the plan, schedules, class counts, hooks, the resume checkpoint)
    before ``cfg.work_dir`` is touched. Returns the finished :class:`Runner`.

    ``distributed=True`` needs a process group (see :func:`minim.cls.engine.dist.init_distributed`;
    ``device`` is then this rank's device): the model is wrapped in DistributedDataParallel
    (``find_unused_parameters`` from the config), BatchNorm becomes SyncBatchNorm when
    ``cfg.sync_bn`` (CUDA only), every rank trains on its shard of each epoch and evaluates its
    shard of the val set (gathered, so metrics equal a single process's), and at the end the
    replicas are checked to hold identical weights.
    """
    if distributed and not is_distributed():
        raise ConfigError("train_model(distributed=True) needs an initialised process group",
                          hint="run under minim train ... --launcher pytorch|slurm, or call init_distributed first")
    cautions = []
    if plan is None:
        plan = plan_training(cfg, TrainOptions(resume=resume_from, validate=validate, distributed=distributed,
                                               build_data=False))
        cautions += plan.warnings
    plan = dataclasses.replace(plan, seed=int(plan.seed or 0))
    datasets = list(datasets) if isinstance(datasets, (list, tuple)) else [datasets]
    device = resolve_device(device if device is not None else cfg.get("device"))
    precision = _run_settings(cfg, plan, datasets, device)
    resume_from = plan.resume_from
    _check_class_counts(model, datasets, plan.workflow)
    if plan.load_from:
        _load_from(model, plan.load_from)

    notes = list(notes) + set_auto_class_weights(model, datasets[0])
    loaders = _build_loaders(cfg, datasets, plan.workflow, plan.seed, device)
    model, optimizer, train_module, channels_last = _place_model(model, cfg, device, distributed, notes, loaders,
                                                                 plan.workflow, precision)
    plan = dataclasses.replace(plan, channels_last=channels_last)
    cautions += _one_image_batches(loaders, plan.workflow) + imbalance_warning(datasets[0], model)
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

    return _run_in_work_dir(
        cfg, model, optimizer, train_module, plan, precision, device, loaders, hooks,
        meta=meta, timestamp=timestamp, console=console, progress=progress, notes=notes, cautions=cautions,
        file_notes=file_notes, resume=(resume_from, resume_checkpoint), distributed=distributed,
    )


def _run_settings(cfg, plan: TrainPlan, datasets: list, device):
    """What the device decides: the precision (``fp16``), cuDNN's benchmark mode; one dataset per workflow entry."""
    if len(datasets) != len(plan.workflow):
        raise ConfigError(f"workflow {plan.workflow} needs {len(plan.workflow)} dataset(s), got {len(datasets)}")
    if cfg.get("cudnn_benchmark", False) and device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return resolve_precision(device, plan.optimizer_settings["fp16"], amp=False)


def _check_class_counts(model, datasets: list, workflow) -> None:
    """Each training dataset's classes must be as many as the head's (before anything is written)."""
    num_classes = num_classes_of(model)
    for dataset, (mode, _) in zip(datasets, workflow):
        if mode == "train":
            check_num_classes(dataset, num_classes, "train")


def _load_from(model, load_from: str) -> None:
    """``load_from``: the weights to start from (file, URL, ``torchvision://``), strict but for the head."""
    load_checkpoint(model, weights_path(load_from), map_location="cpu")


def _place_model(model, cfg, device, distributed: bool, notes: list[str], loaders: list, workflow, precision):
    """``(model, optimizer, DDP wrapper or None, channels_last)``: SyncBatchNorm on request, on ``device``, the
    engine's speed choices made and noted (channels_last measured on the training loader's batches unless set),
    optimizer built."""
    if distributed and cfg.get("sync_bn", False):
        model, note = convert_sync_bn(model, device)
        notes.append(note)
    model.to(device)
    named = [("train" if mode == "train" else "val loss", loader) for loader, (mode, _) in zip(loaders, workflow)]
    channels_last, speed_notes = settle_speed_choices(cfg, model, named, precision, device)
    notes.append("speed choices: " + "; ".join(speed_notes))
    optimizer = build_optimizer(model, cfg.optimizer)
    train_module = None
    if distributed:
        train_module = wrap_ddp(model, device, cfg.get("find_unused_parameters", False))
    return model, optimizer, train_module, channels_last


def _build_hooks(cfg, by_epoch: bool, eval_hook) -> list[tuple[Any, Any]]:
    """``(hook, priority)`` pairs: the config's ``custom_hooks`` first (on equal priority they run before the
    built-in ones: PreciseBNHook at ABOVE_NORMAL before the evaluation), then lr, momentum, checkpoint,
    evaluation (None: no evaluation), logger."""
    hooks = []
    for hook_cfg in cfg.get("custom_hooks") or []:  # entries, types and priorities checked by the plan
        hook_cfg = dict(hook_cfg)
        priority = hook_cfg.pop("priority", None)
        hooks.append((HOOKS.build(hook_cfg), priority))
    built_in = (build_lr_hook(cfg.get("lr_config"), by_epoch), build_momentum_hook(cfg.get("momentum_config"), by_epoch),
                build_checkpoint_hook(cfg.get("checkpoint_config"), by_epoch), eval_hook,
                build_logger_hook(cfg.get("log_config")))
    return hooks + [(hook, None) for hook in built_in if hook is not None]


def _build_loaders(cfg, datasets: list, workflow, seed: int, device) -> list:
    """One loader per workflow entry (reproducible training order; Normalize per batch on the device)."""
    data_cfg = cfg.get("data") or {}
    on_device = bool(cfg.get("normalize_on_device", True))
    loaders = []
    for dataset, (mode, _) in zip(datasets, workflow):
        _prepare_cache(dataset)
        if mode == "train":
            settings = loader_settings(data_cfg, "train", cfg.get("sampler"))
            loader = build_train_loader(dataset, settings, seed, device, on_device)
        else:
            loader = build_eval_loader(dataset, loader_settings(data_cfg, "val"), device, normalize_on_device=on_device)
        loaders.append(loader)
    return loaders


def _one_image_batches(loaders: list, workflow) -> list[str]:
    """A warning for training loaders whose last batch holds one image: a BatchNorm layer that sees one value
    per channel (after global pooling, or on small images) cannot train on it, and mmcls fails there too."""
    found = []
    for loader, (mode, _) in zip(loaders, workflow):
        per_process, size = len(loader.sampler), loader.batch_size
        if mode == "train" and not loader.drop_last and size > 1 and per_process % size == 1:
            found.append(f"each epoch's last training batch holds 1 image ({per_process} per process, "
                         f"samples_per_gpu={size}); BatchNorm may fail on it: {ONE_IMAGE_BATCH_HINT}")
    return found


def _build_evaluation(cfg, model, val_dataset, by_epoch: bool, device):
    """``(val dataset, EvalHook)``: ``data.val`` unless the caller gave the dataset; its classes are checked."""
    data_cfg = cfg.get("data") or {}
    if val_dataset is None:
        val_dataset = build_dataset(data_cfg["val"], dict(test_mode=True))
    num_classes = num_classes_of(model)
    check_num_classes(val_dataset, num_classes, "val")
    _prepare_cache(val_dataset)
    loader = build_eval_loader(val_dataset, loader_settings(data_cfg, "val"), device,
                               normalize_on_device=bool(cfg.get("normalize_on_device", True)))
    return val_dataset, build_eval_hook(cfg.get("evaluation"), loader, val_dataset.get_gt_labels(), num_classes, by_epoch)


def _run_in_work_dir(cfg, model, optimizer, train_module, plan: TrainPlan, precision, device, loaders: list,
                     hooks: list, *,
                     meta, timestamp, console, progress, notes, cautions, file_notes, resume, distributed):
    """Claim the work dir, write the config copy and logs, build the runner and train (resuming if asked)."""
    retained = device.type == "cpu" and cfg.get("cpu_retain_freed_memory", True) and retain_freed_memory()
    work_dir = Path(cfg.work_dir)
    with claim_work_dir(work_dir, enabled=is_main_process()):  # one run per work dir
        timestamp = broadcast_object(timestamp or _unique_timestamp(work_dir))  # rank 0's names the logs
        record_split(cfg, work_dir, [loader.dataset for loader in loaders], write=is_main_process())
        if is_main_process() and hasattr(cfg, "dump"):
            cfg.dump(str(work_dir / f"{plan.stem}.py"))
        logger = RunLogger(work_dir, timestamp, console=console, progress=progress)
        meta = _complete_meta(meta, cfg, plan.seed, device)
        runner = Runner(
            model, optimizer, work_dir=work_dir, logger=logger, device=device, max_epochs=plan.max_epochs,
            max_iters=plan.max_iters, precision=precision, seed=plan.seed, meta=meta,
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
        batch_normalized = any(loader.normalizer is not None and mode == "train"
                               for loader, (mode, _) in zip(loaders, plan.workflow))
        for hook, _ in hooks:
            if hasattr(hook, "dataloader"):
                logger.info(f"val: {describe_evaluation(hook.dataloader, device, model)}")
        logger.info(
            f"device {device}, precision {precision.describe()}{', channels_last' if plan.channels_last else ''}"
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
