"""``init_model``, ``inference_model`` and ``show_result_pyplot`` (mmcls 0.x API).

Colour order: an image given as a numpy array is ``H x W x C`` uint8 in **BGR** order by
default, as mmcls (OpenCV) expects; pass ``bgr=False`` for RGB arrays (e.g. from PIL or
matplotlib). Image files are decoded by the test pipeline itself.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from minim.atomic import atomic_output
from minim.cls.apis.exported import ExportedModel, exported_kind, load_exported
from minim.cls.checkpoint import load_checkpoint
from minim.cls.datasets.imagenet_classes import imagenet_table
from minim.cls.datasets.pipelines.compose import Compose
from minim.cls.datasets.pipelines.loading import read_image, results_from_array
from minim.cls.engine.device import resolve_device
from minim.cls.engine.device_loader import BatchNormalizer
from minim.cls.models import build_classifier, num_classes_of
from minim.cls.plan.config import load_cls_config, weights_path
from minim.errors import ConfigError, MinimError
from minim.plotting import import_matplotlib


class ClassNamesWarning(UserWarning):
    """The checkpoint holds no class names: the model was given ImageNet's or ``class_<i>`` names."""


def class_names_for(meta: dict | None, num_classes: int) -> tuple[list[str], bool]:
    """(class names, found) from checkpoint meta: ``CLASSES`` (mmcls 0.x) or ``dataset_meta.classes`` (1.x).

    When absent: the ImageNet names if ``num_classes == 1000``, else ``class_<i>``.
    """
    meta = meta or {}
    classes = meta.get("CLASSES")
    if not classes:
        classes = (meta.get("dataset_meta") or {}).get("classes")
    if classes:
        return list(classes), True
    if num_classes == 1000:
        return list(imagenet_table()[1]), False
    return [f"class_{i}" for i in range(num_classes)], False


def init_model(config, checkpoint: str | None = None, device: Any = "cpu", options=None, *, strict: bool = False):
    """Build a classifier from ``config`` (file, index name/alias, dict or Config), load ``checkpoint``.

    ``checkpoint`` may be a path or URL (cached); class names come from its meta (``CLASSES`` or
    ``dataset_meta.classes``). Without them a warning is issued and ImageNet names are used for
    1000-class models, ``class_<i>`` otherwise. The model is in eval mode on ``device`` with
    ``model.cfg``, ``model.CLASSES`` and ``model.classes_from_checkpoint`` set. A head whose class
    count differs from the checkpoint's keeps fresh weights with a warning, or is an error if ``strict``.

    ``config`` may also be a model exported by minim (``.onnx`` or TorchScript ``.pt``), which describes
    itself: it comes back as an :class:`~minim.cls.apis.exported.ExportedModel` that
    :func:`inference_model` runs (no ``checkpoint`` or ``options`` then).
    """
    if exported_kind(config) is not None:
        if checkpoint is not None or options:
            raise ConfigError(f"{config} is an exported model with its own weights and preprocessing: "
                              "give no checkpoint or options")
        return load_exported(config, device)
    cfg, _entry = load_cls_config(config, options)
    if "model" not in cfg:
        raise ConfigError("config has no 'model'")
    if checkpoint is not None:
        _drop_pretrained(cfg)
    model = build_classifier(cfg.model)
    meta = None
    if checkpoint is not None:
        meta = load_checkpoint(model, weights_path(checkpoint), map_location="cpu", skip_mismatched_head=not strict)
    num_classes = num_classes_of(model)
    classes, found = class_names_for(meta, num_classes)
    if not found:
        what = "ImageNet names" if num_classes == 1000 else "class_<i> names"
        source = "the checkpoint's meta" if checkpoint is not None else "a checkpoint (none given)"
        warnings.warn(ClassNamesWarning(f"class names are not saved in {source}; using {what}"), stacklevel=2)
    model.CLASSES = classes
    model.classes_from_checkpoint = found
    model.cfg = cfg
    model.to(resolve_device(device) if not isinstance(device, torch.device) else device)
    model.eval()
    return model


def _drop_pretrained(cfg) -> None:
    """A checkpoint overwrites every weight: skip fetching pretrained weights (mmcls sets pretrained=None)."""
    model_cfg = cfg.model
    if "pretrained" in model_cfg:
        model_cfg.pretrained = None
    for part in ("backbone", "neck", "head"):
        sub = model_cfg.get(part)
        if isinstance(sub, dict) and isinstance(sub.get("init_cfg"), dict) and sub["init_cfg"].get("type") == "Pretrained":
            sub.init_cfg = None


def test_pipeline_of(cfg) -> list:
    """The steps of ``cfg.data.test.pipeline`` (dicts copied)."""
    try:
        steps = list(cfg.data.test.pipeline)
    except (AttributeError, KeyError):
        raise ConfigError("config has no data.test.pipeline (needed to preprocess images)") from None
    return [dict(s) if isinstance(s, dict) else s for s in steps]


class _Preprocessor:
    """A test pipeline (a config's, or an exported model's copy) for files and for arrays."""

    def __init__(self, steps: list):
        loads = [i for i, s in enumerate(steps) if isinstance(s, dict) and s.get("type") == "LoadImageFromFile"]
        file_steps = steps if loads else [dict(type="LoadImageFromFile")] + steps
        array_steps = [s for i, s in enumerate(steps) if i not in loads]
        self.for_file = Compose(file_steps)
        self.for_array = Compose(array_steps)
        load = file_steps[loads[0]] if loads else file_steps[0]
        #: arrays are decoded as the pipeline decodes files: 1-channel arrays become 3 in ``color`` mode
        self.color_type = load.get("color_type", "color") if isinstance(load, dict) else "color"

    def for_device(self) -> tuple["_Preprocessor", BatchNormalizer] | None:
        """``(preprocessor, normalizer)``: a copy handing over files' images before Normalize's arithmetic, and
        the batch step that finishes it with the same values (:meth:`Compose.for_device`); None when the
        pipeline does not allow it."""
        found = self.for_file.for_device()
        if found is None:
            return None
        pipeline, normalize = found
        view = copy.copy(self)
        view.for_file = pipeline
        return view, BatchNormalizer(normalize.mean, normalize.std)

    def __call__(self, img, bgr: bool = True):
        if isinstance(img, np.ndarray):
            _check_array(img)
            if self.color_type == "color" and (img.ndim == 2 or img.shape[2] == 1):
                img = np.repeat(img.reshape(*img.shape[:2], 1), 3, axis=2)  # grayscale, as a file would load
            data = self.for_array(results_from_array(img, bgr=bgr))
        else:
            path = Path(img).expanduser()
            if not path.is_file():
                raise MinimError(f"image {path} does not exist")
            data = self.for_file({"img_prefix": None, "img_info": {"filename": str(path)}})
        if data is None:
            raise MinimError("the test pipeline dropped the image")
        return data["img"]


def _check_array(img: np.ndarray) -> None:
    """An image array must be ``H x W`` or ``H x W x 3`` (or ``x 1``) uint8, as a decoded file is."""
    shape = tuple(img.shape)
    hint = None
    if img.dtype != np.uint8:
        hint = "scale it to 0-255 and convert: (img * 255).astype('uint8')" if img.dtype.kind == "f" else None
    elif img.ndim == 3 and shape[2] == 4:
        hint = "drop the alpha channel: img[:, :, :3]"
    elif img.ndim == 3 and shape[0] in (1, 3) and shape[2] not in (1, 3):
        hint = "it looks channels-first: img.transpose(1, 2, 0)"
    elif img.ndim in (2, 3) and (img.ndim == 2 or shape[2] in (1, 3)):
        return
    raise MinimError(f"an image array must be H x W x 3 (or H x W) uint8, got {img.dtype} with shape {shape}",
                     hint=hint)


def preprocessor(model) -> _Preprocessor:
    """The cached test-pipeline preprocessor of ``model``."""
    pre = getattr(model, "_minim_preprocessor", None)
    if pre is None or pre.cfg_id != id(model.cfg):
        pre = _Preprocessor(test_pipeline_of(model.cfg))
        pre.cfg_id = id(model.cfg)
        model._minim_preprocessor = pre
    return pre


def inference_model(model, img, bgr: bool = True) -> dict[str, Any]:
    """Classify one image: a file path, or an ``H x W x C`` uint8 array (BGR unless ``bgr=False``).

    ``model`` comes from :func:`init_model`: a classifier, or an exported ``.onnx`` / TorchScript model.
    Returns ``{'pred_label': int, 'pred_score': float, 'pred_class': str, 'scores': list[float]}``.
    Many files: :func:`minim.cls.apis.batch_inference.inference_files` classifies them in batches.
    """
    tensor = model.preprocess(img, bgr=bgr) if isinstance(model, ExportedModel) else preprocessor(model)(img, bgr=bgr)
    return result_of(model, batch_scores(model, tensor.unsqueeze(0))[0])


def batch_scores(model, batch):
    """Softmax scores (``N x classes`` float tensor on the CPU) of a preprocessed ``N x C x H x W`` batch."""
    if isinstance(model, ExportedModel):
        return model.batch_scores(batch)
    device = next(model.parameters()).device
    with torch.inference_mode():
        return as_scores(model.forward_test(batch.to(device, non_blocking=True)))


def as_scores(output) -> torch.Tensor:
    """A classifier's ``forward_test`` output (a tensor, or a list of per-image rows) as ``N x classes`` float
    scores on the CPU."""
    if isinstance(output, (list, tuple)):
        output = torch.as_tensor(np.stack([np.asarray(s) for s in output]))
    return output.float().cpu()


def result_of(model, row) -> dict[str, Any]:
    """``inference_model``'s dict for one image's row of scores."""
    label = int(row.argmax())
    classes = getattr(model, "CLASSES", None) or [f"class_{i}" for i in range(len(row))]
    return {"pred_label": label, "pred_score": float(row[label]), "pred_class": str(classes[label]), "scores": row.tolist()}


def load_rgb(img, bgr: bool = True) -> np.ndarray:
    """An ``H x W x 3`` RGB uint8 array from a path or an array (BGR arrays flipped)."""
    if isinstance(img, np.ndarray):
        array = img if img.ndim == 3 else np.repeat(img[:, :, None], 3, axis=2)
        if array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        return np.ascontiguousarray(array[:, :, ::-1] if bgr else array)
    # the decoding the model sees: EXIF orientation applied, 16-bit grayscale scaled to 8 bits
    return np.ascontiguousarray(read_image(Path(img).expanduser(), "color").permute(1, 2, 0).numpy())


def show_result_pyplot(model, img, result: dict, fig_size=(15, 10), title: str = "result", wait_time: float = 0, *,
                       out_file: str | None = None, bgr: bool = True):
    """Draw ``result``'s pred_label/pred_score/pred_class over the image with matplotlib (mmcls's signature).

    The window stays until closed (``wait_time=0``) or for ``wait_time`` seconds. With ``out_file`` the
    figure is saved as a PNG instead and no window opens; the path is returned. Needs matplotlib
    (``pip install 'minim[plot]'``).
    """
    import_matplotlib()
    rgb = load_rgb(img, bgr=bgr)
    lines = [f"{key}: {result[key]:.4f}" if isinstance(result[key], float) else f"{key}: {result[key]}"
             for key in ("pred_label", "pred_score", "pred_class") if key in result]
    if out_file is not None:
        from matplotlib.figure import Figure  # lazy: optional package (minim[plot])

        figure = Figure(figsize=fig_size)
        _draw(figure.add_subplot(), rgb, lines, title)
        out = Path(out_file)
        with atomic_output(out, suffix=".png") as tmp:
            figure.savefig(tmp, format="png", bbox_inches="tight")
        return str(out)
    import matplotlib.pyplot as plt  # lazy: optional package (minim[plot])

    figure = plt.figure(figsize=fig_size)
    _draw(figure.add_subplot(), rgb, lines, title)
    if wait_time > 0:
        plt.show(block=False)
        plt.pause(wait_time)
        plt.close(figure)
    else:
        plt.show()
    return None


def _draw(axes, rgb: np.ndarray, lines: list[str], title: str) -> None:
    axes.imshow(rgb, interpolation="nearest")
    axes.set_title(title)
    axes.axis("off")
    axes.text(
        0.01, 0.99, "\n".join(lines), transform=axes.transAxes, va="top", ha="left", color="white", fontsize=14,
        bbox=dict(facecolor="black", alpha=0.6, edgecolor="none"),
    )


def annotate_image(img, result: dict, out_file: str | Path, min_side: int = 256, bgr: bool = True) -> Path:
    """Save the image (RGB, correct colours) with ``pred_class`` and ``pred_score`` written on it (PIL).

    Small images are enlarged (nearest neighbour) to at least ``min_side`` pixels so the text fits.
    """
    image = Image.fromarray(load_rgb(img, bgr=bgr))
    short = min(image.size)
    if short < min_side:
        factor = -(-min_side // short)
        image = image.resize((image.width * factor, image.height * factor), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    text = f"{result['pred_class']} ({result['pred_score'] * 100:.1f}%)"
    size = max(12, image.height // 16)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    box = draw.textbbox((4, 4), text, font=font)
    draw.rectangle((0, 0, box[2] + 4, box[3] + 4), fill=(0, 0, 0))
    draw.text((4, 4), text, fill=(255, 255, 255), font=font)
    out = Path(out_file)
    with atomic_output(out) as tmp:
        image.save(tmp, format=_format_for(out))
    return out


def _format_for(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}.get(suffix, "PNG")
