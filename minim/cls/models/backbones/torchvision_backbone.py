"""``TorchvisionBackbone``: any torchvision classification architecture, minus its final layer."""

from __future__ import annotations

import re
import warnings
from typing import Any

import torchvision.models
from torch import nn

from minim.cls.models.backbones.base import WrappedModelBackbone, replace_module
from minim.cls.models.registry import BACKBONES
from minim.cls.models.zoo import all_torchvision_archs
from minim.errors import BuildError
from minim.suggest import did_you_mean

# Attribute path of the final classification layer, by arch-name pattern.
_FINAL_LAYERS: tuple[tuple[str, str], ...] = (
    (r"alexnet|vgg\d+(_bn)?", "classifier.6"),
    (r"convnext_.*", "classifier.2"),
    (r"densenet\d+", "classifier"),
    (r"efficientnet_.*|mnasnet.*|mobilenet_v2", "classifier.1"),
    (r"mobilenet_v3_.*", "classifier.3"),
    (r"maxvit_.*", "classifier.5"),
    (r"squeezenet.*", "classifier.1"),
    (r"swin_.*", "head"),
    (r"vit_.*", "heads.head"),
    (r"googlenet|inception_v3|regnet_.*|resnet\d+|resnext.*|wide_resnet.*|shufflenet_v2_.*", "fc"),
)

# Keys of torchvision checkpoints that the backbone drops (auxiliary classifiers that
# torchvision's pretrained GoogLeNet / Inception-v3 checkpoints carry).
_DROPPED_PLAIN_PREFIXES = {"googlenet": ("aux1.", "aux2."), "inception_v3": ("AuxLogits.",)}

_AUX_ARCHS = ("googlenet", "inception_v3")


def final_layer_path(arch: str, model: nn.Module | None = None) -> str:
    """The dotted path of ``arch``'s final classification layer (``'fc'``, ``'classifier.1'``, ...)."""
    for pattern, path in _FINAL_LAYERS:
        if re.fullmatch(pattern, arch):
            return path
    if model is None:
        raise BuildError(f"no known final classification layer for torchvision arch {arch!r}")
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise BuildError(f"cannot find the final classification layer of torchvision arch {arch!r}")
    return linears[-1]


def build_torchvision_model(arch: str, type_name: str, **kwargs: Any) -> nn.Module:
    """``torchvision.models.get_model(arch, weights=None, **kwargs)`` with typed errors."""
    archs = all_torchvision_archs()
    if arch not in archs:
        raise BuildError(f"{type_name}: torchvision has no classification architecture {arch!r}",
                         hint=did_you_mean(arch, archs))
    for name in ("weights", "pretrained"):
        if name in kwargs:
            raise BuildError(f"{type_name}: argument {name!r} is not supported; backbones are built with random "
                             "weights",
                             hint="load weights with load_from=... or init_cfg=dict(type='Pretrained', ...)")
    if arch in _AUX_ARCHS:
        if kwargs.get("aux_logits", False):
            raise BuildError(f"{type_name}: aux_logits=True is not supported for {arch!r} (minim trains the main "
                             "classifier only)")
        kwargs["aux_logits"] = False
        kwargs.setdefault("init_weights", True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torchvision.models.get_model(arch, weights=None, **kwargs)
    except TypeError as exc:
        bad = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if bad:
            raise BuildError(f"{type_name}: torchvision's {arch!r} does not take argument {bad.group(1)!r}") from exc
        raise BuildError(f"{type_name}: cannot build torchvision {arch!r}: {exc}") from exc


class TorchvisionModelBackbone(WrappedModelBackbone):
    """Shared set-up of backbones that run a torchvision model with its final layer removed."""

    def _setup(self, model: nn.Module, arch: str, include_top: bool = False,
               final_path: str | None = None) -> None:
        self.arch = arch
        path = final_path or final_layer_path(arch, model)
        self.final_layer = path
        if include_top:
            final = model.get_submodule(path)
            self.num_classes = getattr(final, "out_features", None) or getattr(final, "out_channels", None)
            self.feature_dim = None
            self.head_layers = ()
            self.num_classes_keys = (path + ".",)
        else:
            final = replace_module(model, path, nn.Identity())
            self.feature_dim = getattr(final, "in_features", None) or getattr(final, "in_channels", None)
            self.head_layers = (path,)
        self._dropped_prefixes = _DROPPED_PLAIN_PREFIXES.get(arch, ())
        self._adopt(model)

    def plain_key_to_own(self, key: str) -> str | None:
        if key.startswith(self._dropped_prefixes):
            return None
        return key

    #: the wrapped model's own keys are torchvision's
    plain_formats = ("torchvision",)

    def own_key_to_plain(self, key: str) -> str:
        return key

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}"


@BACKBONES.register()
class TorchvisionBackbone(TorchvisionModelBackbone):
    """A torchvision classification architecture (``torchvision.models.get_model(arch)``).

    The final classification layer (``fc``, ``classifier.1``, ``heads.head``, ...) is replaced
    by ``nn.Identity`` so the backbone outputs the pre-logits vector; its state-dict keys are
    torchvision's minus that layer.  ``include_top=True`` keeps the whole classifier (with
    ``num_classes`` outputs) for architectures whose classifier is not a single Linear layer
    (SqueezeNet): pair it with a ``ClsHead``.  Other keyword arguments go to torchvision's
    builder (e.g. ``transform_input=True`` for GoogLeNet / Inception-v3 pretrained weights).
    """

    def __init__(self, arch: str, include_top: bool = False, norm_eval: bool = False, init_cfg: Any = None,
                 **kwargs: Any):
        super().__init__(norm_eval=norm_eval, init_cfg=init_cfg)
        if "num_classes" in kwargs and not include_top:
            raise BuildError("TorchvisionBackbone: num_classes is only used with include_top=True; "
                             "set the head's num_classes instead")
        model = build_torchvision_model(arch, "TorchvisionBackbone", **kwargs)
        self._setup(model, arch, include_top=include_top)

    def classifier_key_to_own(self, key: str) -> str:
        """mmcls-layout backbone keys of the same network (MobileNetV2's ``layer*``/``conv1.conv``; ResNet's
        are torchvision's already) onto this model's keys."""
        if self.arch == "mobilenet_v2":
            from minim.cls.models.backbones.mobilenet_v2 import (  # lazy: cycle with backbones.mobilenet_v2
                mmcls_mobilenet_v2_key_to_torchvision,
            )

            return mmcls_mobilenet_v2_key_to_torchvision(key)
        return key
