"""``Normalize`` and the formatting steps ``ImageToTensor``, ``ToTensor``, ``ToHalf``, ``Collect``."""

from __future__ import annotations

from numbers import Number
from typing import Any, Sequence

import numpy as np
import torch

from minim.errors import BuildError, DataError
from minim.cls.datasets.pipelines._image import image_of, swapped, to_chw_tensor
from minim.cls.datasets.pipelines.compose import Transform
from minim.cls.datasets.registry import PIPELINES

DEFAULT_META_KEYS = ("filename", "ori_filename", "ori_shape", "img_shape", "flip", "flip_direction", "img_norm_cfg")


@PIPELINES.register()
class Normalize(Transform):
    """``(img - mean) / std`` in 0-255 units, giving a float32 tensor, exactly as mmcls would.

    mmcls first swaps BGR<->RGB when ``to_rgb=True``; mean/std are in the resulting order. minim
    decodes files as RGB, so with the usual ``to_rgb=True`` nothing moves; ``to_rgb=False`` on a
    file image gives BGR output, as in mmcls; CIFAR arrays are RGB in both.
    """

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
        #: set by the engine (minim.cls.engine.batch_normalize): swap channels only, the batch is normalized later
        self.deferred = False

    def __call__(self, results: dict) -> dict:
        img = image_of(results)
        channels = img.shape[0]
        if len(self.mean) not in (1, channels):
            raise DataError(
                f"Normalize has {len(self.mean)} mean values but the image of {results.get('filename')} "
                f"has {channels} channel(s)"
            )
        mmcls_order = results.get("mmcls_order", "rgb")
        target = swapped(mmcls_order) if self.to_rgb else mmcls_order
        if channels == 3 and results.get("channel_order", "rgb") != target:
            img = img.flip(0)
        if self.deferred:
            results["img"] = img
        else:
            results["img"] = img.to(torch.float32, copy=True).sub_(self._mean).div_(self._std)
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

    def __init__(self, keys: Sequence[str] = ("img",)):
        self.keys = list(keys)
        #: set by the engine when Normalize is deferred to the batch: uint8 images stay uint8
        self.keep_dtype = False

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            img = to_chw_tensor(_require(results, key, "ImageToTensor"))
            results[key] = img if img.is_floating_point() or self.keep_dtype else img.float()
        return results


@PIPELINES.register()
class ToTensor(Transform):
    """Turn the values of ``keys`` into tensors (``gt_label`` becomes an int64 scalar tensor)."""

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
class Collect(Transform):
    """Keep ``keys`` and gather the ``meta_keys`` present into ``results['img_metas']`` (a plain dict)."""

    def __init__(self, keys: Sequence[str], meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        if isinstance(keys, str) or isinstance(meta_keys, str):
            raise BuildError("Collect keys and meta_keys must be lists of key names")
        self.keys = list(keys)
        self.meta_keys = list(meta_keys)

    def __call__(self, results: dict) -> dict:
        data = {key: _require(results, key, "Collect") for key in self.keys}
        data["img_metas"] = {key: results[key] for key in self.meta_keys if key in results}
        return data
