"""The training loop: epoch- or iteration-based runner with hooks, AMP, gradient clipping and resume.

``Runner(max_epochs=N)`` is mmcv's ``EpochBasedRunner``; ``Runner(max_iters=N)`` its
``IterBasedRunner``. Counters follow mmcv: ``epoch`` = epochs done (0-based during an
epoch), ``iter`` = iterations done, ``inner_iter`` = position in the current epoch.

Distributed: ``train_module`` (a DDP wrapper, see :mod:`minim.cls.engine.parallel`) runs the
training forward passes so gradients are averaged over ranks; ``self.model`` stays the plain
model for evaluation and checkpoints. Logged losses are averaged over ranks; only rank 0 logs
and writes files (see :mod:`minim.cls.engine.dist`).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import torch
from torch import nn

from minim.cls.engine import checkpoint_io
from minim.cls.engine.batchnorm_guard import one_value_batchnorm
from minim.cls.engine.device import Precision, peak_memory_mb
from minim.cls.engine.dist import all_reduce_mean, get_world_size, is_main_process
from minim.cls.engine.hooks import Hook, priority_value
from minim.cls.engine.logger import RunLogger
from minim.cls.engine.seed import capture_rng_state, restore_rng_state
from minim.errors import CheckpointError, ConfigError


#: how to avoid a last training batch of one image
ONE_IMAGE_BATCH_HINT = ("drop each epoch's incomplete last batch: data = dict(train_dataloader=dict(drop_last=True)); "
                        "or change samples_per_gpu")


def parse_losses(losses: Mapping[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """mmcls's rule: every value is averaged (lists summed); ``loss`` = sum of keys containing 'loss'."""
    log_vars: dict[str, torch.Tensor] = {}
    for name, value in losses.items():
        if isinstance(value, torch.Tensor):
            log_vars[name] = value.mean()
        elif isinstance(value, (list, tuple)):
            log_vars[name] = sum(v.mean() for v in value)
        elif isinstance(value, Mapping):  # e.g. accuracy={'top-1': ...} (cal_acc) logs as top-1, as mmcls does
            for sub, sub_value in value.items():
                log_vars[str(sub)] = torch.as_tensor(sub_value).float().mean()
        else:
            raise TypeError(f"{name} is not a tensor or list of tensors")
    loss = sum(v for k, v in log_vars.items() if "loss" in k)
    log_vars["loss"] = loss
    return loss, log_vars


class OptimizerStepper:
    """Backward + optional gradient clipping, loss scaling and gradient accumulation."""

    def __init__(self, optimizer, grad_clip: Mapping[str, Any] | None = None, scaler=None, cumulative_iters: int = 1):
        self.optimizer = optimizer
        self.grad_clip = dict(grad_clip) if grad_clip else None
        self.scaler = scaler
        self.cumulative_iters = max(1, int(cumulative_iters))
        self._params = [p for group in optimizer.param_groups for p in group["params"]]

    def step(self, loss: torch.Tensor, runner) -> dict[str, torch.Tensor]:
        extra: dict[str, torch.Tensor] = {}
        n = self.cumulative_iters
        if n > 1:
            # the last, incomplete group of a run is averaged over its own size (mmcv's rule)
            divisible = runner.max_iters // n * n
            loss = loss / (n if runner.iter < divisible else runner.max_iters - divisible)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        if n > 1 and not ((runner.iter + 1) % n == 0 or runner.iter + 1 == runner.max_iters):
            return extra
        if self.grad_clip is not None:
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            params = [p for p in self._params if p.requires_grad and p.grad is not None]
            if params:
                extra["grad_norm"] = torch.nn.utils.clip_grad_norm_(params, **self.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return extra


class Runner:
    """Trains ``model`` with ``optimizer``; hooks do scheduling, logging, evaluation and checkpoints."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        work_dir: str | Path,
        logger: RunLogger,
        device: torch.device,
        max_epochs: int | None = None,
        max_iters: int | None = None,
        precision: Precision | None = None,
        seed: int = 0,
        meta: dict[str, Any] | None = None,
        channels_last: bool = False,
        grad_clip: Mapping[str, Any] | None = None,
        cumulative_iters: int = 1,
        train_module: nn.Module | None = None,
    ):
        if (max_epochs is None) == (max_iters is None):
            raise ConfigError("runner needs exactly one of max_epochs (EpochBasedRunner) and max_iters (IterBasedRunner)")
        self.model = model
        self.train_module = train_module
        self.world_size = get_world_size()
        self.optimizer = optimizer
        self.work_dir = Path(work_dir)
        self.logger = logger
        self.device = device
        self.by_epoch = max_epochs is not None
        self._max_epochs = max_epochs
        self._max_iters = max_iters
        self.precision = precision or Precision(device)
        self.scaler = self.precision.make_scaler()
        self.stepper = OptimizerStepper(optimizer, grad_clip, self.scaler, cumulative_iters)
        self.seed = seed
        self.meta: dict[str, Any] = dict(meta or {})
        self.meta.setdefault("hook_msgs", {})
        self.channels_last = channels_last
        self.hooks: list[Hook] = []
        self.epoch = 0
        self.iter = 0
        self.inner_iter = 0
        self.iters_per_epoch = 0
        self.mode = "train"
        self.train_loader = None
        self.batch_size = 0
        self._resumed = False
        self._evaluation_weights_entered = False
        self.samples_trained = 0  # by this process (all ranks: x world_size)
        self.stop_training = False  # a hook (EarlyStoppingHook) ends training after the current epoch/iteration
        self.train_seconds = 0.0  # inside training iterations (data + step + per-iteration hooks)
        self.train_time = 0.0  # the whole run, evaluation and checkpoints included
        self.reset_log_buffer()

    # --- counters ---------------------------------------------------------------------
    @property
    def max_epochs(self) -> int | None:
        return self._max_epochs

    @property
    def max_iters(self) -> int:
        if self.by_epoch:
            return self._max_epochs * self.iters_per_epoch
        return self._max_iters

    @property
    def current_lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    @property
    def current_momentum(self) -> float | None:
        """The first parameter group's momentum (``betas[0]`` for Adam-like optimizers), as mmcv reports it."""
        group = self.optimizer.param_groups[0]
        if "momentum" in group:
            return group["momentum"]
        return group["betas"][0] if "betas" in group else None

    # --- hooks ------------------------------------------------------------------------
    def register_hook(self, hook: Hook | None, priority: Any = None) -> None:
        """Add ``hook``; it runs after registered hooks of the same or higher priority."""
        if hook is None:
            return
        hook.priority_value = priority_value(priority if priority is not None else hook.priority)
        position = len(self.hooks)
        for i, other in enumerate(self.hooks):
            if hook.priority_value < other.priority_value:
                position = i
                break
        self.hooks.insert(position, hook)

    def call_hook(self, stage: str) -> None:
        for hook in self.hooks:
            getattr(hook, stage)(self)

    def get_hook(self, kind: type) -> Hook | None:
        return next((h for h in self.hooks if isinstance(h, kind)), None)

    @contextlib.contextmanager
    def evaluation_weights(self) -> Iterator[None]:
        """Within: the model holds the weights to evaluate and to save (each hook's ``evaluation_weights``,
        e.g. an EMAHook's averages). Re-entrant."""
        if self._evaluation_weights_entered:
            yield
            return
        with contextlib.ExitStack() as stack:
            for hook in self.hooks:
                stack.enter_context(hook.evaluation_weights(self))
            self._evaluation_weights_entered = True
            try:
                yield
            finally:
                self._evaluation_weights_entered = False

    # --- log buffer ---------------------------------------------------------------------
    def reset_log_buffer(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0
        self._samples = 0
        self._time = 0.0
        self._data_time = 0.0

    def _accumulate(self, log_vars: Mapping[str, torch.Tensor], step_time: float, data_time: float,
                    samples: int) -> None:
        """Add one iteration: loss terms weighted by its batch size (mmcv's ``log_buffer.update(vars,
        num_samples)``), and its time, which (as mmcv's IterTimerHook counts it) includes loading the batch."""
        for key, value in log_vars.items():
            value = value.detach() * samples
            self._sums[key] = self._sums[key] + value if key in self._sums else value
        self._count += 1
        self._samples += samples
        self._time += step_time + data_time
        self._data_time += data_time

    def pop_log_averages(self) -> dict[str, float]:
        """Averages since the last call: ``data_time``, ``time`` and every loss term (one sync)."""
        if not self._count:
            return {}
        values = []
        if self._sums:  # one collective: every rank logs at the same iterations with the same keys
            values = all_reduce_mean(torch.stack([v.float() / self._samples for v in self._sums.values()]))
            values = values.cpu().tolist()
        out = {"data_time": self._data_time / self._count, "time": self._time / self._count}
        out.update(zip(self._sums, values))
        out["memory"] = peak_memory_mb(self.device)
        self.reset_log_buffer()
        return out

    # --- steps --------------------------------------------------------------------------
    def _inputs(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        img = batch["img"].to(self.device, non_blocking=True)  # engine loaders (DeviceLoader) have moved it already
        if self.channels_last and img.dim() == 4:
            img = img.contiguous(memory_format=torch.channels_last)
        label = batch.get("gt_label")
        if label is not None:
            label = label.to(self.device, non_blocking=True)
        return img, label

    def forward_losses(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """The model's loss dict for one batch (through the DDP wrapper when distributed)."""
        img, label = self._inputs(batch)
        with self.precision.autocast():
            if self.train_module is not None and self.mode == "train":
                return self.train_module(img, label)
            return self.model.forward_train(img, label)

    def train_iter(self, batch: Mapping[str, Any], data_time: float) -> None:
        start = time.perf_counter()
        self.call_hook("before_train_iter")
        try:
            losses = self.forward_losses(batch)
        except ValueError as exc:
            layer = one_value_batchnorm(self.model, lambda: self.forward_losses(batch))
            if layer is None:
                raise
            raise ConfigError(f"a training batch of {len(batch['img'])} image(s) reached a BatchNorm layer with one "
                              f"value per channel ({layer}), which it cannot train on",
                              hint=ONE_IMAGE_BATCH_HINT) from exc
        loss, log_vars = parse_losses(losses)
        log_vars.update(self.stepper.step(loss, self))
        self._accumulate(log_vars, time.perf_counter() - start, data_time, len(batch["img"]))
        self.samples_trained += len(batch["img"])
        self.call_hook("after_train_iter")
        self.iter += 1

    # --- loops --------------------------------------------------------------------------
    def run(self, data_loaders: list, workflow: Iterable[tuple[str, int]]) -> None:
        """Run ``workflow`` (e.g. ``[('train', 1), ('val', 1)]``) with one loader per entry."""
        workflow = [tuple(flow) for flow in workflow]
        if len(data_loaders) != len(workflow):
            raise ConfigError(f"workflow {workflow} has {len(workflow)} entries but {len(data_loaders)} loaders were built")
        train_index = next((i for i, (mode, _) in enumerate(workflow) if mode == "train"), None)
        if train_index is None:
            raise ConfigError(f"workflow {workflow} has no ('train', N) entry")
        self.train_loader = data_loaders[train_index]
        self.batch_size = self.train_loader.batch_size
        self.iters_per_epoch = len(self.train_loader)
        if self.iters_per_epoch == 0:
            raise ConfigError("the training loader yields no batch (dataset smaller than the batch with drop_last=True?)")
        if self._resumed:
            self.epoch = self.iter // self.iters_per_epoch
        for loader in data_loaders:
            if hasattr(loader.sampler, "seed"):
                loader.sampler.seed = self.seed
        self.model.train()
        self.call_hook("before_run")
        try:
            if self.by_epoch:
                self._run_epochs(data_loaders, workflow)
            else:
                self._run_iters(data_loaders, workflow)
        finally:
            self.call_hook("after_run")

    def _run_epochs(self, data_loaders, workflow) -> None:
        while self.epoch < self._max_epochs and not self.stop_training:
            for loader, (mode, epochs) in zip(data_loaders, workflow):
                for _ in range(epochs):
                    if mode == "train":
                        if self.epoch >= self._max_epochs or self.stop_training:
                            break
                        self.train_epoch(loader)
                    elif mode == "val":
                        self.val_epoch(loader)
                    else:
                        raise ConfigError(f"workflow mode must be 'train' or 'val', got {mode!r}")

    def _set_sampler(self, loader, epoch: int, start_iter: int) -> None:
        sampler = loader.sampler
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        if hasattr(sampler, "set_start"):
            sampler.set_start(start_iter * loader.batch_size)

    def train_epoch(self, loader) -> None:
        self.mode = "train"
        self.model.train()
        start_iter = self.iter - self.epoch * self.iters_per_epoch
        self._set_sampler(loader, self.epoch, start_iter)
        self.call_hook("before_train_epoch")
        self.reset_log_buffer()
        tick = started = time.perf_counter()
        for i, batch in enumerate(loader, start=start_iter):
            self.inner_iter = i
            self.train_iter(batch, time.perf_counter() - tick)
            tick = time.perf_counter()
        self.train_seconds += time.perf_counter() - started
        self._set_sampler(loader, self.epoch, 0)
        self.call_hook("after_train_epoch")
        self.epoch += 1

    @torch.no_grad()
    def val_epoch(self, loader, batches: Iterable | None = None) -> None:
        """mmcv's ``('val', N)`` workflow: the validation LOSS (eval mode, no gradient), logged as mode 'val',
        over all of ``loader`` or over ``batches`` drawn from it (the iteration-based runner takes N)."""
        self.mode = "val"
        self.model.eval()
        self.call_hook("before_val_epoch")
        self.reset_log_buffer()
        tick = time.perf_counter()
        with self.evaluation_weights():
            for i, batch in enumerate(loader if batches is None else batches):
                self.inner_iter = i
                data_time = time.perf_counter() - tick
                start = time.perf_counter()
                _, log_vars = parse_losses(self.forward_losses(batch))
                self._accumulate(log_vars, time.perf_counter() - start, data_time, len(batch["img"]))
                tick = time.perf_counter()
        self.call_hook("after_val_epoch")
        self.model.train()
        self.mode = "train"

    def _run_iters(self, data_loaders, workflow) -> None:
        # mmcv's IterBasedRunner: ('train', N) runs N iterations, ('val', N) takes the next N val batches
        loaders = [_IterLoader(loader, self) if mode == "train" else _endless(loader)
                   for loader, (mode, _) in zip(data_loaders, workflow)]
        while self.iter < self._max_iters and not self.stop_training:
            for loader, source, (mode, count) in zip(loaders, data_loaders, workflow):
                if mode == "train":
                    self.mode = "train"
                    self.model.train()
                    for _ in range(count):
                        if self.iter >= self._max_iters or self.stop_training:
                            break
                        tick = time.perf_counter()
                        batch = next(loader)
                        self.train_iter(batch, time.perf_counter() - tick)
                        self.train_seconds += time.perf_counter() - tick
                elif mode == "val":
                    self.val_epoch(source, itertools.islice(loader, count))
                else:
                    raise ConfigError(f"workflow mode must be 'train' or 'val', got {mode!r}")

    # --- checkpoints ----------------------------------------------------------------------
    def checkpoint_meta(self, end_of_epoch: bool | None) -> dict[str, Any]:
        """Meta of a checkpoint written now: counters, best score, RNG and scaler state. ``end_of_epoch``:
        True after an epoch's last iteration, False after an iteration, None before an epoch starts.
        ``epoch`` is mmcv's: the epoch under way (1-based), or done, when written inside or at the end of one."""
        meta = dict(self.meta)
        meta["epoch"] = self.epoch if end_of_epoch is None else self.epoch + 1
        meta["iter"] = self.iter + 1 if end_of_epoch is False else self.iter
        meta["time"] = time.asctime()
        meta["rng_state"] = capture_rng_state()
        meta["seed"] = self.seed
        if self.scaler is not None:
            meta["grad_scaler"] = self.scaler.state_dict()
        for hook in self.hooks:
            hook.before_save_checkpoint(self, meta)
        return meta

    def save_checkpoint(self, path: str | Path, save_optimizer: bool = True, end_of_epoch: bool | None = True) -> Path:
        """Write the model (+ optimizer) and resume state to ``path`` (atomic; rank 0 only)."""
        path = Path(path)
        if is_main_process():
            model = self.model.module if hasattr(self.model, "module") else self.model
            with self.evaluation_weights():
                checkpoint_io.save(path, model, self.optimizer if save_optimizer else None,
                                   self.checkpoint_meta(end_of_epoch))
        return path

    def resume(self, path: str | Path, checkpoint: dict[str, Any] | None = None) -> None:
        """Restore weights, optimizer, counters, best score, loss scaler and RNG state from ``path``.

        ``checkpoint``: the already-read contents of ``path``, if the caller has them.
        """
        if checkpoint is None:
            checkpoint = checkpoint_io.read(path)
        model = self.model.module if hasattr(self.model, "module") else self.model
        checkpoint = dict(checkpoint, state_dict=dict(checkpoint.get("state_dict", checkpoint)))
        before = set(checkpoint["state_dict"])
        for hook in self.hooks:  # hooks take the state they own first (an EMAHook its ema_* tensors)
            hook.after_load_checkpoint(self, checkpoint)
        state_dict = check_resumable(model, checkpoint, path, taken=before - set(checkpoint["state_dict"]))
        extra = sorted(set(state_dict) - set(model.state_dict()))
        if extra:
            more = f", ... ({len(extra)} in all)" if len(extra) > 3 else ""
            self.logger.warning(f"{path} has tensors this model has no place for ({', '.join(extra[:3])}{more}): "
                                "the run that wrote it had a hook this config lacks (ema_* tensors: an EMAHook, "
                                "without which training goes on from its averaged weights); they are ignored")
        model.load_state_dict(state_dict, strict=False)
        if checkpoint.get("optimizer") is not None:
            try:
                self.optimizer.load_state_dict(checkpoint["optimizer"])
            except (ValueError, KeyError) as exc:
                raise CheckpointError(f"cannot resume from {path}: optimizer state does not fit ({exc})") from exc
        else:
            self.logger.warning(f"{path} has no optimizer state (save_optimizer=False); the optimizer restarts")
        meta = checkpoint.get("meta") or {}
        self.iter = int(meta["iter"])
        self.epoch = int(meta.get("epoch", 0))
        self.meta["hook_msgs"] = dict(meta.get("hook_msgs") or {})
        if "seed" in meta:
            self.seed = int(meta["seed"])
        if self.scaler is not None and meta.get("grad_scaler"):
            self.scaler.load_state_dict(meta["grad_scaler"])
        if meta.get("rng_state"):
            restore_rng_state(meta["rng_state"])
        self._resumed = True
        self.logger.info(f"resumed from {path}: epoch {self.epoch}, iter {self.iter}")


def _endless(loader) -> Iterator:
    """The loader's batches, over and over."""
    if len(loader) == 0:
        raise ConfigError("the val loader yields no batch (an empty val set?)")
    while True:
        yield from loader


class _IterLoader:
    """Endless iteration over a loader for the iteration-based runner (data epochs advance ``runner.epoch``)."""

    def __init__(self, loader, runner: Runner):
        self.loader = loader
        self.runner = runner
        start = runner.iter - runner.epoch * runner.iters_per_epoch
        runner._set_sampler(loader, runner.epoch, start)
        self._position = start
        self._iterator = iter(loader)

    def __next__(self):
        try:
            batch = next(self._iterator)
        except StopIteration:
            self.runner.epoch += 1
            self.runner._set_sampler(self.loader, self.runner.epoch, 0)
            self._position = 0
            self._iterator = iter(self.loader)
            batch = next(self._iterator)
        self.runner.inner_iter = self._position
        self._position += 1
        return batch


def check_resumable(model: nn.Module, checkpoint: dict[str, Any], path: str | Path,
                    taken: Iterable[str] = ()) -> dict[str, Any]:
    """The checkpoint's state dict (``module.`` prefixes dropped) if it is a training checkpoint of
    ``model``: every key of the model (but those hooks ``taken`` from it), with the same shapes, and an
    ``iter`` in its meta; a :class:`CheckpointError` otherwise. Extra tensors (a hook's) are allowed."""
    state_dict = checkpoint.get("state_dict", checkpoint)
    state_dict = {k[7:] if k.startswith("module.") else k: v for k, v in state_dict.items()}
    own = model.state_dict()
    taken = set(taken)
    missing = [k for k in own if k not in state_dict and k not in taken and not k.endswith("num_batches_tracked")]
    resized = [f"{k} (checkpoint {list(v.shape)}, model {list(own[k].shape)})" for k, v in state_dict.items()
               if k in own and hasattr(v, "shape") and v.shape != own[k].shape]
    for what, keys in (("missing", missing), ("other shapes", resized)):
        if keys:
            more = f", ... ({len(keys)} in all)" if len(keys) > 3 else ""
            raise CheckpointError(f"cannot resume from {path}: its weights do not fit the model ({what}: "
                                  f"{', '.join(keys[:3])}{more})",
                                  hint="resume the run that wrote it with its own config; to start from its "
                                       "weights instead, use load_from")
    if "iter" not in (checkpoint.get("meta") or {}):
        raise CheckpointError(f"cannot resume from {path}: no 'iter' in its meta (not a training checkpoint)",
                              hint="to start from its weights, use load_from")
    return state_dict

