"""Backbone base classes.

A backbone outputs either a pre-logits vector ``(N, C)`` or a feature map ``(N, C, H, W)``
(the ``GlobalAveragePooling`` neck handles both).  Besides ``forward`` every backbone tells
the checkpoint loader how foreign checkpoints map onto its own state-dict keys:

- ``head_layers``: module paths, in a *plain* checkpoint (torchvision / timm layout), of the
  classification layers the backbone dropped; the classifier maps them, in order, onto its
  head's linear layers (``fc`` -> ``head.fc``).
- ``plain_key_to_own(key)``: the backbone key of a plain-checkpoint key (``None``: drop it,
  e.g. Inception's auxiliary classifier).
- ``classifier_key_to_own(key)``: the backbone key of a ``backbone.``-prefixed key of an
  mmcls / mmpretrain / minim checkpoint (with the prefix removed).
- ``convert_mmcls_state(state)``: the whole conversion of those tensors, for layouts that
  differ by more than names (split or fused tensors, reshaped layer scales); by default it
  renames each key with ``classifier_key_to_own``.  Both must return the backbone's own keys
  unchanged, so minim's own checkpoints load through the same path.  Necks and heads may
  define ``convert_mmcls_state`` too (``neck.``/``head.`` tensors).
- ``num_classes_keys``: key prefixes of backbone tensors whose shape depends on the class
  count (a classifier kept inside the backbone); shape mismatches there are tolerated like
  head mismatches when fine-tuning.

The reverse direction (``minim run cls convert --to torchvision|timm``) is declared by the families
that have it: ``plain_formats``, the plain layouts (``'torchvision'``, ``'timm'``) that hold the
same network, and ``own_key_to_plain(key)``, the plain key of one of the backbone's own keys (the
head's linear layers go back to ``head_layers``). An empty ``plain_formats`` (the default) means
no plain counterpart. Layouts that differ by more than names convert whole state dicts both ways:
``to_plain_state(state, fmt)`` (by default ``own_key_to_plain`` on each key) and its inverse
``convert_plain_state(state)``, which the loader applies after ``plain_key_to_own`` when a backbone
defines it (e.g. reordered patch-merging channels, a split ``qkv`` bias). ``plain_head_layers`` maps a
format whose classifier layers are named otherwise to its own ``head_layers`` (timm's ``head.fc``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Iterable, Mapping

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from minim.errors import BuildError


class Backbone(nn.Module):
    """Base class of minim's backbones (see the module docstring for the checkpoint protocol)."""

    #: Width of the pre-logits vector / channels of the feature map, ``None`` with a kept classifier.
    feature_dim: int | None = None
    #: Class count of a classifier kept inside the backbone (``include_top``), else ``None``.
    num_classes: int | None = None
    head_layers: tuple[str, ...] = ()
    num_classes_keys: tuple[str, ...] = ()
    plain_formats: tuple[str, ...] = ()
    plain_head_layers: Mapping[str, tuple[str, ...]] = MappingProxyType({})

    def __init__(self, norm_eval: bool = False, frozen_stages: int = -1, init_cfg: Any = None):
        super().__init__()
        self.norm_eval = bool(norm_eval)
        self.frozen_stages = frozen_stages
        self.init_cfg = init_cfg

    # -- checkpoint protocol -------------------------------------------------------------
    def plain_key_to_own(self, key: str) -> str | None:
        return key

    def classifier_key_to_own(self, key: str) -> str:
        return key

    def convert_mmcls_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """mmcls-layout backbone tensors (``backbone.`` removed) as this backbone's own state dict."""
        return {self.classifier_key_to_own(key): value for key, value in state.items()}

    def to_plain_state(self, state: dict[str, torch.Tensor], fmt: str) -> dict[str, torch.Tensor]:
        """This backbone's own tensors in the layout of the plain ``fmt`` model (one of ``plain_formats``)."""
        return {self.own_key_to_plain(key): value for key, value in state.items()}

    # -- freezing ----------------------------------------------------------------------------
    def stage_modules(self) -> list[list[nn.Module]]:
        """Modules of stage 0 (the stem), 1, 2, ... for ``frozen_stages``; empty if unsupported."""
        return []

    def _check_frozen_stages(self, type_name: str) -> None:
        stages = self.stage_modules()
        if not isinstance(self.frozen_stages, int) or isinstance(self.frozen_stages, bool):
            raise BuildError(f"{type_name}: frozen_stages must be an int, got {self.frozen_stages!r}")
        if self.frozen_stages < -1 or (self.frozen_stages >= 0 and self.frozen_stages >= len(stages)):
            if not stages and self.frozen_stages != -1:
                raise BuildError(f"{type_name} does not support frozen_stages (got {self.frozen_stages}); use -1")
            if self.frozen_stages != -1:
                raise BuildError(f"{type_name}: frozen_stages must be in -1..{len(stages) - 1}, "
                                 f"got {self.frozen_stages}")
        self._freeze_stages()

    def _frozen_modules(self) -> Iterable[nn.Module]:
        if self.frozen_stages < 0:
            return []
        stages = self.stage_modules()
        return [m for stage in stages[: self.frozen_stages + 1] for m in stage]

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self


class WrappedModelBackbone(Backbone):
    """A backbone that runs a foreign model (torchvision) whose state-dict keys it keeps.

    The model's children, parameters and buffers are registered directly on this module,
    so ``backbone.state_dict()`` has exactly the model's keys (minus the layers replaced by
    ``nn.Identity``); ``forward`` runs the model's own ``forward``.
    """

    def __init__(self, norm_eval: bool = False, frozen_stages: int = -1, init_cfg: Any = None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        object.__setattr__(self, "_wrapped", None)

    def _adopt(self, model: nn.Module) -> None:
        for name, child in model._modules.items():
            self._modules[name] = child
        for name, param in model._parameters.items():
            self._parameters[name] = param
        for name, buffer in model._buffers.items():
            self._buffers[name] = buffer
            if name in model._non_persistent_buffers_set:
                self._non_persistent_buffers_set.add(name)
        object.__setattr__(self, "_wrapped", model)

    @property
    def wrapped_model(self) -> nn.Module:
        """The foreign model this backbone runs (shares all modules and tensors)."""
        return self._wrapped

    def _sync_wrapped(self) -> None:
        model = self._wrapped
        for name in model._parameters:
            model._parameters[name] = self._parameters[name]
        for name in model._buffers:
            model._buffers[name] = self._buffers[name]
        for name in model._modules:
            model._modules[name] = self._modules[name]

    def _apply(self, fn, *args, **kwargs):
        result = super()._apply(fn, *args, **kwargs)
        self._sync_wrapped()
        return result

    def train(self, mode: bool = True):
        self._wrapped.training = mode
        return super().train(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._wrapped(x)


def replace_module(model: nn.Module, path: str, new: nn.Module) -> nn.Module:
    """Replace the submodule at dotted ``path`` (e.g. ``'classifier.1'``) by ``new``; returns the old one."""
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old = parent.get_submodule(name)
    if isinstance(parent, nn.Sequential) and name.isdigit():
        parent[int(name)] = new
    else:
        setattr(parent, name, new)
    return old


def drop_path_rates(rate: float, count: int) -> list[float]:
    """mmcls's stochastic-depth schedule: ``count`` rates rising linearly from 0 to ``rate`` (computed on the
    CPU, so a model built under ``torch.device('meta')`` gets them too)."""
    return torch.linspace(0, rate, count, device="cpu").tolist()


def renamed_module_key(key: str, module_names: dict[str, str]) -> str:
    """``key`` with its module path renamed by ``module_names`` (torchvision's path -> this backbone's); keys of
    modules not in the table are returned unchanged."""
    module, _, param = key.rpartition(".")
    own = module_names.get(module)
    return f"{own}.{param}" if own else key
