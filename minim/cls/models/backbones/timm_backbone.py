"""``TIMMBackbone``: any timm model as a backbone."""

from __future__ import annotations

from typing import Any

import timm
import torch

from minim.cls.models.backbones.base import Backbone
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError
from minim.suggest import did_you_mean


@BACKBONES.register()
class TIMMBackbone(Backbone):
    """mmcls 0.x ``TIMMBackbone(model_name, pretrained=False, checkpoint_path='', in_channels=3, **kwargs)``.

    Builds ``timm.create_model(model_name, ...)`` and removes its classifier
    (``reset_classifier(0)``), so the backbone outputs timm's pooled pre-logits vector.  The
    model lives under ``timm_model`` (keys ``backbone.timm_model.*``, as in mmcls); plain timm
    checkpoints map their classifier (``pretrained_cfg['classifier']``) onto the head.
    ``pretrained=True`` lets timm download its weights (not allowed in offline mode by timm's
    own hub settings); prefer ``load_from`` with a checkpoint file.
    """

    def __init__(self, model_name: str, features_only: bool = False, pretrained: bool = False,
                 checkpoint_path: str = "", in_channels: int = 3, init_cfg: Any = None, norm_eval: bool = False,
                 **kwargs: Any):
        super().__init__(norm_eval=norm_eval, init_cfg=init_cfg)
        if features_only:
            raise BuildError("TIMMBackbone: features_only=True is not supported (minim classifies with the pooled "
                             "features)")
        if not timm.is_model(model_name):
            raise BuildError(f"TIMMBackbone: timm has no model {model_name!r}",
                             hint=did_you_mean(model_name, timm.list_models()))
        try:
            model = timm.create_model(model_name, pretrained=bool(pretrained), checkpoint_path=checkpoint_path or "",
                                      in_chans=in_channels, **kwargs)
        except TypeError as exc:
            raise BuildError(f"TIMMBackbone: cannot build timm model {model_name!r}: {exc}") from exc
        classifier = _classifier_name(model)
        self.model_name = model_name
        self.head_layers = (classifier,) if classifier else ()
        model.reset_classifier(0)
        self.timm_model = model
        self.feature_dim = int(model.num_features)

    def plain_key_to_own(self, key: str) -> str | None:
        return "timm_model." + key

    plain_formats = ("timm",)

    def own_key_to_plain(self, key: str) -> str:
        return key[len("timm_model."):]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.timm_model(x)


def _classifier_name(model) -> str | None:
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
    classifier = cfg.get("classifier")
    if isinstance(classifier, (list, tuple)):
        classifier = classifier[0] if classifier else None
    return classifier
