"""Photometric transforms with mmcls 0.x names, on uint8 ``C x H x W`` tensors.

``AutoAugment``, ``RandAugment`` and their ops (``Brightness``, ``Contrast``, ...) follow mmcls
exactly: see :mod:`.auto_augment` and :mod:`.augment_ops`; so does ``ColorJitter``, built on those ops.
"""

from __future__ import annotations

import math
import random
from typing import Any

import torch
from torchvision.transforms import v2

from minim.errors import BuildError, DataError
from minim.cls.datasets.pipelines._image import (
    orders_differ,
    as_range,
    channel_values,
    check_probability,
    image_of,
    swapped,
)
from minim.cls.datasets.pipelines.augment_ops import Brightness, ColorTransform, Contrast
from minim.cls.datasets.pipelines.compose import Transform
from minim.cls.datasets.registry import PIPELINES


@PIPELINES.register()
class ColorJitter(Transform):
    """mmcls's ``ColorJitter``: its ``Brightness``, ``Contrast`` and ``ColorTransform`` ops, in a random order.

    As mmcls: the three magnitudes are ``random.uniform(0, x)`` (Python's generator), the order is
    ``random.shuffle``'d, and each op (``prob=1``) negates its magnitude with probability 0.5 (numpy's
    generator), so the factors are ``1 ± uniform(0, x)`` and the pixels and draws are mmcls's.
    ``hue`` (beyond mmcls; 0 by default) then shifts the hue with torchvision's ``ColorJitter``.
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0, hue: float = 0.0):
        for name, value in dict(brightness=brightness, contrast=contrast, saturation=saturation).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise BuildError(f"ColorJitter {name} must be a number >= 0, got {value!r}")
        if not 0 <= hue <= 0.5:
            raise BuildError(f"ColorJitter hue must be within [0, 0.5], got {hue!r}")
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue
        self._hue = v2.ColorJitter(hue=hue) if hue else None

    def __call__(self, results: dict) -> dict:
        ops = [op(magnitude=random.uniform(0, limit), prob=1.0, random_negative_prob=0.5)
               for op, limit in ((Brightness, self.brightness), (Contrast, self.contrast),
                                 (ColorTransform, self.saturation))]
        random.shuffle(ops)
        for op in ops:
            results = op(results)
        if self._hue is not None:
            results["img"] = self._hue(image_of(results))
        return results


@PIPELINES.register()
class Lighting(Transform):
    """AlexNet's PCA lighting noise (mmcls's ``Lighting``, used by its RegNet configs).

    Every pixel gets ``sum_j eigvec[i][j] * alpha_j * eigval[j]`` added to channel ``i``, with
    ``alpha_j ~ N(0, alphastd)`` drawn once per image. Values are in 0-255 units (mmcls's RegNet
    configs use ``alphastd=25.5``); the result is float64 (as mmcls: its float32 image plus a
    float64 shift) and not clipped. With ``to_rgb=True``
    mmcls swaps the channel order first (BGR file images become RGB); ``eigvec``'s rows follow the
    order after that swap, and so do later transforms (mmcls's RegNet configs swap back to BGR with
    ``Normalize(to_rgb=True)``, as the pycls models were trained on BGR).
    """

    def __init__(self, eigval: Any, eigvec: Any, alphastd: float = 0.1, to_rgb: bool = True):
        self.eigval = torch.as_tensor(eigval, dtype=torch.float64)
        self.eigvec = torch.as_tensor(eigvec, dtype=torch.float64)
        n = self.eigval.numel()
        if self.eigval.dim() != 1 or self.eigvec.shape != (3, n):
            raise BuildError(f"Lighting needs eigval of n values and eigvec of 3 rows of n values; got "
                             f"{list(self.eigval.shape)} and {list(self.eigvec.shape)}")
        if alphastd < 0:
            raise BuildError(f"Lighting alphastd must be >= 0, got {alphastd!r}")
        self.alphastd = float(alphastd)
        self.to_rgb = bool(to_rgb)

    def __call__(self, results: dict) -> dict:
        img = image_of(results)
        if img.shape[0] != 3:
            raise DataError(f"Lighting needs a 3-channel image, {results.get('filename')} has {img.shape[0]}")
        order = swapped(results.get("mmcls_order", "rgb")) if self.to_rgb else results.get("mmcls_order", "rgb")
        alpha = torch.randn(self.eigval.numel(), dtype=torch.float64) * self.alphastd
        shift = (self.eigvec * (alpha * self.eigval)).sum(dim=1)
        if results.get("channel_order", "rgb") != order:
            shift = shift.flip(0)
        results["img"] = img.to(torch.float32).to(torch.float64) + shift.reshape(3, 1, 1)
        results["mmcls_order"] = order
        return results


#: OpenCV's fixed-point ``COLOR_RGB2GRAY`` weights (14 bits) of channels 0, 1, 2, and its float ones
_GRAY_FIXED = (4899, 9617, 1868)
_GRAY_FLOAT = (0.299, 0.587, 0.114)


def mmcls_gray(img: torch.Tensor, results: dict) -> torch.Tensor:
    """``mmcv.rgb2gray`` of the array mmcls holds, as a ``1 x H x W`` tensor of ``img``'s dtype.

    mmcls applies the RGB weights to its array's channels in order, so on BGR file images blue gets
    red's weight 0.299 (an mmcls bug, matched). uint8 rounds as OpenCV: ``(sum w_i c_i + 2^13) >> 14``.
    """
    channels = [img[i] for i in range(3)]
    if orders_differ(results):
        channels.reverse()
    if img.dtype == torch.uint8:
        total = sum(c.to(torch.int32) * w for c, w in zip(channels, _GRAY_FIXED))
        return ((total + (1 << 13)) >> 14).clamp_(0, 255).to(torch.uint8)[None]
    floats = [c.to(torch.float32) for c in channels]
    gray = floats[0] * _GRAY_FLOAT[0] + floats[1] * _GRAY_FLOAT[1] + floats[2] * _GRAY_FLOAT[2]
    return gray.to(img.dtype)[None]


@PIPELINES.register()
class RandomGrayscale(Transform):
    """With probability ``gray_prob``, turn an image of 3 or 4 channels grey (keeping the channel count).

    As mmcls: the grey is :func:`mmcls_gray` (mmcls's BGR array weighted as RGB), every channel
    (alpha too) gets it, and the random number is drawn for every image, grey or not.
    """

    def __init__(self, gray_prob: float = 0.1):
        self.gray_prob = check_probability(gray_prob, "gray_prob")

    def __call__(self, results: dict) -> dict:
        img = image_of(results)
        if random.random() < self.gray_prob and img.shape[0] > 1:
            if img.shape[0] not in (3, 4):
                raise DataError(f"RandomGrayscale needs 1, 3 or 4 channels, {results.get('filename')} has {img.shape[0]}")
            results["img"] = mmcls_gray(img, results).expand(img.shape[0], -1, -1).contiguous()
        return results


@PIPELINES.register()
class RandomErasing(Transform):
    """Erase a random rectangle with probability ``erase_prob`` (mmcls arguments).

    Area ratio uniform in ``[min_area_ratio, max_area_ratio]``, aspect ratio log-uniform in
    ``aspect_range``. ``mode='const'`` fills with ``fill_color``; ``mode='rand'`` fills each pixel
    from N(``fill_color``, ``fill_std``), or uniformly in [0, 255] without ``fill_std``.
    Colours are in mmcls's channel order (BGR for file images), as in mmcls configs.
    """

    def __init__(
        self,
        erase_prob: float = 0.5,
        min_area_ratio: float = 0.02,
        max_area_ratio: float = 0.4,
        aspect_range: Any = (3 / 10, 10 / 3),
        mode: str = "const",
        fill_color: Any = (128, 128, 128),
        fill_std: Any = None,
    ):
        self.erase_prob = check_probability(erase_prob, "erase_prob")
        self.min_area_ratio, self.max_area_ratio = as_range((min_area_ratio, max_area_ratio), "area ratios")
        if not (0 <= self.min_area_ratio and self.max_area_ratio <= 1):
            raise BuildError("min_area_ratio and max_area_ratio must be within [0, 1]")
        if isinstance(aspect_range, (int, float)):
            aspect_range = (min(aspect_range, 1 / aspect_range), max(aspect_range, 1 / aspect_range))
        self.aspect_range = as_range(aspect_range, "aspect_range")
        if self.aspect_range[0] <= 0:
            raise BuildError(f"aspect_range must be positive, got {aspect_range!r}")
        if mode not in ("const", "rand"):
            raise BuildError(f"RandomErasing mode must be 'const' or 'rand', got {mode!r}")
        self.mode = mode
        self.fill_color = fill_color
        self.fill_std = fill_std

    def _patch(self, results: dict, channels: int, height: int, width: int, dtype) -> torch.Tensor:
        color = torch.tensor(channel_values(results, self.fill_color, channels), dtype=torch.float32)
        color = color.reshape(-1, 1, 1).expand(channels, 1, 1) if color.numel() == 1 else color.reshape(-1, 1, 1)
        if self.mode == "const":
            patch = color.expand(channels, height, width)
        elif self.fill_std is None:
            patch = torch.randint(0, 256, (channels, height, width)).float()
        else:
            std = torch.tensor(channel_values(results, self.fill_std, channels), dtype=torch.float32).reshape(-1, 1, 1)
            patch = torch.normal(color.expand(channels, height, width), std.expand(channels, height, width))
        if dtype == torch.uint8:
            patch = patch.round().clamp_(0, 255)
        return patch.to(dtype)

    def __call__(self, results: dict) -> dict:
        if random.random() >= self.erase_prob:
            return results
        img = image_of(results)
        channels, height, width = img.shape
        area = height * width * random.uniform(self.min_area_ratio, self.max_area_ratio)
        aspect = math.exp(random.uniform(math.log(self.aspect_range[0]), math.log(self.aspect_range[1])))
        erase_h = min(height, int(math.sqrt(area * aspect)))
        erase_w = min(width, int(math.sqrt(area / aspect)))
        if erase_h == 0 or erase_w == 0:
            return results
        top = random.randint(0, height - erase_h)
        left = random.randint(0, width - erase_w)
        img = img.clone()
        img[:, top : top + erase_h, left : left + erase_w] = self._patch(results, channels, erase_h, erase_w, img.dtype)
        results["img"] = img
        return results
