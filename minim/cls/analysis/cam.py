"""Grad-CAM heat maps for any classifier: CNNs, and transformers whose layers output token sequences.

Grad-CAM (Selvaraju et al., 2017) weighs each channel of a layer's activation ``A`` by the mean gradient of
the target class's logit over the positions, sums the channels and keeps the positive part:
``relu(sum_c mean(dlogit/dA_c) * A_c)``, scaled to 0..1 and upsampled to the model's input.

Activations of any layout become an ``(N, C, h, w)`` map (:func:`activation_map`): feature maps as they
are (channels-last ``(N, h, w, C)`` maps are recognised by their shape), token sequences ``(N, L, C)``
without their class/distillation tokens, laid out on the grid of the input's aspect ratio.

The layer is chosen per architecture: a backbone declares ``cam_target_layer`` (a module path inside the
backbone, or a method returning one) next to its code: the ViT family (ViT, DeiT, T2T-ViT, TNT) its last
layer's pre-attention norm (the patch tokens the class token attends to; after the last layer they no longer
reach the head), Swin its last normed stage, Conformer its CNN branch. Otherwise the last backbone module to
finish with a spatial output (a map larger than 1x1, or more than one token) that the logit depends on is
used: a CNN's last stage. ``scripts/check_cam_families.py`` runs it on a small model of every family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from minim.atomic import atomic_output
from minim.cls.apis.inference import _Preprocessor, preprocessor, test_pipeline_of
from minim.cls.image_files import image_targets
from minim.errors import MinimError, UsageError
from minim.suggest import close_matches

#: how much of the heat map shows over the image
OVERLAY_ALPHA = 0.5


@dataclass
class CamResult:
    """One image's Grad-CAM: the heat map over the image the model saw."""

    image: np.ndarray  #: H x W x 3 uint8 RGB, the test pipeline's output before normalisation
    heatmap: np.ndarray  #: H x W float32 in 0..1
    target_class: int
    class_name: str
    score: float  #: the target class's softmax score
    target_layer: str


# ----------------------------------------------------------------------------- target layers
def resolve_target_layer(model, name: str) -> str:
    """The canonical module path of ``name`` in ``model`` (negative list indices as in mmcls's vis_cam:
    ``backbone.layers.-1.ln1``); an unknown name raises a one-line error listing a few choices."""
    module = model
    for part in name.split("."):
        child = module._modules.get(part)
        if child is None and isinstance(module, (nn.Sequential, nn.ModuleList)) and part.lstrip("-").isdigit():
            if -len(module) <= int(part) < len(module):
                child = module[int(part)]
        if child is None:
            raise _unknown_layer(model, name)
        module = child
    return next(path for path, candidate in model.named_modules() if candidate is module)


def _unknown_layer(model, name: str) -> UsageError:
    names = [path for path, _ in model.named_modules() if path]
    near = close_matches(name, names, n=3, cutoff=0.6)
    top = [path for path in names if path.count(".") == 1 and path.startswith("backbone.")]
    shown = ", ".join(near or top[-6:])
    return UsageError(f"unknown target layer {name!r}; {'did you mean' if near else 'layers include'} {shown} "
                      f"({len(names)} layers in all: print(model) shows them)")


def declared_target_layer(model) -> str | None:
    """``backbone.<path>`` from the backbone's ``cam_target_layer`` (attribute or method), if it declares one."""
    declared = getattr(model.backbone, "cam_target_layer", None)
    if callable(declared):
        declared = declared()
    return None if declared is None else resolve_target_layer(model, f"backbone.{declared}")


def _spatial_tensors(output, input_hw: Sequence[int]) -> list:
    """The floating-point tensors of a module's output (nested tuples/lists flattened: ViT's
    ``[patch_map, cls_token]``, HRNet's branches) that hold more than one position."""
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in _spatial_tensors(item, input_hw)]
    if not isinstance(output, torch.Tensor) or not output.is_floating_point() or output.dim() not in (3, 4):
        return []
    if output.dim() == 3:
        return [output] if output.shape[1] > 1 else []
    h, w = activation_map(output, input_hw).shape[2:]
    return [output] if h * w > 1 else []


# ----------------------------------------------------------------------------- layouts
def activation_map(x, input_hw: Sequence[int], extra_tokens: int = 0):
    """``x`` as an ``(N, C, h, w)`` map: NCHW as it is, NHWC permuted, tokens ``(N, L, C)`` without the first
    ``extra_tokens`` (class/distillation; dropped only when the rest fits a grid) laid out on a grid of the
    input's aspect ratio. A 4-d tensor is channels-last when its dims 1, 2 fit the input's aspect ratio
    better than its dims 2, 3."""
    ratio = input_hw[0] / input_hw[1]
    if x.dim() == 4:
        channels_last = _misfit(x.shape[1], x.shape[2], ratio) < _misfit(x.shape[2], x.shape[3], ratio)
        return x.permute(0, 3, 1, 2) if channels_last else x
    if x.dim() != 3:
        raise MinimError(f"the target layer outputs a {x.dim()}-d tensor; Grad-CAM needs a map or tokens",
                         hint="choose another --target-layer")
    best = None
    for extra in dict.fromkeys((extra_tokens, 0)):
        grid = _grid(x.shape[1] - extra, ratio)
        if grid is not None and (best is None or _error(grid, ratio) < _error(best[1], ratio)):
            best = (extra, grid)
    if best is None:
        raise MinimError(f"cannot lay {x.shape[1]} tokens out on a grid", hint="choose another --target-layer")
    extra, (h, w) = best
    return x[:, extra:].transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)


def _misfit(h: int, w: int, ratio: float) -> float:
    """How far an ``h x w`` map is from the input's aspect ratio (``h / w``), in map columns."""
    return abs(w - h / ratio)


def _error(grid: tuple[int, int], ratio: float) -> float:
    return abs(math.log(grid[0] / grid[1]) - math.log(ratio))


def _grid(count: int, ratio: float) -> tuple[int, int] | None:
    """``(h, w)`` with ``h * w == count`` closest to the aspect ratio ``h / w = ratio``."""
    if count < 1:
        return None
    pairs = [(h, count // h) for h in range(1, count + 1) if count % h == 0]
    return min(pairs, key=lambda grid: _error(grid, ratio))


# ----------------------------------------------------------------------------- Grad-CAM
def grad_cam(model, tensor, target_layer: str | None = None, target_class: int | None = None):
    """``(heatmap (H, W) in 0..1 at the input's size, layer, target class, its softmax score)`` for one
    preprocessed image ``tensor`` (C, H, W); the predicted class when ``target_class`` is None.

    Without ``target_layer``, the last backbone module to finish with a spatial output the logit depends on.
    """
    size = tuple(tensor.shape[-2:])
    if target_layer is None:
        modules = [(f"backbone.{path}", m) for path, m in model.backbone.named_modules() if path]
    else:
        modules = [(target_layer, model.get_submodule(target_layer))]
    outputs: list[tuple[str, Any]] = []  # (layer, activation) in the order the modules finish

    def keeper(path: str):
        def keep(_module, _inputs, output) -> None:  # returning None leaves the output alone
            outputs.extend((path, t) for t in _spatial_tensors(output, size) if t.requires_grad)
        return keep

    handles = [module.register_forward_hook(keeper(path)) for path, module in modules]
    batch = tensor.unsqueeze(0).to(next(model.parameters()).device).requires_grad_(True)
    try:
        with torch.enable_grad():
            logits = model(batch)
            label = int(logits[0].argmax()) if target_class is None else target_class
            gradients = torch.autograd.grad(logits[0, label], [t for _, t in outputs], allow_unused=True) \
                if outputs else []
    finally:
        for handle in handles:
            handle.remove()
    used = [(path, act, grad) for (path, act), grad in zip(outputs, gradients) if grad is not None]
    if not used:
        where = f"target layer {target_layer!r}" if target_layer else "the backbone"
        raise MinimError(f"{where} outputs no map of more than one position that the logit depends on",
                         hint="choose another --target-layer, or a larger input")
    layer, activation, gradient = used[-1]
    extra = int(getattr(model.backbone, "num_extra_tokens", 0))
    acts = activation_map(activation.detach(), size, extra).float()
    grads = activation_map(gradient, size, extra).float()
    cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * acts).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[0, 0]
    cam = cam - cam.min()
    peak = float(cam.max())
    heatmap = (cam / peak if peak > 0 else cam).cpu().numpy().astype(np.float32)
    score = float(torch.softmax(logits[0].detach().float(), dim=0)[label])
    return heatmap, layer, label, score


def class_index(model, target_class: Any) -> int | None:
    """``--target-class``: a class index or a class name of ``model.CLASSES`` (None: the predicted class)."""
    if target_class is None:
        return None
    classes = [str(c) for c in getattr(model, "CLASSES", None) or []]
    text = str(target_class)
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < model.num_classes:
            raise UsageError(f"--target-class {index} is out of range: the model has {model.num_classes} classes "
                             f"(0..{model.num_classes - 1})")
        return index
    if text in classes:
        return classes.index(text)
    near = close_matches(text, classes, n=3)
    raise UsageError(f"--target-class {text!r} is not a class of the model",
                     hint=f"did you mean {' or '.join(map(repr, near))}?" if near else "give a class index")


def display_image(model, img) -> np.ndarray:
    """The image as the model sees it (test pipeline: resize, crop) before normalisation, H x W x 3 RGB uint8."""
    steps, bgr_out = [], False
    for step in test_pipeline_of(model.cfg):
        if isinstance(step, dict) and step.get("type") == "Normalize":
            bgr_out = not step.get("to_rgb", True)  # minim decodes RGB: to_rgb=False hands the model BGR
            step.update(mean=[0.0] * len(step["mean"]), std=[1.0] * len(step["std"]))
        steps.append(step)
    tensor = _Preprocessor(steps)(img)
    array = tensor.float().clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array[:, :, ::-1] if bgr_out else array)


def compute_cam(model, img, target_layer: str | None = None, target_class: Any = None) -> CamResult:
    """Grad-CAM of one image (path or H x W x 3 BGR uint8 array) for ``model`` (from ``init_model``)."""
    tensor = preprocessor(model)(img)
    layer = declared_target_layer(model) if target_layer is None else resolve_target_layer(model, target_layer)
    heatmap, layer, label, score = grad_cam(model, tensor, layer, class_index(model, target_class))
    classes = getattr(model, "CLASSES", None) or []
    name = str(classes[label]) if label < len(classes) else f"class_{label}"
    return CamResult(display_image(model, img), heatmap, label, name, score, layer)


def overlay(result: CamResult, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """The heat map (jet colours) blended over the image, H x W x 3 RGB uint8."""
    heat = cv2.applyColorMap(np.uint8(np.round(result.heatmap * 255)), cv2.COLORMAP_JET)[:, :, ::-1]
    image = result.image
    if heat.shape[:2] != image.shape[:2]:
        heat = cv2.resize(heat, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.uint8(np.round((1 - alpha) * image + alpha * heat))


def save_overlay(result: CamResult, out_file: str | Path) -> Path:
    """Write :func:`overlay` as a PNG (atomically)."""
    out = Path(out_file)
    with atomic_output(out, suffix=".png") as tmp:
        Image.fromarray(overlay(result)).save(tmp, format="PNG")
    return out


def cam_files(model, images: Sequence[str], out_dir: str | Path, target_layer: str | None = None,
              target_class: Any = None) -> list[tuple[Path, Path, CamResult]]:
    """Grad-CAM overlays of image files and folders (searched recursively) written under ``out_dir`` as
    ``<name>_cam.png`` (at the image's path inside a folder given); ``(image, png, result)`` per image."""
    written = []
    for file, target in image_targets(images):
        result = compute_cam(model, str(file), target_layer, target_class)
        target_layer = result.target_layer  # every image uses the first one's layer
        out = Path(out_dir) / target.with_name(f"{target.stem}_cam.png")
        written.append((file, save_overlay(result, out), result))
    return written
