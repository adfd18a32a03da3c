"""Experiment trackers that ``log_config.hooks`` names as mmcv/mmcls do: TensorBoard, W&B, MLflow.

Each tracker is a writer of :class:`~minim.cls.engine.logger.RunLogger` (``add_scalars(record, step)``,
``close()``), made on the main process when the run starts. Which pip package each needs is checked at
config-check time (:func:`minim.cls.engine.logger_hook.check_log_config`), so a missing one stops the
run before any work.

* ``TensorboardLoggerHook`` (mmcv): scalars named as mmcv names them (``learning_rate``, ``momentum``,
  ``<mode>/<key>``; ``time``, ``data_time`` and ``memory`` skipped) to ``log_dir`` (default
  ``<work_dir>/tf_logs``).
* ``WandbLoggerHook`` (mmcv 1.x arguments): ``wandb.init(**init_kwargs)`` (``dir`` defaults to the work dir,
  so ``WANDB_MODE=offline`` keeps everything there), scalars as mmcv names them (``learning_rate``,
  ``momentum``, ``<mode>/<key>``, as for TensorBoard) with ``step`` (or as ``global_step`` when
  ``with_step=False``), ``define_metric_cfg`` summaries, and at the end, with ``log_artifact``, the work
  dir's files ending in ``out_suffix`` as one artifact ``artifacts`` of type ``model``.
* ``MMClsWandbHook`` (mmcls 0.25 arguments): the above, plus with ``log_checkpoint`` the epoch/iteration
  checkpoints as artifact versions ``run_<id>_model`` (aliases ``epoch_<n>``/``iter_<n>``, the last also
  ``latest``; with ``log_checkpoint_metadata`` the validation metrics of that epoch/iteration as metadata),
  and after each evaluation a W&B table of ``num_eval_images`` (default 100) validation images with their
  ground truth and predictions (:mod:`minim.cls.engine.wandb_tables`; 0 logs none).
* ``MlflowLoggerHook`` (mmcv arguments): ``exp_name`` experiment, ``tags``, ``params``, metrics named as for
  W&B; the tracking store is ``MLFLOW_TRACKING_URI``, else a local file store ``<work_dir>/mlruns`` (with
  ``MLFLOW_ALLOW_FILE_STORE=true`` set, which mlflow 3 asks for before it uses a file store); with
  ``log_model`` the final checkpoint file is logged as an artifact under ``models/`` (mmcv logs the
  pickled module through ``mlflow.pytorch``).

Every tracker writes the records of the text log (``log_config.interval``); their own ``interval``,
``by_epoch``, ``ignore_last`` and ``reset_flag`` are accepted for compatibility.
"""

from __future__ import annotations

import numbers
import os
import re
import warnings
from pathlib import Path
from typing import Any, Mapping

#: tracker type -> the pip package it needs (and the module find_spec looks for)
PACKAGES = {
    "TensorboardLoggerHook": ("tensorboard", "tensorboard"),
    "WandbLoggerHook": ("wandb", "wandb"),
    "MMClsWandbHook": ("wandb", "wandb"),
    "MlflowLoggerHook": ("mlflow", "mlflow"),
}
#: the keys each tracker accepts (beside ``type``), as mmcv/mmcls spell them
KEYS = {
    "TensorboardLoggerHook": ("log_dir", "by_epoch", "ignore_last", "reset_flag", "interval"),
    "WandbLoggerHook": ("init_kwargs", "interval", "ignore_last", "reset_flag", "commit", "by_epoch", "with_step",
                        "log_artifact", "out_suffix", "define_metric_cfg"),
    "MMClsWandbHook": ("init_kwargs", "interval", "ignore_last", "reset_flag", "commit", "by_epoch", "with_step",
                       "log_artifact", "out_suffix", "define_metric_cfg", "log_checkpoint",
                       "log_checkpoint_metadata", "num_eval_images"),
    "MlflowLoggerHook": ("exp_name", "tags", "params", "log_model", "interval", "ignore_last", "reset_flag",
                         "by_epoch"),
}
_SKIPPED = ("mode", "epoch", "iter", "time", "data_time", "memory")  # not in mmcv's log_buffer
_CHECKPOINT = re.compile(r"^(epoch|iter)_(\d+)\.pth$")


def loggable_tags(record: Mapping[str, Any]) -> dict[str, float]:
    """A record's numbers under mmcv's tracker names: ``learning_rate``, ``momentum``, ``<mode>/<key>``."""
    mode = record.get("mode", "train")
    tags = {}
    for key, value in record.items():
        if key in _SKIPPED or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        name = {"lr": "learning_rate", "momentum": "momentum"}.get(key, f"{mode}/{key}")
        tags[name] = value
    return tags


class TensorboardWriter:
    """Scalars to ``<work_dir>/tf_logs`` (mmcv's ``TensorboardLoggerHook``)."""

    def __init__(self, options: Mapping[str, Any], work_dir: Path):
        from torch.utils.tensorboard import SummaryWriter  # lazy: the optional tensorboard package

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._writer = SummaryWriter(str(options.get("log_dir") or work_dir / "tf_logs"))

    def add_scalars(self, record: Mapping[str, Any], step: int) -> None:
        for tag, value in loggable_tags(record).items():
            self._writer.add_scalar(tag, value, step)

    def close(self) -> None:
        self._writer.close()


class WandbWriter:
    """Weights & Biases (mmcv's ``WandbLoggerHook``); see the module docstring."""

    def __init__(self, options: Mapping[str, Any], work_dir: Path):
        import wandb  # lazy: optional

        self.wandb = wandb
        self.work_dir = Path(work_dir)
        self.options = dict(options)
        init_kwargs = dict(options.get("init_kwargs") or {})
        init_kwargs.setdefault("dir", str(self.work_dir))
        self.run = wandb.init(**init_kwargs)
        for metric, summary in (options.get("define_metric_cfg") or {}).items():
            wandb.define_metric(metric, summary=summary)

    def add_scalars(self, record: Mapping[str, Any], step: int) -> None:
        tags = loggable_tags(record)
        commit = self.options.get("commit", True)
        if self.options.get("with_step", True):
            self.run.log(tags, step=step, commit=commit)
        else:
            self.run.log({**tags, "global_step": step}, commit=commit)

    def close(self) -> None:
        if self.options.get("log_artifact", True):
            suffixes = self.options.get("out_suffix", (".log.json", ".log", ".py"))
            suffixes = (suffixes,) if isinstance(suffixes, str) else tuple(suffixes)
            artifact = self.wandb.Artifact(name="artifacts", type="model")
            for path in sorted(self.work_dir.rglob("*")):
                if path.is_file() and path.name.endswith(suffixes) and "wandb" not in path.relative_to(
                        self.work_dir).parts:
                    artifact.add_file(str(path))
            self.run.log_artifact(artifact)
        self.run.finish()


class MMClsWandbWriter(WandbWriter):
    """mmcls's ``MMClsWandbHook``: W&B as above, plus checkpoints and evaluation tables (module docstring)."""

    def __init__(self, options: Mapping[str, Any], work_dir: Path):
        super().__init__(options, work_dir)
        self.num_eval_images = options.get("num_eval_images", 100)
        #: validation metrics by epoch (iteration in iteration mode), for the checkpoints' metadata
        self.val_metrics: dict[int, dict[str, float]] = {}
        self._last_val_record: Mapping[str, Any] = {}
        self._tables = None  # EvalTables, made at the first evaluation

    def add_scalars(self, record: Mapping[str, Any], step: int) -> None:
        if record.get("mode") == "val":
            self._last_val_record = record  # an evaluation's record comes just before its after_evaluation
        super().add_scalars(record, step)

    def after_evaluation(self, runner, results: Mapping[str, Any]) -> None:
        """Keep the metrics for the checkpoints' metadata; log the table of this evaluation's predictions."""
        from minim.cls.engine.evaluation import EvalHook  # lazy: torch; the plan reads KEYS and PACKAGES
        number = int(self._last_val_record["epoch" if runner.by_epoch else "iter"])
        self.val_metrics[number] = {k: float(v) for k, v in results.items()
                                    if isinstance(v, numbers.Real) and not isinstance(v, bool)}
        eval_hook = runner.get_hook(EvalHook)
        if self.num_eval_images > 0 and self._tables is None:
            self._tables = self._make_tables(runner, eval_hook.dataloader.dataset)
        if self._tables:
            self._tables.log_predictions(eval_hook.last_scores, number)

    def _make_tables(self, runner, dataset):
        """The :class:`EvalTables` of ``dataset`` (False, after a warning, when its images cannot be shown)."""
        from minim.cls.engine.wandb_tables import EvalTables, why_not_tabulated  # lazy: torch, as above
        reason = why_not_tabulated(dataset)
        if reason:
            runner.logger.warning(f"MMClsWandbHook: {reason}, so no tables of validation images are logged; "
                                  "set num_eval_images=0 to silence this")
            return False
        count = self.num_eval_images
        if count > len(dataset):
            runner.logger.warning(f"MMClsWandbHook: num_eval_images={count} is more than the {len(dataset)} "
                                  "validation images; the tables show all of them")
            count = len(dataset)
        return EvalTables(self.wandb, self.run, dataset, count, runner.by_epoch)

    def close(self) -> None:
        if self.options.get("log_checkpoint"):
            self._log_checkpoints()
        super().close()

    def _log_checkpoints(self) -> None:
        saved = sorted((int(m.group(2)), m.group(1), p) for p in self.work_dir.iterdir()
                       if (m := _CHECKPOINT.match(p.name)))
        for position, (number, unit, path) in enumerate(saved):
            metadata = None
            if self.options.get("log_checkpoint_metadata") and number in self.val_metrics:
                metadata = {unit: number, **self.val_metrics[number]}
            artifact = self.wandb.Artifact(f"run_{self.run.id}_model", type="model", metadata=metadata)
            artifact.add_file(str(path))
            aliases = [f"{unit}_{number}"] + (["latest"] if position == len(saved) - 1 else [])
            self.run.log_artifact(artifact, aliases=aliases)


class MlflowWriter:
    """MLflow (mmcv's ``MlflowLoggerHook``); see the module docstring."""

    def __init__(self, options: Mapping[str, Any], work_dir: Path):
        import mlflow  # lazy: optional

        self.mlflow = mlflow
        self.work_dir = Path(work_dir)
        self.log_model = options.get("log_model", True)
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            # mlflow >= 3.x refuses file stores unless told they are wanted: this default one is
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            mlflow.set_tracking_uri((self.work_dir / "mlruns").absolute().as_uri())
        if options.get("exp_name") is not None:
            mlflow.set_experiment(options["exp_name"])
        mlflow.start_run()
        if options.get("tags") is not None:
            mlflow.set_tags(options["tags"])
        if options.get("params") is not None:
            mlflow.log_params(options["params"])

    def add_scalars(self, record: Mapping[str, Any], step: int) -> None:
        self.mlflow.log_metrics(loggable_tags(record), step=step)

    def close(self) -> None:
        latest = self.work_dir / "latest.pth"
        if self.log_model and latest.exists():
            self.mlflow.log_artifact(str(latest.resolve()), artifact_path="models")
        self.mlflow.end_run()


WRITERS = {
    "TensorboardLoggerHook": TensorboardWriter,
    "WandbLoggerHook": WandbWriter,
    "MMClsWandbHook": MMClsWandbWriter,
    "MlflowLoggerHook": MlflowWriter,
}


def make_tracker(kind: str, options: Mapping[str, Any], work_dir: Path):
    """The writer of tracker ``kind`` (a key of :data:`WRITERS`) with its ``log_config.hooks`` options."""
    return WRITERS[kind](options, work_dir)
