"""Resizing with mmcv's two backends, pixel for pixel: OpenCV's ``cv2.resize`` (``backend='cv2'``,
mmcls's default) and Pillow's ``Image.resize`` (``backend='pillow'``).

Both run on the ``H x W x C`` array that mmcls would hold, so the pixels are ``mmcv.imresize``'s:
cv2 does not anti-alias downscales and rounds through its fixed-point uint8 arithmetic; Pillow
anti-aliases (as torchvision's PIL-based recipes do). Each channel is resized on its own, so the
RGB tensor gives the same pixels as mmcls's BGR array (Pillow premultiplies the alpha of 4-channel
images; alpha is the last channel in both orders).

OpenCV (``opencv-python-headless``, what mmcls itself used) is imported on first use: measured on
natural images, torch's bilinear kernel is one grey level off on ~12% of the pixels of a cv2
resize and no float kernel reproduces cv2's ``area`` or ``lanczos``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch
from PIL import Image

from minim.errors import BuildError, DataError

BACKENDS = ("cv2", "pillow")
CV2_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "area", "lanczos")
PILLOW_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "box", "lanczos", "hamming")


def check_backend(backend: str) -> str:
    """``backend`` if it is one of mmcv's resize backends."""
    if backend not in BACKENDS:
        raise BuildError(f"backend must be 'cv2' or 'pillow', got {backend!r}")
    return backend


def check_interpolation(interpolation: str, backend: str, choices: tuple[str, ...] | None = None) -> str:
    """``interpolation`` if ``backend`` offers it (``choices`` narrows the names, as some mmcls steps do)."""
    offered = CV2_INTERPOLATIONS if backend == "cv2" else PILLOW_INTERPOLATIONS
    allowed = tuple(name for name in offered if choices is None or name in choices)
    if interpolation not in allowed:
        raise BuildError(
            f"interpolation {interpolation!r} is not offered with backend={backend!r}; use one of {', '.join(allowed)}"
        )
    if backend == "cv2":
        cv2_module()
    return interpolation


@lru_cache(maxsize=None)
def cv2_module() -> Any:
    """OpenCV, imported on first use (a typed error naming the package when it is missing).

    Its own thread pool is turned off, as mmcls's tools do (``opencv_num_threads=0``): the data loader's
    worker processes are the parallelism, and the pixels do not depend on it.
    """
    try:
        import cv2  # lazy: a broken OpenCV install fails only backend='cv2', with the fix
    except ImportError:
        raise BuildError(
            "backend='cv2' (mmcls's default resize) needs OpenCV: pip install opencv-python-headless "
            "(a dependency of minim), or set backend='pillow' in the pipeline step"
        ) from None
    cv2.setNumThreads(0)
    return cv2


def cv2_flag(interpolation: str) -> int:
    """OpenCV's interpolation flag for an mmcv interpolation name (as ``mmcv.cv2_interp_codes``)."""
    cv2 = cv2_module()
    flags = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
             "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}
    return flags[interpolation]


def _hwc_array(img: torch.Tensor) -> np.ndarray:
    """The ``H x W x C`` (``H x W`` for one channel) array of a ``C x H x W`` tensor, without copying when possible."""
    array = img.detach().cpu().permute(1, 2, 0).numpy()
    if array.shape[2] == 1:
        array = array[:, :, 0]
    return np.ascontiguousarray(array)


def _chw_tensor(array: np.ndarray) -> torch.Tensor:
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1)


def resize(img: torch.Tensor, height: int, width: int, interpolation: str = "bilinear", backend: str = "cv2") -> torch.Tensor:
    """``img`` (``C x H x W``) resized to ``height x width`` as ``mmcv.imresize`` does with ``backend``."""
    if height <= 0 or width <= 0:
        raise DataError(f"cannot resize an image to {height}x{width} pixels")
    array = _hwc_array(img)
    if backend == "cv2":
        resized = cv2_module().resize(array, (int(width), int(height)), interpolation=cv2_flag(interpolation))
        return _chw_tensor(resized)
    if array.dtype != np.uint8:
        raise DataError(f"backend='pillow' resizes uint8 images only (as mmcv), got {array.dtype}; "
                        "use backend='cv2' or resize before converting to float")
    filters = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC, "box": Image.Resampling.BOX,
               "lanczos": Image.Resampling.LANCZOS, "hamming": Image.Resampling.HAMMING}
    resized = Image.fromarray(array).resize((int(width), int(height)), filters[interpolation])
    return _chw_tensor(np.array(resized))
