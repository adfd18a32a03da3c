"""Small helpers shared by the transforms: image layout, image fields, sizes, channel order.

Images travel through minim's pipelines as uint8 ``C x H x W`` torch tensors in RGB order.
mmcls 0.x held ``H x W x C`` BGR arrays after ``LoadImageFromFile`` (RGB for CIFAR arrays), and
configs give per-channel values (``pad_val``, ``fill_color``, ``mean``/``std``) in *that* order.
Two result keys keep the two views apart:

- ``channel_order``: the order the tensor in ``results['img']`` really has (``'rgb'`` until
  ``Normalize`` decides otherwise);
- ``mmcls_order``: the order mmcls would hold at the same point (``'bgr'`` after
  ``LoadImageFromFile``, ``'rgb'`` for CIFAR), used to read per-channel config values.

Every key of ``results['img_fields']`` (default ``['img']``, as mmcls) holds an image in the same
layout and order; the geometric transforms and ``Normalize`` process them all. A field may also be
a PIL image or an ``H x W [x C]`` array (after ``ToPIL``/``ToNumpy``, which hold mmcls's objects):
transforms read it in ``channel_order`` and give back a tensor.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from minim.errors import BuildError, DataError


def size_pair(size: Any, what: str = "size") -> tuple[int, int]:
    """``(h, w)`` from an int or a 2-sequence (lists accepted, unlike mmcls)."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, (int, np.integer)) for s in size):
        return int(size[0]), int(size[1])
    raise BuildError(f"{what} must be an int or an (h, w) pair, got {size!r}")


def to_chw_tensor(img: Any, key: str = "img") -> torch.Tensor:
    """A ``C x H x W`` tensor from a tensor (returned as is), an ``H x W [x C]`` numpy array or a PIL image."""
    if isinstance(img, torch.Tensor):
        return img
    if not isinstance(img, np.ndarray) and is_pil_image(img):
        img = np.array(img)
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            img = img[:, :, None]
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    raise DataError(f"expected an image tensor, array or PIL image in results[{key!r}], got {type(img).__name__}")


def is_pil_image(value: Any) -> bool:
    """True for a PIL image (Pillow is imported only when something else than a tensor or array shows up)."""
    return isinstance(value, Image.Image)


def image_fields(results: dict) -> list[str]:
    """The keys holding images: ``results['img_fields']``, ``['img']`` when absent (mmcls's default)."""
    fields = results.get("img_fields", ["img"])
    if isinstance(fields, str) or not all(isinstance(key, str) for key in fields):
        raise DataError(f"results['img_fields'] must be a list of key names, got {fields!r}")
    return list(fields)


def image_of(results: dict, key: str = "img") -> torch.Tensor:
    """``results[key]`` as a ``C x H x W`` tensor (naming the problem when it is missing)."""
    if key not in results:
        if key != "img":
            raise DataError(f"results['img_fields'] names {key!r}, but the results have no such key "
                            f"(they hold: {', '.join(sorted(results))})")
        raise DataError(
            "the pipeline has no image yet: start it with LoadImageFromFile "
            f"(results hold: {', '.join(sorted(results))})"
        )
    return to_chw_tensor(results[key], key)


def field_images(results: dict) -> dict[str, torch.Tensor]:
    """Every image field (:func:`image_fields`) as a ``C x H x W`` tensor, in field order."""
    return {key: image_of(results, key) for key in image_fields(results)}


def common_size(images: dict[str, torch.Tensor], step: str) -> tuple[int, int]:
    """The ``(h, w)`` all ``images`` share (a random crop takes the same window from each)."""
    sizes = {key: tuple(int(n) for n in img.shape[-2:]) for key, img in images.items()}
    first_key, first = next(iter(sizes.items()))
    for key, size in sizes.items():
        if size != first:
            raise DataError(
                f"{step} crops every key of img_fields with the same window, but {first_key!r} is "
                f"{first[0]}x{first[1]} and {key!r} is {size[0]}x{size[1]}; give them one size first"
            )
    return first


def hwc_shape(img: torch.Tensor) -> tuple[int, int, int]:
    """mmcls-style ``(h, w, c)`` shape of a ``C x H x W`` tensor."""
    c, h, w = img.shape[-3:]
    return int(h), int(w), int(c)


def set_image(results: dict, img: torch.Tensor, key: str = "img") -> dict:
    """Store ``img`` under ``key`` and refresh ``img_shape`` (with several fields, the last one's wins, as in mmcls)."""
    results[key] = img
    results["img_shape"] = hwc_shape(img)
    return results


def mmcls_array(results: dict, key: str = "img") -> np.ndarray:
    """``results[key]`` as mmcls holds it: ``H x W x C`` (``H x W`` for one channel) in ``mmcls_order``.

    Switches every image field to mmcls's channel order first (see :func:`adopt_mmcls_order`). The array
    is always a new, writable one (a tensor may be a cached decode that later in-place edits must not reach).
    """
    adopt_mmcls_order(results)
    value = results[key]
    if not isinstance(value, torch.Tensor):
        return np.array(value)
    array = value.detach().cpu().permute(1, 2, 0).numpy()
    return np.array(array[:, :, 0] if array.shape[2] == 1 else array)


def adopt_mmcls_order(results: dict) -> None:
    """Reverse the colour channels of every tensor field when the tensors are not in mmcls's order, so that
    ``channel_order`` equals ``mmcls_order`` from here on (as arrays and PIL images handed to users must be)."""
    if not orders_differ(results):
        return
    for key in image_fields(results):
        value = results.get(key)
        if isinstance(value, torch.Tensor) and value.shape[0] in (3, 4):
            results[key] = torch.cat([value[:3].flip(0), value[3:]])
    results["channel_order"] = results.get("mmcls_order", "rgb")


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
