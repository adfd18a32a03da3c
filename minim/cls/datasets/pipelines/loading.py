"""Image decoding and ``LoadImageFromFile``.

Decoding uses Pillow (torchvision's own ``torchvision.io`` decoders are deprecated since 0.29):
the decoded ``H x W x C`` array is exposed as a ``C x H x W`` view without copying, which makes it
as fast as ``torchvision.io.decode_jpeg`` on JPEGs. Images come out as uint8 RGB tensors (see
:mod:`._image` for how mmcls's BGR convention is honoured).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from minim.errors import BuildError, DataError
from minim.cls.datasets.pipelines._image import hwc_shape
from minim.cls.datasets.pipelines.compose import Transform
from minim.cls.datasets.registry import PIPELINES

COLOR_TYPES = ("color", "grayscale", "unchanged")
_KEPT_MODES = ("L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I;16L")


def read_image(path: str | os.PathLike, color_type: str = "color") -> torch.Tensor:
    """Decode an image file into a uint8 ``C x H x W`` tensor (RGB for ``color``, 1 channel for ``grayscale``).

    EXIF orientation is applied and colour files become grey with OpenCV's weights and rounding, as mmcv's
    ``imread`` does. Unreadable files raise :class:`DataError` naming the path.
    """
    path = os.fspath(path)
    if color_type not in COLOR_TYPES:
        raise BuildError(f"color_type must be one of {', '.join(COLOR_TYPES)}, got {color_type!r}")
    try:
        with Image.open(path) as image:
            if color_type == "grayscale" and image.format == "JPEG" and image.mode == "RGB":
                image.draft("L", image.size)  # libjpeg's own luma, as OpenCV decodes grey JPEGs
            ImageOps.exif_transpose(image, in_place=True)
            array = np.asarray(_convert(image, color_type))
    except UnidentifiedImageError as exc:
        empty = os.path.getsize(path) == 0 if os.path.exists(path) else False
        why = "the file is empty (0 bytes)" if empty else "not an image file Pillow can read"
        raise DataError(f"cannot decode image {path}: {why}") from exc
    except FileNotFoundError as exc:
        raise DataError(f"cannot read image {path}: no such file") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot decode image {path}: {exc}") from exc
    if array.ndim == 2:
        array = array[:, :, None]
    if array.dtype != np.uint8:
        if array.dtype.kind not in "ui":
            raise DataError(f"cannot decode image {path}: unsupported pixel type {array.dtype}")
        array = (array.astype(np.uint16) >> 8).astype(np.uint8)
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array).permute(2, 0, 1)


def _convert(image: Any, color_type: str) -> Any:
    if color_type != "unchanged":
        image = _eight_bit(image)
    if color_type == "color":
        return image if image.mode == "RGB" else image.convert("RGB")
    if color_type == "grayscale":
        return image if image.mode == "L" else _opencv_gray(image)
    if image.mode in _KEPT_MODES:
        return image
    return image.convert("RGBA" if "transparency" in image.info else "RGB")


@lru_cache(maxsize=None)
def _identity_norm_cfg(channels: int) -> dict:
    """mmcls's identity ``img_norm_cfg``, one shared (read-only) dict per channel count."""
    return dict(mean=np.zeros(channels, dtype=np.float32), std=np.ones(channels, dtype=np.float32), to_rgb=False)


def results_from_array(img: np.ndarray, bgr: bool = True, filename: str | None = None) -> dict:
    """Pipeline results for an in-memory ``H x W x C`` uint8 array: BGR (mmcls's inference input, OpenCV's
    order) or, with ``bgr=False``, RGB. Either way the results equal those of the same picture read from
    a file: an RGB tensor that mmcls would hold as BGR, so ``Normalize`` treats both alike."""
    if img.ndim == 2:
        img = img[:, :, None]
    if bgr and img.shape[2] == 3:
        img = img[:, :, ::-1]
    tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    shape = hwc_shape(tensor)
    return {
        "filename": filename,
        "ori_filename": filename,
        "img": tensor,
        "img_shape": shape,
        "ori_shape": shape,
        "img_norm_cfg": _identity_norm_cfg(shape[2]),
        "channel_order": "rgb",
        "mmcls_order": "bgr",
    }


@PIPELINES.register()
class LoadImageFromFile(Transform):
    """Decode ``img_prefix/img_info.filename`` (mmcls keys) into ``results['img']``.

    Sets ``filename``, ``ori_filename``, ``img``, ``img_shape``, ``ori_shape`` (``(h, w, c)`` as mmcls)
    and an identity ``img_norm_cfg``. The tensor is RGB; mmcls's BGR is emulated (see ``Normalize``).
    """

    cacheable = True

    def __init__(self, to_float32: bool = False, color_type: str = "color", file_client_args: Any = None):
        if color_type not in COLOR_TYPES:
            raise BuildError(f"color_type must be one of {', '.join(COLOR_TYPES)}, got {color_type!r}")
        backend = (file_client_args or {}).get("backend", "disk")
        if backend != "disk":
            raise BuildError(f"file_client_args backend {backend!r} is not supported; minim reads local files only")
        self.to_float32 = to_float32
        self.color_type = color_type

    def __call__(self, results: dict) -> dict:
        prefix = results.get("img_prefix")
        relative = results["img_info"]["filename"]
        filename = os.path.join(prefix, relative) if prefix is not None else relative
        img = read_image(filename, self.color_type)
        if self.to_float32:
            img = img.float()
        shape = hwc_shape(img)
        results.update(
            filename=filename,
            ori_filename=relative,
            img=img,
            img_shape=shape,
            ori_shape=shape,
            img_norm_cfg=_identity_norm_cfg(shape[2]),
            channel_order="rgb",
            mmcls_order="bgr",
        )
        return results


#: OpenCV's colour-to-grey weights: libpng's fixed point (PNG, truncated) and cvtColor's (others, rounded)
_PNG_GRAY = ((9797, 19234, 3737), 15, 0)
_CVT_GRAY = ((4899, 9617, 1868), 14, 1 << 13)


def _opencv_gray(image: Any) -> Any:
    """A colour image as OpenCV's ``IMREAD_GRAYSCALE`` gives it (Pillow's ``convert('L')`` is one level off on
    about half of a PNG's pixels): PNGs through libpng's integer weights, WebP through Pillow's (which are
    OpenCV's there), other formats through ``cvtColor``'s."""
    if image.format == "WEBP":
        return image.convert("L")
    weights, shift, rounding = _PNG_GRAY if image.format == "PNG" else _CVT_GRAY
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    gray = (rgb @ np.array(weights, dtype=np.uint32) + rounding) >> shift
    return Image.fromarray(gray.astype(np.uint8), mode="L")


def _eight_bit(image: Any) -> Any:
    """16-bit grayscale (``I;16*``, or ``I`` as older Pillow opens 16-bit PNGs) as 8-bit ``L``: the high byte,
    as OpenCV keeps it; Pillow's own ``convert`` would clip every value above 255 to white."""
    if not (image.mode.startswith("I;16") or image.mode == "I"):
        return image
    array = np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
    return Image.fromarray((array >> 8).astype(np.uint8), mode="L")

