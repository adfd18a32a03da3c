"""``evaluation``: accuracy-style metrics on the validation set during training, and ``save_best``.

``evaluation = dict(interval=1, start=None, metric='accuracy', metric_options=None,
save_best=None, rule=None)``. After every ``interval`` epochs (iterations for the
iteration-based runner) the hook collects the model's softmax scores over the val loader and
calls :func:`minim.cls.metrics.evaluate`; values are percentages. ``save_best`` names a result
key (``'auto'`` = the first key, e.g. ``accuracy_top-1``); a key the metrics will not produce is
an error before training starts. ``rule`` ('greater'/'less') is inferred from the key when not
given. The best model is saved as ``best_<key>_epoch_<N>.pth`` (previous best removed) and the
score is kept in the checkpoints' meta (``hook_msgs.best_score``) so resumed runs continue it.

A single-label val set also gets each class's precision, recall and F1 (top-1) in the text log
(``last_per_class`` keeps the latest, for the end-of-run summary). A multi-label val set (label
vectors, e.g. ``VOC``) is evaluated with ``mAP``/``CP``...``OF1``. After each evaluation every hook's
``after_evaluation(runner, results)`` runs (the early-stopping hook reads the results there).

On a CPU with several cores a single process scores in :class:`~minim.cls.engine.streams.CpuStreams`
(:func:`collect_scores`): the val loader's workers are not started, and the images per forward pass are
measured once per architecture and machine (remembered with ``minim infer``'s probes).
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from minim.cls.engine.compiling import is_compiled
from minim.cls.engine.device import Precision
from minim.cls.engine.device_loader import DeviceLoader
from minim.cls.engine.dist import all_gather_object, broadcast_buffers, get_world_size, is_main_process
from minim.cls.engine.eval_settings import RULES, resolve_save_best, split_eval_cfg
from minim.cls.engine.hooks import Hook
from minim.cls.engine.logger_hook import LoggerHook
from minim.cls.engine.probe import choose_channels_last, choose_inference
from minim.cls.engine.speed import describe_cache, describe_loader
from minim.cls.engine.streams import CpuStreams
from minim.cls.metrics import evaluate, is_multilabel_metric, precision_recall_f1
from minim.errors import ConfigError
from minim.launch.commands import usable_cpu_count


@torch.no_grad()
def collect_scores(
    model,
    loader,
    device: torch.device,
    precision=None,
    channels_last: bool = False,
    on_batch: Callable[[int], None] | None = None,
    keep_metas: list | None = None,
    deterministic: bool | None = None,
) -> np.ndarray:
    """Softmax scores (N, C) of ``model`` over ``loader`` in dataset order (eval mode, no grad).

    ``keep_metas``, when given, receives each sample's ``img_metas`` entry. With a sharded loader
    (distributed evaluation) every rank gets all scores, gathered back into dataset order. A single process
    on a CPU with several cores reads and scores an engine loader's samples in streams (see
    :func:`eval_stream_count`) instead of iterating the loader, in passes of a measured number of images, or of
    the loader's batch size when ``deterministic`` (None: whether torch's deterministic algorithms are on, as a
    ``--deterministic`` training run sets them): the same batches as the loader's, so the same scores as a
    distributed evaluation's, bit for bit.
    """
    precision = precision if precision is not None else Precision(device)
    was_training = model.training
    model.eval()
    chunks = []
    metas: list | None = [] if keep_metas is not None else None
    streams = eval_stream_count(loader, device, model)
    try:
        if deterministic is None:
            deterministic = torch.are_deterministic_algorithms_enabled()
        if streams > 1:
            batches = _scored_in_streams(model, loader, precision, channels_last, streams, deterministic)
        else:
            batches = _scored_in_turn(model, loader, device, precision, channels_last)
        for scores, batch_metas in batches:
            chunks.append(scores)
            if metas is not None:
                metas.extend(batch_metas)
            if on_batch is not None:
                on_batch(len(scores))
    finally:
        model.train(was_training)
    scores = torch.cat(chunks).numpy() if chunks else np.zeros((0, 0), dtype=np.float32)
    sampler = getattr(loader, "sampler", None)
    if getattr(sampler, "num_replicas", 1) > 1 and get_world_size() > 1:
        scores, metas = gather_in_dataset_order(sampler, scores, metas)
    if keep_metas is not None:
        keep_metas.extend(metas)
    return scores


def eval_stream_count(loader, device: torch.device, model) -> int:
    """How many :class:`~minim.cls.engine.streams.CpuStreams` evaluate ``loader`` with ``model``: one per usable
    core for an engine loader (a :class:`~minim.cls.engine.device_loader.DeviceLoader`) on a CPU in a single
    process, else 1 (the loader's own batches, read by its workers). On a CPU the workers would take their cores
    from the model, and one multi-threaded forward pass after another leaves cores waiting at each layer's barrier.
    A compiled model is evaluated in turn: each batch size it meets compiles again, and compiled code called from
    several threads at once recompiles."""
    if device.type != "cpu" or get_world_size() > 1 or not isinstance(loader, DeviceLoader) or is_compiled(model):
        return 1
    return usable_cpu_count()


def describe_evaluation(loader, device: torch.device, model) -> str:
    """How :func:`collect_scores` will read and score ``loader`` with ``model``, in words for the run header."""
    streams = eval_stream_count(loader, device, model)
    if streams == 1:
        return describe_loader(loader)
    return (f"{describe_cache(loader)}read and scored in {streams} CPU streams of one thread each, "
            "not by DataLoader workers (the images per pass measured at the first evaluation)")


def eval_channels_last(cfg, model, loader, device: torch.device) -> bool:
    """Whether to score ``loader`` with ``model`` in channels_last: the engine's inference probe
    (:func:`~minim.cls.engine.probe.choose_channels_last`: the config's value when it sets one), timed in the
    streams the evaluation will use."""
    count = eval_stream_count(loader, device, model)
    with CpuStreams(count) if count > 1 else contextlib.nullcontext() as streams:
        return choose_channels_last(cfg, model, loader, Precision(device), device, inference=True,
                                    streams=streams)[0]


def _scored_in_turn(model, loader, device: torch.device, precision, channels_last: bool) -> Iterator[tuple]:
    for batch in loader:
        img = batch["img"].to(device, non_blocking=True)  # a DeviceLoader has moved and normalized it
        yield _scores_of(model, img, precision, channels_last), batch.get("img_metas") or [{}] * len(img)


def _scored_in_streams(model, loader, precision, channels_last: bool, count: int,
                       deterministic: bool) -> Iterator[tuple]:
    """``(scores, metas)`` of runs of the loader's samples in its sampler's order, each run read, collated,
    normalized and scored in one of ``count`` streams; the run's size measured (at most the loader's batch size:
    on CPUs a few images per pass often beat 32), or the loader's batch size when ``deterministic`` (no
    timing-dependent choice)."""
    order = list(loader.sampler)
    with CpuStreams(count) as streams:
        size = loader.batch_size if deterministic else _stream_batch_size(model, loader, precision, channels_last,
                                                                          streams)

        def read_and_score(start: int) -> tuple[torch.Tensor, list]:
            batch = loader.to_device(loader.collate_fn([loader.dataset[key] for key in order[start:start + size]]))
            with torch.no_grad():
                scores = _scores_of(model, batch["img"], precision, channels_last)
            return scores, batch.get("img_metas") or [{}] * len(scores)

        yield from streams.imap(read_and_score, range(0, len(order), size))


def _stream_batch_size(model, loader, precision, channels_last: bool, streams: CpuStreams) -> int:
    device = torch.device("cpu")
    # (the probe hands over batches already in the memory format)
    forward = {"eager": lambda: functools.partial(_scores_of, model, precision=precision, channels_last=False)}
    return choose_inference(model, loader, precision, device, loader.batch_size, channels_last, forward,
                            streams=streams).batch_size


def _scores_of(model, img: torch.Tensor, precision, channels_last: bool) -> torch.Tensor:
    """The model's softmax scores of a batch (``N x C`` float on the CPU), under ``precision``."""
    if channels_last and img.dim() == 4:
        img = img.contiguous(memory_format=torch.channels_last)
    with precision.autocast():
        scores = model.forward_test(img)
    if isinstance(scores, (list, tuple)):
        scores = torch.as_tensor(np.stack([np.asarray(s) for s in scores]))
    return scores.detach().float().cpu()


def gather_in_dataset_order(sampler, scores: np.ndarray, metas: list | None) -> tuple[np.ndarray, list | None]:
    """Every rank's ``(indices, scores, metas)`` of a sharded evaluation, reassembled in dataset order
    (on every rank). Duplicated indices of a padded sampler are kept once."""
    indices = list(sampler.indices())
    gathered = all_gather_object((indices, scores, metas))
    size = sampler.dataset_size
    width = max((part[1].shape[1] for part in gathered if part[1].size), default=0)
    out = np.zeros((size, width), dtype=np.float32)
    seen = np.zeros(size, dtype=bool)
    all_metas: list | None = [None] * size if metas is not None else None
    for part_indices, part_scores, part_metas in gathered:
        for row, index in enumerate(part_indices[: len(part_scores)]):
            if seen[index]:
                continue
            seen[index] = True
            out[index] = part_scores[row]
            if all_metas is not None and part_metas is not None:
                all_metas[index] = part_metas[row]
    if not seen.all():
        missing = int((~seen).sum())
        raise RuntimeError(f"distributed evaluation lost {missing} of {size} samples")
    return out, all_metas


class EvalHook(Hook):
    """Evaluates on the val loader every ``interval`` epochs/iterations; keeps the best checkpoint."""

    priority = "ABOVE_NORMAL"  # before CheckpointHook, so epoch checkpoints carry the updated best score

    def __init__(
        self,
        dataloader,
        gt_labels: Sequence[int],
        num_classes: int,
        interval: int = 1,
        start: int | None = None,
        by_epoch: bool = True,
        save_best: str | None = None,
        rule: str | None = None,
        metric: Any = "accuracy",
        metric_options: Any = None,
        out_dir: str | None = None,
        **_ignored: Any,
    ):
        if not isinstance(interval, int) or interval <= 0:
            raise ConfigError(f"evaluation.interval must be a positive int, got {interval!r}")
        if start is not None and start < 0:
            raise ConfigError(f"evaluation.start must be >= 0, got {start!r}")
        self.dataloader = dataloader
        self.gt_labels = np.asarray(gt_labels)
        _check_metric_fits_labels(metric, self.gt_labels)
        self.classes = list(getattr(getattr(dataloader, "dataset", None), "CLASSES", None) or [])
        self.interval = interval
        self.start = start
        self.by_epoch = by_epoch
        self.metric = metric
        self.metric_options = metric_options
        self.out_dir = out_dir
        self.key, self.rule = resolve_save_best(save_best, rule, metric, metric_options, num_classes)
        self.best_score = None
        self.best_ckpt = None
        self.last_results: dict[str, Any] = {}
        #: the latest evaluation's per-class ``classes``, ``precision``, ``recall``, ``f1_score``, ``support``
        self.last_per_class: dict[str, list] | None = None
        self._warned: set[str] = set()
        self._started = False

    def before_run(self, runner) -> None:
        msgs = runner.meta["hook_msgs"]
        if self.key is not None and msgs.get("best_key") == self.key:
            self.best_score = msgs.get("best_score")
            self.best_ckpt = msgs.get("best_ckpt")
        self.directory = Path(self.out_dir) / runner.work_dir.name if self.out_dir else runner.work_dir

    def _should_evaluate(self, current: int) -> bool:
        if self.start is None:
            return current % self.interval == 0
        if current < self.start:
            return False
        return (current - self.start) % self.interval == 0

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and self._should_evaluate(runner.epoch + 1):
            self.evaluate(runner, runner.epoch + 1)

    def before_train_epoch(self, runner) -> None:
        """mmcv: with ``start`` at or below the epoch training begins from (0 for a fresh run), the model
        is evaluated before it trains (the fine-tuning baseline; it competes for ``save_best``)."""
        if not self.by_epoch or self._started:
            return
        self._started = True
        if self.start is not None and runner.epoch >= self.start and self._should_evaluate(runner.epoch):
            self.evaluate(runner, runner.epoch)
            runner.model.train()

    def after_train_iter(self, runner) -> None:
        if not self.by_epoch and self._should_evaluate(runner.iter + 1):
            logger_hook = runner.get_hook(LoggerHook)
            if logger_hook is not None and logger_hook.due(runner):
                logger_hook.log_train(runner)  # the training record first, as mmcv's EvalHook has it
            self.evaluate(runner, runner.iter + 1)
            runner.model.train()

    def evaluate(self, runner, number: int) -> dict[str, Any]:
        """Evaluate the model (an EMAHook's averaged weights, if there is one), log, keep the best checkpoint."""
        with runner.evaluation_weights():
            return self._evaluate(runner, number)

    def _evaluate(self, runner, number: int) -> dict[str, Any]:
        logger = runner.logger
        total = len(self.dataloader.dataset)
        world_size = get_world_size()
        broadcast_buffers(runner.model)  # every rank evaluates the same model (rank 0's BN statistics)
        logger.start_subtask("val", total=total)
        try:
            scores = collect_scores(
                runner.model, self.dataloader, runner.device, runner.precision, runner.channels_last,
                lambda count: logger.advance_subtask(count * world_size),
            )
        finally:
            logger.end_subtask()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = evaluate(scores, self.gt_labels, self.metric, self.metric_options)
        for item in caught:  # e.g. "topk=(1, 5) asks for more than the 3 classes": once per run, not every epoch
            message = str(item.message)
            if message not in self._warned:
                self._warned.add(message)
                logger.warning(message)
        self.last_results = dict(results)
        self.last_scores = scores  # (N, C), in dataset order: MMClsWandbHook's prediction tables read them
        epoch = number if self.by_epoch else runner.epoch + 1  # number: 0 before any training
        # mmcv's eval_iter_num: the val batches (epoch-based); the global iteration (iteration-based: plottable)
        record = {"mode": "val", "epoch": epoch, "iter": len(self.dataloader) if self.by_epoch else runner.iter + 1}
        record["lr"] = runner.current_lr
        record.update(results)
        if self.by_epoch:
            header = f"Epoch(val) [{epoch}][{len(self.dataloader)}]"
        else:
            header = f"Iter(val) [{len(self.dataloader)}]"
        logger.log_record(record, header, step=runner.iter + 1)
        if self.gt_labels.ndim == 1:
            self.last_per_class = per_class_metrics(scores, self.gt_labels, self.classes)
            logger.info(format_per_class(self.last_per_class), console=False)
        for hook in runner.hooks:  # first, so that a best checkpoint saved now holds their state
            if hasattr(hook, "after_evaluation"):
                hook.after_evaluation(runner, results)
        if self.key is not None:
            self._save_best(runner, results, number)
        return results

    def _save_best(self, runner, results: dict[str, Any], number: int) -> None:
        score = results[self.key]
        if not score or isinstance(score, float) and math.isnan(score):  # mmcv saves no best for a score of 0
            return
        if self.best_score is not None and not RULES[self.rule](score, self.best_score):
            return
        unit = "epoch" if self.by_epoch else "iter"
        path = (self.directory / f"{_best_prefix(self.key)}{unit}_{number}.pth").absolute()
        previous = self.best_ckpt
        self.best_score, self.best_ckpt = float(score), str(path)
        msgs = runner.meta["hook_msgs"]
        msgs.update(best_key=self.key, best_score=self.best_score, best_ckpt=self.best_ckpt, best_number=number)
        if is_main_process():
            self.directory.mkdir(parents=True, exist_ok=True)
        before_training = self.by_epoch and number == runner.epoch  # the evaluation before an epoch starts
        runner.save_checkpoint(path, save_optimizer=True, end_of_epoch=None if before_training else self.by_epoch)
        if is_main_process():
            earlier = _own_best(previous, self.directory, self.key) if previous else None
            if earlier is not None and earlier != path:
                earlier.unlink()
            runner.logger.info(f"Now best checkpoint is saved as {path.name}.")
            runner.logger.info(f"Best {self.key} is {self.best_score:.4f} at {number} {unit}.")


def _check_metric_fits_labels(metric: Any, gt_labels: np.ndarray) -> None:
    """Multi-label metrics for label vectors, single-label ones for class indices (else a ConfigError)."""
    multi_label_data = gt_labels.ndim == 2
    if multi_label_data == is_multilabel_metric(metric):
        return
    if multi_label_data:
        raise ConfigError(f"the val set is multi-label (label vectors) but evaluation.metric={metric!r}",
                          hint="set evaluation.metric='mAP' (or a list of mAP, CP, CR, CF1, OP, OR, OF1)")
    raise ConfigError(f"evaluation.metric={metric!r} needs a multi-label val set (such as VOC), but its labels are "
                      "class indices", hint="set evaluation.metric='accuracy' (or precision, recall, f1_score)")


def per_class_metrics(scores: np.ndarray, gt_labels: np.ndarray, classes: Sequence[str]) -> dict[str, list]:
    """Each class's precision, recall and F1 (percent, top-1 predictions) and its number of images."""
    precision, recall, f1 = precision_recall_f1(scores, gt_labels.astype(np.int64))
    num_classes = scores.shape[1]
    names = list(classes) if len(classes) == num_classes else [str(i) for i in range(num_classes)]
    support = np.bincount(gt_labels.astype(np.int64), minlength=num_classes)
    return {"classes": names, "precision": precision.tolist(), "recall": recall.tolist(), "f1_score": f1.tolist(),
            "support": support.tolist()}


def format_per_class(per_class: dict[str, list]) -> str:
    """``per_class_metrics`` as a text table, one class a line."""
    width = max(len("class"), *(len(name) for name in per_class["classes"]))
    lines = [f"{'class':<{width}}  precision  recall      f1  images"]
    for name, p, r, f, n in zip(per_class["classes"], per_class["precision"], per_class["recall"],
                                per_class["f1_score"], per_class["support"]):
        lines.append(f"{name:<{width}}  {p:9.2f}  {r:6.2f}  {f:6.2f}  {n:6d}")
    return "per-class metrics (%):\n" + "\n".join(lines)


def _best_prefix(key: str) -> str:
    """``best_<key>_``: how the best checkpoints of ``key`` are named."""
    return f"best_{key.replace('/', '_')}_"


def _own_best(previous: str, directory: Path, key: str) -> Path | None:
    """This run's earlier best checkpoint, if it still exists: the ``best_<key>_*`` file of that name in
    the run's folder. (Checkpoints of older versions hold a path relative to the cwd of the first run,
    which from another cwd would name another run's file.)"""
    candidate = directory.absolute() / Path(previous).name
    if candidate.name.startswith(_best_prefix(key)) and candidate.is_file():
        return candidate
    return None


def build_eval_hook(cfg, dataloader, gt_labels, num_classes: int, runner_by_epoch: bool) -> EvalHook:
    """The hook for the ``evaluation`` dict (``by_epoch`` forced from the runner type, as mmcls does)."""
    hook_cfg, metric_cfg = split_eval_cfg(cfg or {})
    hook_cfg["by_epoch"] = runner_by_epoch
    return EvalHook(dataloader, gt_labels, num_classes, **hook_cfg, **metric_cfg)
