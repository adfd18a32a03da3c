"""``EMAHook``: an exponential moving average of the weights, evaluated and saved instead of the raw ones.

``custom_hooks = [dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')]`` (mmcls's ConvNeXt,
DeiT and HorNet configs), with mmcv 1.x's arguments and update rule: every ``interval`` iterations
``ema = (1 - m) * ema + m * weight`` with ``m = min(momentum, (1 + iter) / (warm_up + iter))``.

The averages live in the model as buffers ``ema_<parameter name with '.' -> '_'>``, as in mmcv, so
checkpoints keep mmcv's layout: the parameters hold the averaged weights (what evaluation,
``best_*.pth``, ``minim test`` and ``minim infer`` use) and the ``ema_*`` buffers the raw training
weights (what training resumes from). Unlike mmcv, evaluation and checkpoints see the averages at every
evaluation and checkpoint, iteration-based ones included, and a resumed run restores both sets of
weights without ``resume_from`` on the hook.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from minim.cls.engine.hooks import HOOKS, Hook
from minim.errors import CheckpointError, ConfigError

#: the prefix of the averaged weights' buffer names
PREFIX = "ema_"


def buffer_name(parameter_name: str) -> str:
    """mmcv's buffer name for a parameter's average: ``backbone.conv.weight`` -> ``ema_backbone_conv_weight``."""
    return PREFIX + parameter_name.replace(".", "_")


@HOOKS.register()
class EMAHook(Hook):
    """mmcv ``EMAHook(momentum=0.0002, interval=1, warm_up=100)``.

    ``interval`` > 1 updates every ``interval`` iterations with the momentum that decays as much as
    ``interval`` single updates would, ``1 - (1 - momentum) ** interval`` (mmcv's ``momentum ** interval``
    shrinks it instead).
    """

    priority = "ABOVE_NORMAL"

    def __init__(self, momentum: float = 0.0002, interval: int = 1, warm_up: int = 100, resume_from=None):
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 < momentum < 1:
            raise ConfigError(f"EMAHook: momentum must be between 0 and 1 (the weight of the newest weights, "
                              f"e.g. 4e-5), got {momentum!r}")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval <= 0:
            raise ConfigError(f"EMAHook: interval must be a positive int, got {interval!r}")
        if isinstance(warm_up, bool) or not isinstance(warm_up, int) or warm_up < 1:
            raise ConfigError(f"EMAHook: warm_up must be an int >= 1, got {warm_up!r}")
        if resume_from is not None:
            raise ConfigError("EMAHook: resume_from is not needed in minim: resuming a run (resume_from at the "
                              "top level of the config, or --resume) restores the averaged weights too",
                              hint="remove resume_from from the EMAHook entry")
        self.momentum = 1 - (1 - float(momentum)) ** interval
        self.interval = interval
        self.warm_up = warm_up
        self.weights: list[torch.Tensor] = []
        self.averages: list[torch.Tensor] = []
        #: the resumed checkpoint's ema_* tensors (None: not resumed); True between before_run and after_run
        self._resumed: dict[str, torch.Tensor] | None = None
        self._active = False

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Take the checkpoint's ``ema_*`` tensors (the raw weights; its parameters hold the averages)."""
        state_dict = checkpoint["state_dict"]
        self._resumed = {key: state_dict.pop(key) for key in list(state_dict) if key.startswith(PREFIX)}

    def before_run(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        names = [(name, buffer_name(name)) for name, _ in model.named_parameters()]
        existing = dict(model.named_buffers())
        self.weights = [parameter.detach() for parameter in model.parameters()]
        for (name, buffer), weight in zip(names, self.weights):
            if buffer in existing:  # the model trained with an EMAHook before: the average starts again
                existing[buffer].copy_(weight)
            else:
                model.register_buffer(buffer, weight.clone())
        self.averages = [model.get_buffer(buffer) for _, buffer in names]
        self._restore(runner, [buffer for _, buffer in names])
        self._active = True

    def _restore(self, runner, buffers: list[str]) -> None:
        """After a resume: the checkpoint's ``ema_*`` tensors are the raw weights, its parameters the
        averages; swapped back, training goes on from the raw weights."""
        saved, self._resumed = self._resumed, None
        if saved is None:  # a fresh run
            return
        found = [buffer for buffer in buffers if buffer in saved]
        if not found:
            runner.logger.warning("EMAHook: the resumed checkpoint has no averaged weights (ema_* tensors); "
                                  "the average starts again from its weights")
            return
        if len(found) != len(buffers):
            missing = [buffer for buffer in buffers if buffer not in saved]
            raise CheckpointError(f"EMAHook: the resumed checkpoint's ema_* tensors do not fit the model "
                                  f"(missing: {', '.join(missing[:3])})")
        with torch.no_grad():
            for average, buffer in zip(self.averages, buffers):
                average.copy_(saved[buffer])
        self.swap()
        runner.logger.info("EMAHook: averaged weights restored from the checkpoint", console=False)

    def after_train_iter(self, runner) -> None:
        step = runner.iter
        if step % self.interval:
            return
        momentum = min(self.momentum, (1 + step) / (self.warm_up + step))
        with torch.no_grad():
            torch._foreach_lerp_(self.averages, self.weights, momentum)

    def swap(self) -> None:
        """Exchange the model's weights and their averages."""
        with torch.no_grad():
            for weight, average in zip(self.weights, self.averages):
                raw = weight.clone()
                weight.copy_(average)
                average.copy_(raw)

    @contextlib.contextmanager
    def evaluation_weights(self, runner) -> Iterator[None]:
        """Within (during the run): the model holds the averages."""
        if not self._active:
            yield
            return
        self.swap()
        try:
            yield
        finally:
            self.swap()

    def after_run(self, runner) -> None:
        """The trained model keeps the averaged weights (and, in ``ema_*``, the raw ones), as its checkpoints do."""
        if self._active:
            self._active = False
            self.swap()
