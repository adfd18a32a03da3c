"""The hooks mmcls 0.x configs add through ``custom_hooks``: ``PreciseBNHook`` and ``ClassNumCheckHook``.

``custom_hooks = [dict(type='PreciseBNHook', num_samples=8192, interval=1, priority='ABOVE_NORMAL')]``
(mmcls's RegNet configs): before evaluation, BatchNorm's running statistics are recomputed as the
plain average over ``num_samples`` training images with the current weights, instead of the
exponential average gathered while the weights moved.
"""

from __future__ import annotations

import torch
from torch import nn

from minim.cls.engine.dist import all_reduce_mean, get_world_size
from minim.cls.engine.hooks import HOOKS, Hook
from minim.errors import ConfigError


@HOOKS.register()
class PreciseBNHook(Hook):
    """mmcls ``PreciseBNHook(num_samples=8192, interval=1)``: precise BN statistics every ``interval``
    epochs (iterations with an IterBasedRunner), from ``num_samples`` training images over all processes."""

    priority = "ABOVE_NORMAL"

    def __init__(self, num_samples: int = 8192, interval: int = 1):
        if not isinstance(num_samples, int) or num_samples <= 0:
            raise ConfigError(f"PreciseBNHook: num_samples must be a positive int, got {num_samples!r}")
        if not isinstance(interval, int) or interval <= 0:
            raise ConfigError(f"PreciseBNHook: interval must be a positive int, got {interval!r}")
        self.num_samples = num_samples
        self.interval = interval

    def after_train_epoch(self, runner) -> None:
        if runner.by_epoch and self.every_n_epochs(runner, self.interval):
            self.update(runner)

    def after_train_iter(self, runner) -> None:
        if not runner.by_epoch and self.every_n_iters(runner, self.interval):
            self.update(runner)

    @torch.no_grad()
    def update(self, runner) -> None:
        """Recompute every training-mode BatchNorm's running mean and variance."""
        model = runner.model
        layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
        loader = runner.train_loader
        iters = min(len(loader), max(1, self.num_samples // (get_world_size() * loader.batch_size)))
        if not layers:
            runner.logger.warning("PreciseBNHook: the model has no BatchNorm layer in training mode")
            return
        runner.logger.info(f"PreciseBNHook: BatchNorm statistics from {iters} batch(es)")
        momenta = [layer.momentum for layer in layers]
        means = [torch.zeros_like(layer.running_mean) for layer in layers]
        variances = [torch.zeros_like(layer.running_var) for layer in layers]
        for layer in layers:
            layer.momentum = 1.0  # each batch's statistics replace the running ones; they are averaged here
        try:
            with runner.evaluation_weights():  # the statistics of the weights evaluation uses (an EMAHook's)
                for index, batch in enumerate(loader):
                    if index == iters:
                        break
                    img, _ = runner._inputs(batch)
                    with runner.precision.autocast():
                        model.extract_feat(img)
                    for i, layer in enumerate(layers):
                        means[i] += layer.running_mean / iters
                        variances[i] += layer.running_var / iters
        finally:
            for layer, momentum in zip(layers, momenta):
                layer.momentum = momentum
        for layer, mean, var in zip(layers, means, variances):
            layer.running_mean.copy_(all_reduce_mean(mean))
            layer.running_var.copy_(all_reduce_mean(var))


@HOOKS.register()
class ClassNumCheckHook(Hook):
    """mmcls ``ClassNumCheckHook``: the training set's class names must be as many as the head's classes
    (minim checks this before training anyway; the hook repeats it at each epoch start)."""

    def before_train_epoch(self, runner) -> None:
        dataset = getattr(runner.train_loader, "dataset", None)
        classes = getattr(dataset, "CLASSES", None)
        head = getattr(runner.model, "head", None)
        num_classes = getattr(head, "num_classes", None)
        if classes is None:
            runner.logger.warning("ClassNumCheckHook: the training set has no CLASSES; nothing to check")
        elif isinstance(num_classes, int) and len(classes) != num_classes:
            raise ConfigError(f"ClassNumCheckHook: the training set has {len(classes)} classes but "
                              f"model.head.num_classes={num_classes}")
