"""Small helpers shared by the transforms: image layout, sizes, interpolation, channel order.

Images travel through minim's pipelines as uint8 ``C x H x W`` torch tensors in RGB order.
mmcls 0.x held ``H x W x C`` BGR arrays after ``LoadImageFromFile`` (RGB for CIFAR arrays), and
configs give per-channel values (``pad_val``, ``fill_color``, ``mean``/``std``) in *that* order.
Two result keys keep the two views apart:

- ``channel_order``: the order the tensor in ``results['img']`` really has (``'rgb'`` until
  ``Normalize`` decides otherwise);
- ``mmcls_order``: the order mmcls would hold at the same point (``'bgr'`` after
  ``LoadImageFromFile``, ``'rgb'`` for CIFAR), used to read per-channel config values.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torchvision.transforms import InterpolationMode

from minim.errors import BuildError, DataError

_INTERPOLATIONS = {
    "nearest": InterpolationMode.NEAREST,
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    # cv2's 'area' is an anti-aliased downscale: torchvision's anti-aliased bilinear is the closest.
    "area": InterpolationMode.BILINEAR,
}


def interpolation_mode(name: str) -> InterpolationMode:
    """The torchvision mode for an mmcls interpolation name."""
    try:
        return _INTERPOLATIONS[name]
    except KeyError:
        raise BuildError(
            f"interpolation {name!r} is not supported; use one of {', '.join(_INTERPOLATIONS)}"
        ) from None


def size_pair(size: Any, what: str = "size") -> tuple[int, int]:
    """``(h, w)`` from an int or a 2-sequence (lists accepted, unlike mmcls)."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, (int, np.integer)) for s in size):
        return int(size[0]), int(size[1])
    raise BuildError(f"{what} must be an int or an (h, w) pair, got {size!r}")


def to_chw_tensor(img: Any) -> torch.Tensor:
    """A ``C x H x W`` tensor from a tensor (returned as is) or an ``H x W [x C]`` numpy array."""
    if isinstance(img, torch.Tensor):
        return img
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            img = img[:, :, None]
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    raise DataError(f"expected an image tensor or array in results['img'], got {type(img).__name__}")


def image_of(results: dict) -> torch.Tensor:
    """``results['img']`` as a ``C x H x W`` tensor (naming the problem when it is missing)."""
    if "img" not in results:
        raise DataError(
            "the pipeline has no image yet: start it with LoadImageFromFile "
            f"(results hold: {', '.join(sorted(results))})"
        )
    return to_chw_tensor(results["img"])


def hwc_shape(img: torch.Tensor) -> tuple[int, int, int]:
    """mmcls-style ``(h, w, c)`` shape of a ``C x H x W`` tensor."""
    c, h, w = img.shape[-3:]
    return int(h), int(w), int(c)


def set_image(results: dict, img: torch.Tensor) -> dict:
    """Store ``img`` and refresh ``img_shape``."""
    results["img"] = img
    results["img_shape"] = hwc_shape(img)
    return results


def channel_values(results: dict, values: Any, channels: int) -> Any:
    """Per-channel config values (given in mmcls's channel order) in the tensor's real order.

    Scalars pass through; 3-sequences are reversed when mmcls's order differs from the tensor's.
    """
    if isinstance(values, (int, float, np.number)):
        return values
    values = [float(v) for v in values]
    if len(values) == 3 and channels == 3 and orders_differ(results):
        values = values[::-1]
    return values


def swapped(order: str) -> str:
    """The other channel order (what mmcls's ``to_rgb=True`` BGR<->RGB swap makes of ``order``)."""
    return "rgb" if order == "bgr" else "bgr"


def orders_differ(results: dict) -> bool:
    """True when the tensor's channel order is not the one mmcls would hold (per-channel values must be reversed)."""
    return results.get("mmcls_order", "rgb") != results.get("channel_order", "rgb")


def fill_for(results: dict, pad_val: Any, channels: int) -> list[float]:
    """A torchvision ``fill`` (one value per tensor channel) from an mmcls ``pad_val``, as ``mmcv.impad`` pads.

    A per-channel sequence is in mmcls's channel order; a number is OpenCV's colour ``(v, 0, 0, 0)``:
    it fills the first channel of mmcls's order and zeroes the others (mmcls's behaviour, matched).
    """
    if isinstance(pad_val, (int, float, np.number)) and not isinstance(pad_val, bool):
        values = [float(pad_val)] + [0.0] * (channels - 1)
    else:
        values = [float(v) for v in pad_val]
        if len(values) != channels:
            raise DataError(f"pad_val {pad_val!r} has {len(values)} values but the image has {channels} channel(s)")
    if channels in (3, 4) and orders_differ(results):
        values[:3] = values[2::-1]
    return values


def check_probability(value: float, name: str) -> float:
    """Reject probabilities outside [0, 1]."""
    if not 0.0 <= float(value) <= 1.0:
        raise BuildError(f"{name} must be within [0, 1], got {value!r}")
    return float(value)


def as_range(value: Sequence[float], name: str) -> tuple[float, float]:
    """A ``(min, max)`` pair, checked to be ordered."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise BuildError(f"{name} must be a (min, max) pair, got {value!r}") from None
    if low > high:
        raise BuildError(f"{name} must be (min, max) with min <= max, got {value!r}")
    return low, high
