"""``Normalize`` and mmcls's formatting steps: ``ImageToTensor``, ``ToTensor``, ``ToHalf``, ``Transpose``,
``ToPIL``, ``ToNumpy``, ``Collect``, ``WrapFieldsToLists``.

``ToPIL``, ``ToNumpy`` and ``Transpose`` hand out the objects mmcls would hold at that point (its
``H x W x C`` arrays, in its channel order): see :class:`ToPIL`.
"""

from __future__ import annotations

import copy
from numbers import Number
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from minim.cls.datasets.pipelines._image import (field_images, image_fields, is_pil_image, mmcls_array, swapped,
                                                 to_chw_tensor)
from minim.cls.datasets.pipelines.compose import Transform
from minim.cls.datasets.registry import PIPELINES
from minim.errors import BuildError, DataError

DEFAULT_META_KEYS = ("filename", "ori_filename", "ori_shape", "img_shape", "flip", "flip_direction", "img_norm_cfg")


@PIPELINES.register()
class Normalize(Transform):
    """``(img - mean) / std`` in 0-255 units, giving a float32 tensor, exactly as mmcls would (every image field).

    mmcls first swaps BGR<->RGB when ``to_rgb=True``; mean/std are in the resulting order. minim
    decodes files as RGB, so with the usual ``to_rgb=True`` nothing moves; ``to_rgb=False`` on a
    file image gives BGR output, as in mmcls; CIFAR arrays are RGB in both.
    """

    device_normalizable = True

    def __init__(self, mean: Sequence[float], std: Sequence[float], to_rgb: bool = True):
        if len(mean) != len(std):
            raise BuildError(f"Normalize mean and std must have the same length, got {list(mean)} and {list(std)}")
        if any(float(s) == 0 for s in std):
            raise BuildError(f"Normalize std must not contain 0, got {list(std)}")
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.to_rgb = bool(to_rgb)
        self._mean = torch.tensor(self.mean, dtype=torch.float32).reshape(-1, 1, 1)
        self._std = torch.tensor(self.std, dtype=torch.float32).reshape(-1, 1, 1)
        # One shared (read-only) dict: a batch's img_metas then pickle it once, not once per sample.
        self._norm_cfg = dict(
            mean=np.array(self.mean, dtype=np.float32), std=np.array(self.std, dtype=np.float32), to_rgb=self.to_rgb
        )
        self._img_on_device = False

    def for_device(self) -> "Normalize":
        """A copy of this step that only puts ``img`` in the channel order and leaves its values to the
        device, which normalizes whole batches (:mod:`minim.cls.engine.device_loader`); other image
        fields are still normalized here."""
        step = copy.copy(self)
        step._img_on_device = True
        return step

    def __call__(self, results: dict) -> dict:
        mmcls_order = results.get("mmcls_order", "rgb")
        target = swapped(mmcls_order) if self.to_rgb else mmcls_order
        for key, img in field_images(results).items():
            channels = img.shape[0]
            if len(self.mean) not in (1, channels):
                raise DataError(
                    f"Normalize has {len(self.mean)} mean values but the image of {results.get('filename')} "
                    f"has {channels} channel(s)"
                )
            if channels == 3 and results.get("channel_order", "rgb") != target:
                img = img.flip(0)
            if self._img_on_device and key == "img":
                results[key] = img
            else:
                results[key] = img.to(torch.float32, copy=True).sub_(self._mean).div_(self._std)
        results["channel_order"] = results["mmcls_order"] = target
        results["img_norm_cfg"] = self._norm_cfg
        return results


def to_tensor(value: Any, key: str = "value") -> torch.Tensor:
    """A tensor from a tensor, numpy array, number or sequence (mmcls ``to_tensor``)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return torch.from_numpy(np.asarray(value))
    if isinstance(value, (Number, Sequence)) and not isinstance(value, str):
        return torch.tensor(value)
    raise DataError(f"cannot convert {key} of type {type(value).__name__} to a tensor")


def _require(results: dict, key: str, step: str) -> Any:
    if key not in results:
        raise DataError(f"{step}: results have no key {key!r} (they hold: {', '.join(sorted(results))})")
    return results[key]


@PIPELINES.register()
class ImageToTensor(Transform):
    """Turn image keys into float32 ``C x H x W`` tensors (``H x W x C`` arrays are transposed)."""

    pixel_preserving = True

    def __init__(self, keys: Sequence[str] = ("img",)):
        self.keys = list(keys)
        self._keep_dtype = False

    def for_device(self) -> "ImageToTensor | None":
        """A copy that keeps ``img``'s dtype (uint8 for decoded files) for a device-side Normalize, or None
        when this step converts more than ``img``."""
        if self.keys != ["img"]:
            return None
        step = copy.copy(self)
        step._keep_dtype = True
        return step

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            img = to_chw_tensor(_require(results, key, "ImageToTensor"))
            results[key] = img if img.is_floating_point() or self._keep_dtype else img.float()
        return results


@PIPELINES.register()
class ToTensor(Transform):
    """Turn the values of ``keys`` into tensors (``gt_label`` becomes an int64 scalar tensor)."""

    pixel_preserving = True

    def __init__(self, keys: Sequence[str]):
        self.keys = list(keys)

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = to_tensor(_require(results, key, "ToTensor"), key)
        return results


@PIPELINES.register()
class ToHalf(Transform):
    """Turn the values of ``keys`` into float16 (tensors stay tensors, arrays stay arrays), as mmcls."""

    def __init__(self, keys: Sequence[str]):
        self.keys = list(keys)

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            value = _require(results, key, "ToHalf")
            results[key] = value.to(torch.half) if isinstance(value, torch.Tensor) else np.asarray(value, np.float16)
        return results


@PIPELINES.register()
class Transpose(Transform):
    """``value.transpose(order)`` for each of ``keys``, as mmcls does on its numpy arrays.

    An image field (a minim tensor) is first turned into the array mmcls holds, ``H x W x C`` in
    mmcls's channel order, so ``order`` means what it means in mmcls: ``(2, 0, 1)`` gives ``C x H x W``.
    """

    def __init__(self, keys: Sequence[str], order: Sequence[int]):
        if isinstance(keys, str):
            raise BuildError(f"Transpose keys must be a list of key names, got {keys!r}")
        if isinstance(order, (str, bytes)) or not all(isinstance(axis, (int, np.integer)) for axis in order):
            raise BuildError(f"Transpose order must be a sequence of axes such as (2, 0, 1), got {order!r}")
        self.keys = list(keys)
        self.order = tuple(int(axis) for axis in order)

    def __call__(self, results: dict) -> dict:
        fields = image_fields(results)
        for key in self.keys:
            value = _require(results, key, "Transpose")
            if key in fields and isinstance(value, torch.Tensor):
                value = mmcls_array(results, key)
            if not isinstance(value, np.ndarray):
                raise DataError(f"Transpose: results[{key!r}] is not an array but {type(value).__name__}; it "
                                "transposes numpy arrays and image tensors (put ToNumpy before it for a PIL image)")
            if len(self.order) != value.ndim:
                raise DataError(f"Transpose order {self.order} does not match results[{key!r}], "
                                f"which has {value.ndim} axes (shape {value.shape})")
            results[key] = value.transpose(self.order)
        return results


@PIPELINES.register()
class ToPIL(Transform):
    """Turn ``results['img']`` into a PIL image, as mmcls's ``Image.fromarray(results['img'])``.

    minim's images are ``C x H x W`` RGB tensors where mmcls holds ``H x W x C`` arrays in its own
    channel order (BGR after ``LoadImageFromFile``). ``ToPIL`` gives the PIL image of *mmcls's* array,
    so custom steps see the bytes they saw in mmcls (after ``LoadImageFromFile``, an ``'RGB'`` image
    whose bytes are B, G, R, as in mmcls), and it switches every image field to mmcls's channel
    order (``channel_order`` becomes ``mmcls_order``). Later steps read the image in that order:
    ``ToNumpy`` gives mmcls's float32 array, and ``Normalize(to_rgb=True)`` ends in RGB as in mmcls.
    Where mmcls's other steps fail on a PIL image (all but ``RandomFlip``), minim's accept it and
    give back a tensor. A float image cannot become a PIL image (nor can it in mmcls): convert
    before ``to_float32``/``Normalize``.
    """

    def __call__(self, results: dict) -> dict:
        _require(results, "img", "ToPIL")
        array = mmcls_array(results, "img")
        if array.dtype != np.uint8:
            raise DataError(f"ToPIL needs a uint8 image, got {array.dtype} (as in mmcls, PIL holds 8-bit images): "
                            "put ToPIL before Normalize and load without to_float32")
        results["img"] = Image.fromarray(array)
        return results


@PIPELINES.register()
class ToNumpy(Transform):
    """Turn ``results['img']`` into mmcls's float32 ``H x W x C`` array (``H x W`` for one channel), in
    mmcls's channel order, as mmcls's ``np.array(img, dtype=np.float32)``; see :class:`ToPIL`."""

    def __call__(self, results: dict) -> dict:
        value = _require(results, "img", "ToNumpy")
        if isinstance(value, torch.Tensor):
            value = mmcls_array(results, "img")
        elif not (isinstance(value, np.ndarray) or is_pil_image(value)):
            raise DataError(f"ToNumpy: results['img'] is a {type(value).__name__}, not an image")
        results["img"] = np.array(value, dtype=np.float32)
        return results


@PIPELINES.register()
class Collect(Transform):
    """Keep ``keys`` and gather the ``meta_keys`` present into ``results['img_metas']`` (a plain dict)."""

    pixel_preserving = True

    def __init__(self, keys: Sequence[str], meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        if isinstance(keys, str) or isinstance(meta_keys, str):
            raise BuildError("Collect keys and meta_keys must be lists of key names")
        self.keys = list(keys)
        self.meta_keys = list(meta_keys)

    def __call__(self, results: dict) -> dict:
        data = {key: _require(results, key, "Collect") for key in self.keys}
        data["img_metas"] = {key: results[key] for key in self.meta_keys if key in results}
        return data


@PIPELINES.register()
class WrapFieldsToLists(Transform):
    """Wrap every value of the results in a one-element list (mmcls's last step for single-image evaluation)."""

    def __call__(self, results: dict) -> dict:
        return {key: [value] for key, value in results.items()}
