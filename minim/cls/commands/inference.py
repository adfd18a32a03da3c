"""``minim infer cls``: the top-k classes of images and folders of images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from minim.cls.commands.common import warn
from minim.cls.commands.render import print_predictions
from minim.cls.image_files import image_targets
from minim.cls.plan.checkpoints import checkpoint_for
from minim.errors import DataError, UsageError


def _load_model(config, images, checkpoint, device, cfg_options, console):
    """``(model, image files)``: the exported model, or the config's classifier with its checkpoint."""
    import warnings

    from minim.cls.apis.exported import exported_kind, load_exported
    from minim.cls.apis.inference import init_model
    from minim.cls.engine.device import resolve_device
    from minim.cls.plan.config import load_cls_config

    if exported_kind(config) is not None:
        for option, value in (("--checkpoint", checkpoint), ("--cfg-options", cfg_options)):
            if value:
                raise UsageError(f"{option} does not apply to {config}: an exported model holds its weights and "
                                 "preprocessing")
        return load_exported(config, device), image_targets(images)
    cfg, entry = load_cls_config(config, list(cfg_options))
    for warning in cfg.warnings:
        warn(warning, console)
    files = image_targets(images)
    path = checkpoint_for(checkpoint, entry, "infer")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = init_model(cfg, path, device=resolve_device(device), strict=True)
    for item in caught:
        warn(str(item.message), console)
    return model, files


def infer(
    config,
    images: Sequence[str],
    checkpoint: str | None = None,
    *,
    topk: int = 5,
    device: str | None = None,
    as_json: bool = False,
    show_dir: str | None = None,
    cfg_options: Sequence[str] = (),
    batch_size: int | None = None,
    console: bool = True,
) -> list[dict[str, Any]]:
    """``minim infer cls CONFIG IMAGE_OR_DIR...``: top-k classes of each image, ``batch_size`` images per forward
    pass (None: the size measured fastest, at most 32). CONFIG may be a model exported by minim (``.onnx``, TorchScript ``.pt``), which needs no config or
    checkpoint."""
    from minim.cls.apis.batch_inference import inference_files
    from minim.cls.apis.inference import annotate_image

    if topk < 1:
        raise UsageError(f"--topk must be >= 1, got {topk}")
    if not images:
        raise UsageError("give at least one image or folder")
    model, files = _load_model(config, images, checkpoint, device, cfg_options, console)
    results, unreadable = [], []
    for position, result in inference_files(model, [file for file, _ in files], batch_size):
        file, target = files[position]
        if isinstance(result, DataError):  # one bad file does not cost the others their predictions
            unreadable.append(str(file))
            warn(f"skipped: {result}", console)
            continue
        order = sorted(range(len(result["scores"])), key=lambda i: -result["scores"][i])[:topk]
        entry_out = {
            "file": str(file),
            "pred_label": result["pred_label"],
            "pred_score": result["pred_score"],
            "pred_class": result["pred_class"],
            "topk": [{"label": i, "class": str(model.CLASSES[i]), "score": result["scores"][i]} for i in order],
        }
        if show_dir is not None:
            entry_out["shown"] = str(annotate_image(file, result, Path(show_dir) / target))
        results.append(entry_out)
    if unreadable and not results:
        raise DataError(f"none of the {len(unreadable)} image(s) could be read")
    if console:
        if as_json:
            print(json.dumps(results, indent=2))
        else:
            print_predictions(results)
    return results
