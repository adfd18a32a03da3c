"""A timm-style API: ``create_model`` and ``list_models`` over minim's model index.

``create_model`` returns a classifier in eval mode with its preprocessing attached, as timm users expect:

- ``model.pretrained_cfg``: timm's data-config keys (``input_size``, ``mean``, ``std`` in 0..1 units,
  ``interpolation``, ``crop_pct``, ``crop_mode``, ``num_classes``, ``label_names``), taken from the config's
  test pipeline, so ``timm.data.resolve_data_config(model=model)`` works; plus ``architecture``, ``url``
  and ``test_pipeline`` (the steps minim runs);
- ``model.preprocess(img)``: an image file, a PIL image (RGB) or an ``H x W x 3`` uint8 array (BGR unless
  ``bgr=False``, as ``inference_model``) through that test pipeline: a ``(1, 3, H, W)`` batch for ``model(x)``.

Importing this module is cheap: torch is imported by ``create_model`` only.
"""

from __future__ import annotations

import fnmatch
import os
import types
import warnings
from typing import Any, Sequence

from minim.errors import ConfigError, NotFoundError, UsageError
from minim.index import load_index

CODEBASE = "cls"


def list_models(pattern: str | Sequence[str] = "*", pretrained: bool = False) -> list[str]:
    """Sorted names of the index's models that ``create_model`` can build (those with a config), matching
    the fnmatch ``pattern`` (or any of several; case-insensitive); ``pretrained=True``: only those with
    published weights. The index is minim's built-in one plus ``MINIM_INDEX_PATH``."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    found = [entry.name for entry in load_index(CODEBASE).models
             if entry.config_path is not None and (entry.weights is not None or not pretrained)
             and any(fnmatch.fnmatch(entry.name.lower(), p.lower()) for p in patterns)]
    return sorted(found)


def create_model(name_or_config: Any, pretrained: bool | str | os.PathLike = False, num_classes: int | None = None,
                 *, device: Any = "cpu", options: dict[str, Any] | None = None, **overrides: Any):
    """A classifier ready for inference, in eval mode on ``device``, with ``pretrained_cfg`` and ``preprocess``.

    ``name_or_config``: an index name or alias, a config file, a dict or a Config. ``pretrained``: False
    (random weights), True (the index entry's weights, downloaded once to ``$MINIM_HOME/weights`` and
    checked against the index's sha256) or a checkpoint path/URL. ``num_classes``: a new head of that many
    classes (fresh weights when the checkpoint's head has another size, as timm). ``overrides``: arguments
    of the backbone (``drop_path_rate=0.1``, ``img_size=384``, ...); ``options``: any config keys
    (``{'model.head.topk': (1,)}``).
    """
    from minim.cls.apis.inference import ClassNamesWarning, init_model  # lazy: torch (minim.cls imports this module)
    from minim.cls.checkpoint import SkippedTensorsWarning  # lazy: torch (minim.cls imports this module)
    from minim.cls.plan.config import (  # lazy: numpy; importing minim.cls imports this module
        load_cls_config,
        weights_path,
    )

    cfg, entry = load_cls_config(name_or_config, options)
    if "model" not in cfg:
        raise UsageError(f"{name_or_config}: config has no 'model'")
    for key, value in overrides.items():
        cfg.model.backbone[key] = value
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise UsageError(f"num_classes must be a positive int, got {num_classes!r}")
        cfg.model.head.num_classes = num_classes
    checkpoint = _checkpoint(name_or_config, pretrained, entry, weights_path)
    with warnings.catch_warnings():
        if num_classes is not None:  # the new head keeps fresh weights: what was asked for
            warnings.filterwarnings("ignore", category=SkippedTensorsWarning)
        warnings.filterwarnings("ignore", category=ClassNamesWarning)
        model = init_model(cfg, checkpoint, device=device, strict=num_classes is None)
    model.pretrained_cfg = pretrained_cfg(model, entry, checkpoint)
    model.preprocess = types.MethodType(_preprocess, model)
    return model


def _checkpoint(name: Any, pretrained: Any, entry, weights_path) -> str | None:
    if pretrained is False or pretrained is None:
        return None
    if pretrained is True:
        if entry is None or entry.weights is None:
            what = f"index model {entry.name!r}" if entry is not None else f"config {name}"
            raise NotFoundError(f"{what} has no published weights",
                                hint="pretrained=False for random weights, or pretrained='path/to/checkpoint.pth'; "
                                     "list_models(pretrained=True) lists the models with weights")
        return weights_path(None, entry)
    return weights_path(str(pretrained))


def pretrained_cfg(model, entry=None, checkpoint: str | None = None) -> dict[str, Any]:
    """timm's data-config keys for ``model`` (from ``init_model``) from its config's test pipeline."""
    from minim.cls.analysis.export_metadata import (  # lazy: torch; importing minim.cls imports this module
        describe_model,
        pipeline_output_size,
        test_pipeline_steps,
    )

    data: dict[str, Any] = {"architecture": entry.name if entry is not None else None,
                            "url": entry.weights.url if entry is not None and entry.weights else checkpoint,
                            "num_classes": int(model.num_classes), "label_names": list(map(str, model.CLASSES))}
    try:
        steps = test_pipeline_steps(model.cfg)
        size = pipeline_output_size(steps) or (224, 224)
        described = describe_model(model, (3, *size), dynamic_batch=True)
    except ConfigError:  # no test pipeline, or no Normalize in it: no data config to give
        return data
    resize, crop = described["resize"] or {}, described["crop"] or {}
    data.update(
        input_size=(3, *size),
        mean=tuple(round(m / 255, 6) for m in described["mean"]),
        std=tuple(round(s / 255, 6) for s in described["std"]),
        channel_order=described["input"]["channel_order"],
        interpolation=resize.get("interpolation", "bilinear"),
        crop_pct=_crop_pct(resize.get("size"), crop.get("crop_size")),
        crop_mode="center",
        test_pipeline=steps,
    )
    return data


def _crop_pct(resize: Any, crop: Any) -> float:
    """timm's ``crop_pct``: the crop's share of the resized short side (1.0 without a crop)."""
    side = lambda v: v[0] if isinstance(v, (list, tuple)) else v  # noqa: E731
    resize, crop = side(resize), side(crop)
    if isinstance(resize, int) and isinstance(crop, int) and resize > 0:
        return round(crop / resize, 4)
    return 1.0


def _preprocess(model, img, bgr: bool = True):
    """``model.preprocess(img, bgr=True)``: a ``(1, 3, H, W)`` batch on the model's device."""
    import numpy as np  # lazy: numpy; importing minim.cls imports this module

    from minim.cls.apis.inference import preprocessor  # lazy: torch; importing minim.cls imports this module

    if hasattr(img, "convert") and hasattr(img, "size"):  # a PIL image
        img, bgr = np.asarray(img.convert("RGB")), False
    tensor = preprocessor(model)(img, bgr=bgr)
    return tensor.unsqueeze(0).to(next(model.parameters()).device)
