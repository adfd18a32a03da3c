"""``minim train cls``: read the config, plan the run (every check that needs no torch), train, summarise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from minim.cls.commands.common import is_main, warn
from minim.cls.commands.render import print_train_summary
from minim.cls.plan import TrainOptions, TrainPlan, load_cls_config, plan_training


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
    per_class: dict[str, list] | None = None  # the last evaluation's (EvalHook.last_per_class)
    latest_checkpoint: str | None = None
    log_file: str | None = None
    json_log: str | None = None
    config_file: str | None = None
    by_epoch: bool = True


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
    from minim.cls.engine.worker_session import WorkerSession

    cfg, entry = load_cls_config(config, list(cfg_options))
    options = TrainOptions(work_dir=work_dir, resume=resume, device=device, gpus=gpus, seed=seed,
                           deterministic=deterministic, amp=amp, channels_last=channels_last,
                           auto_scale_lr=auto_scale_lr, sync_bn=sync_bn, validate=validate,
                           distributed=launcher != "none")
    with WorkerSession(launcher, cfg, device, gpus) as setup:  # one process: nothing to join, nothing imported
        console = console and is_main(setup)
        plan = plan_training(cfg, options, entry=entry, warn=lambda message: warn(message, console))
        for note in setup.notes if setup is not None else ():
            warn(note, console)
        from minim.cls.apis.train import train_from_plan  # torch from here on: the plan is checked

        runner, val_dataset = train_from_plan(plan, setup, console=console, progress=progress)
    result = _train_result(runner, plan)
    if console:
        print_train_summary(result, val_dataset)
    return result


def _train_result(runner, plan: TrainPlan) -> TrainResult:
    from minim.cls.engine.evaluation import EvalHook

    work_dir = plan.work_dir
    msgs = runner.meta.get("hook_msgs", {})
    eval_hook = runner.get_hook(EvalHook)
    latest = work_dir / "latest.pth"
    return TrainResult(
        work_dir=work_dir,
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
        per_class=eval_hook.last_per_class if eval_hook else None,
        latest_checkpoint=str(latest) if latest.exists() else _from_cwd(msgs.get("last_ckpt")),
        log_file=str(runner.logger.text_path) if runner.logger.text_path else None,
        json_log=str(runner.logger.json_path) if runner.logger.json_path else None,
        config_file=str(work_dir / f"{plan.stem}.py"),
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

