"""``minim infer cls``: the top-k classes of images and folders of images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from minim.cls.commands.common import checkpoint_for, warn
from minim.cls.commands.render import print_predictions
from minim.errors import DataError, UsageError



def collect_images(inputs: Sequence[str]) -> list[Path]:
    """Files given directly, plus the image files below each folder (recursively, sorted; hidden files and
    folders such as ``.ipynb_checkpoints`` or macOS ``._x.jpg`` skipped, as the datasets skip them)."""
    return [file for file, _ in _collect(inputs)]


def _collect(inputs: Sequence[str]) -> list[tuple[Path, Path]]:
    """``(file, where its annotated copy goes below --show-dir)`` per image: its path inside the folder
    given (under the folder's name when several inputs were given), or its name for a file given."""
    from minim.cls.datasets.custom import IMG_EXTENSIONS, find_images

    found: list[tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            names = find_images(str(path), IMG_EXTENSIONS)
            if not names:
                raise DataError(f"{path} holds no image ({', '.join(IMG_EXTENSIONS)})")
            base = Path(path.resolve().name) if len(inputs) > 1 else Path()
            found.extend((path / name, base / name) for name in names)
        elif path.is_file():
            found.append((path, Path(path.name)))
        else:
            raise DataError(f"image {path} does not exist")
    return _unique_targets(found)


def _unique_targets(found: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Make clashing show-dir targets distinct (``x.jpg``, ``x_2.jpg``, ...), keeping the first as it is."""
    seen: set[Path] = set()
    unique = []
    for file, target in found:
        candidate, n = target, 1
        while candidate in seen:
            n += 1
            candidate = target.with_name(f"{target.stem}_{n}{target.suffix}")
        seen.add(candidate)
        unique.append((file, candidate))
    return unique


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
    files = _collect(images)
    path = checkpoint_for(checkpoint, entry, "infer")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = init_model(cfg, path, device=resolve_device(device), strict=True)
    for item in caught:
        warn(str(item.message), console)
    results, unreadable = [], []
    for file, target in files:
        try:
            result = inference_model(model, str(file))
        except DataError as exc:  # one bad file does not cost the others their predictions
            unreadable.append(str(file))
            warn(f"skipped: {exc}", console)
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
