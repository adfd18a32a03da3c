"""``minim infer cls``: the top-k classes of images and folders of images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from minim.cls.commands.common import checkpoint_for, warn
from minim.cls.commands.render import print_predictions
from minim.errors import DataError, UsageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def collect_images(inputs: Sequence[str]) -> list[Path]:
    """Files given directly, plus image files found recursively in folders (sorted)."""
    images: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise DataError(f"{path} holds no image ({', '.join(IMAGE_EXTENSIONS)})")
            images.extend(found)
        elif path.is_file():
            images.append(path)
        else:
            raise DataError(f"image {path} does not exist")
    return images


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
    console: bool = True,
) -> list[dict[str, Any]]:
    """``minim infer cls CONFIG IMAGE_OR_DIR...``: top-k classes of each image."""
    from minim.cls.apis.config_source import load_cls_config
    from minim.cls.apis.inference import annotate_image, inference_model, init_model
    from minim.cls.engine.device import resolve_device

    if topk < 1:
        raise UsageError(f"--topk must be >= 1, got {topk}")
    if not images:
        raise UsageError("give at least one image or folder")
    cfg, entry = load_cls_config(config, list(cfg_options))
    for warning in cfg.warnings:
        warn(warning, console)
    files = collect_images(images)
    path = checkpoint_for(checkpoint, entry, "infer")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = init_model(cfg, path, device=resolve_device(device), strict=True)
    for item in caught:
        warn(str(item.message), console)
    results = []
    for file in files:
        result = inference_model(model, str(file))
        order = sorted(range(len(result["scores"])), key=lambda i: -result["scores"][i])[:topk]
        entry_out = {
            "file": str(file),
            "pred_label": result["pred_label"],
            "pred_score": result["pred_score"],
            "pred_class": result["pred_class"],
            "topk": [{"label": i, "class": str(model.CLASSES[i]), "score": result["scores"][i]} for i in order],
        }
        if show_dir is not None:
            entry_out["shown"] = str(annotate_image(file, result, _show_path(Path(show_dir), file, files)))
        results.append(entry_out)
    if console:
        if as_json:
            print(json.dumps(results, indent=2))
        else:
            print_predictions(results)
    return results


def _show_path(show_dir: Path, file: Path, files: Sequence[Path]) -> Path:
    """``show_dir/<name>``, or ``show_dir/<folder>_<name>`` for every file when names collide."""
    names = [f.name for f in files]
    if len(set(names)) == len(names):
        return show_dir / file.name
    return show_dir / f"{file.parent.name}_{file.name}"
