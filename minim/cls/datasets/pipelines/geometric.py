"""Geometric transforms with mmcls 0.x names and arguments, on uint8 ``C x H x W`` tensors.

Resizing uses torchvision's anti-aliased kernels (as torchvision's PIL-based training recipes do;
mmcv's cv2 backend does not anti-alias downscales). ``backend`` arguments are accepted and ignored.
Scalar random draws use Python's ``random`` (seeded per DataLoader worker by torch).
"""

from __future__ import annotations

import math
import random
from typing import Any

from torchvision.transforms.v2 import functional as F

from minim.errors import BuildError, DataError
from minim.cls.datasets.pipelines._image import (
    as_range,
    check_probability,
    fill_for,
    image_of,
    interpolation_mode,
    set_image,
    size_pair,
)
from minim.cls.datasets.pipelines.compose import Transform
from minim.cls.datasets.registry import PIPELINES

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")
ADAPTIVE_SIDES = ("short", "long", "height", "width")


def _check_backend(backend: str) -> None:
    if backend not in ("cv2", "pillow"):
        raise BuildError(f"backend must be 'cv2' or 'pillow', got {backend!r}")


def _check_padding_mode(mode: str) -> str:
    if mode not in PADDING_MODES:
        raise BuildError(f"padding_mode must be one of {', '.join(PADDING_MODES)}, got {mode!r}")
    return mode


@PIPELINES.register()
class Resize(Transform):
    """Resize to ``size``: an int or ``(h, w)`` gives that exact size (no aspect keeping, as mmcls);
    ``(n, -1)`` scales the ``adaptive_side`` (short, long, height or width) to ``n`` keeping the ratio."""

    cacheable = True

    def __init__(self, size: Any, interpolation: str = "bilinear", adaptive_side: str = "short", backend: str = "cv2"):
        _check_backend(backend)
        if adaptive_side not in ADAPTIVE_SIDES:
            raise BuildError(f"adaptive_side must be one of {', '.join(ADAPTIVE_SIDES)}, got {adaptive_side!r}")
        height, width = size_pair(size)
        if height <= 0 or (width <= 0 and width != -1):
            raise BuildError(f"Resize size must be positive, or (n, -1) to keep the aspect ratio; got {size!r}")
        self.size = (height, width)
        self.interpolation = interpolation
        self.adaptive_side = adaptive_side
        self._mode = interpolation_mode(interpolation)

    def target_size(self, height: int, width: int) -> tuple[int, int]:
        """The ``(h, w)`` an ``height x width`` image is resized to."""
        target, other = self.size
        if other != -1:
            return target, other
        side = {"short": min(height, width), "long": max(height, width), "height": height, "width": width}
        if side[self.adaptive_side] == target:
            return height, width
        scale_width = (
            (self.adaptive_side == "short" and width < height)
            or (self.adaptive_side == "long" and width > height)
            or self.adaptive_side == "width"
        )
        if scale_width:
            return int(target * height / width), target
        return target, int(target * width / height)

    def __call__(self, results: dict) -> dict:
        img = image_of(results)
        new_size = self.target_size(img.shape[-2], img.shape[-1])
        if tuple(img.shape[-2:]) != new_size:
            img = F.resize(img, list(new_size), interpolation=self._mode, antialias=True)
        return set_image(results, img)


@PIPELINES.register()
class CenterCrop(Transform):
    """Crop the centre ``crop_size`` (int or ``(h, w)``); images smaller than the crop are zero-padded.

    ``efficientnet_style=True`` crops ``crop_size / (crop_size + crop_padding)`` of the short side
    around the centre, then resizes it to ``crop_size`` (mmcls semantics).
    """

    cacheable = True

    def __init__(
        self,
        crop_size: Any,
        efficientnet_style: bool = False,
        crop_padding: int = 32,
        interpolation: str = "bilinear",
        backend: str = "cv2",
    ):
        _check_backend(backend)
        self.crop_size = size_pair(crop_size, "crop_size")
        if min(self.crop_size) <= 0:
            raise BuildError(f"crop_size must be positive, got {crop_size!r}")
        if efficientnet_style and self.crop_size[0] != self.crop_size[1]:
            raise BuildError("CenterCrop with efficientnet_style=True needs a square (int) crop_size")
        self.efficientnet_style = efficientnet_style
        self.crop_padding = crop_padding
        self.interpolation = interpolation
        self._mode = interpolation_mode(interpolation)

    def __call__(self, results: dict) -> dict:
        img = image_of(results)
        if not self.efficientnet_style:
            return set_image(results, F.center_crop(img, list(self.crop_size)))
        height, width = img.shape[-2:]
        side = self.crop_size[0]
        crop = max(1, int(round(side / (side + self.crop_padding) * min(height, width))))
        top = max(0, int(round((height - crop) / 2.0)))
        left = max(0, int(round((width - crop) / 2.0)))
        img = img[..., top : top + crop, left : left + crop]
        img = F.resize(img, [side, side], interpolation=self._mode, antialias=True)
        return set_image(results, img)


@PIPELINES.register()
class RandomCrop(Transform):
    """Crop a random ``size`` window, after optional ``padding`` (int, (lr, tb) or (l, t, r, b))."""

    def __init__(
        self, size: Any, padding: Any = None, pad_if_needed: bool = False, pad_val: Any = 0, padding_mode: str = "constant"
    ):
        self.size = size_pair(size)
        self.padding = list(padding) if isinstance(padding, (tuple, list)) else padding
        if isinstance(self.padding, list) and len(self.padding) not in (2, 4):
            raise BuildError(f"padding must be an int, (lr, tb) or (left, top, right, bottom); got {padding!r}")
        self.pad_if_needed = pad_if_needed
        self.pad_val = pad_val
        self.padding_mode = _check_padding_mode(padding_mode)

    def _pad(self, results: dict, img, padding):
        fill = fill_for(results, self.pad_val, img.shape[0]) if self.padding_mode == "constant" else None
        return F.pad(img, padding, fill=fill, padding_mode=self.padding_mode)

    def __call__(self, results: dict) -> dict:
        img = image_of(results)
        if self.padding:
            img = self._pad(results, img, self.padding)
        target_h, target_w = self.size
        if self.pad_if_needed and img.shape[-2] < target_h:
            extra = target_h - img.shape[-2]
            img = self._pad(results, img, [0, extra, 0, extra])
        if self.pad_if_needed and img.shape[-1] < target_w:
            extra = target_w - img.shape[-1]
            img = self._pad(results, img, [extra, 0, extra, 0])
        height, width = img.shape[-2:]
        if height < target_h or width < target_w:
            raise DataError(
                f"RandomCrop size {self.size} is larger than the image ({height}x{width}) of "
                f"{results.get('filename')}; set pad_if_needed=True or resize first"
            )
        top = random.randint(0, height - target_h)
        left = random.randint(0, width - target_w)
        return set_image(results, img[..., top : top + target_h, left : left + target_w])


@PIPELINES.register()
class RandomResizedCrop(Transform):
    """Crop a random area (``scale``) and aspect ratio (``ratio``), then resize to ``size``.

    Falls back to a centre crop after ``max_attempts`` (as mmcls and torchvision).

    ``efficientnet_style=True`` samples as TensorFlow's EfficientNet input pipeline (mmcls's
    option of that name): the aspect ratio is uniform in ``ratio``, the crop height uniform between
    the heights that give the smallest and largest area of ``scale``, and a crop covering less than
    ``min_covered`` of the image is rejected; the fallback is a centre square of
    ``size / (size + crop_padding)`` of the short side. ``size`` must then be square.
    """

    def __init__(
        self,
        size: Any,
        scale: Any = (0.08, 1.0),
        ratio: Any = (3.0 / 4.0, 4.0 / 3.0),
        max_attempts: int = 10,
        efficientnet_style: bool = False,
        min_covered: float = 0.1,
        crop_padding: int = 32,
        interpolation: str = "bilinear",
        backend: str = "cv2",
    ):
        _check_backend(backend)
        self.size = size_pair(size)
        if efficientnet_style and self.size[0] != self.size[1]:
            raise BuildError(f"RandomResizedCrop with efficientnet_style=True needs a square size, got {size!r}")
        if not 0 <= min_covered <= 1 or crop_padding < 0:
            raise BuildError("min_covered must be within [0, 1] and crop_padding >= 0")
        self.efficientnet_style = bool(efficientnet_style)
        self.min_covered = float(min_covered)
        self.crop_padding = crop_padding
        self.scale = as_range(scale, "scale")
        self.ratio = as_range(ratio, "ratio")
        if self.ratio[0] <= 0:
            raise BuildError(f"ratio must be positive, got {ratio!r}")
        if int(max_attempts) < 0:
            raise BuildError(f"max_attempts must be >= 0, got {max_attempts!r}")
        self.max_attempts = int(max_attempts)
        self.interpolation = interpolation
        self._mode = interpolation_mode(interpolation)
        self._log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))

    def crop_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """A random ``(top, left, h, w)`` crop of a ``height x width`` image."""
        if self.efficientnet_style:
            return self._efficientnet_box(height, width)
        area = height * width
        for _ in range(self.max_attempts):
            target_area = area * random.uniform(*self.scale)
            aspect = math.exp(random.uniform(*self._log_ratio))
            crop_w = int(round(math.sqrt(target_area * aspect)))
            crop_h = int(round(math.sqrt(target_area / aspect)))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                return random.randint(0, height - crop_h), random.randint(0, width - crop_w), crop_h, crop_w
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            crop_w, crop_h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            crop_h, crop_w = height, int(round(height * self.ratio[1]))
        else:
            crop_h, crop_w = height, width
        return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w

    def _efficientnet_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        area = height * width
        smallest, largest = self.scale[0] * area, self.scale[1] * area
        for _ in range(self.max_attempts):
            aspect = random.uniform(*self.ratio)
            tallest = min(height, int(round(math.sqrt(largest / aspect))))
            while tallest > 0 and tallest * aspect > width:  # the crop must fit the width too
                tallest -= 1
            shortest = min(tallest, int(round(math.sqrt(smallest / aspect))))
            crop_h = int(round(random.uniform(shortest, tallest)))
            crop_w = int(round(crop_h * aspect))
            crop_area = crop_h * crop_w
            if not (smallest <= crop_area <= largest and 0 < crop_w <= width and 0 < crop_h <= height
                    and crop_area >= self.min_covered * area):
                continue
            return random.randint(0, height - crop_h), random.randint(0, width - crop_w), crop_h, crop_w
        side = max(1, int(round(self.size[0] / (self.size[0] + self.crop_padding) * min(height, width))))
        return max(0, (height - side) // 2), max(0, (width - side) // 2), side, side

    def __call__(self, results: dict) -> dict:
        img = image_of(results)
        top, left, crop_h, crop_w = self.crop_box(img.shape[-2], img.shape[-1])
        img = F.resized_crop(img, top, left, crop_h, crop_w, list(self.size), interpolation=self._mode, antialias=True)
        return set_image(results, img)


@PIPELINES.register()
class RandomFlip(Transform):
    """Flip with probability ``flip_prob``; sets ``flip`` and ``flip_direction``."""

    def __init__(self, flip_prob: float = 0.5, direction: str = "horizontal"):
        self.flip_prob = check_probability(flip_prob, "flip_prob")
        if direction not in ("horizontal", "vertical"):
            raise BuildError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.direction = direction

    def __call__(self, results: dict) -> dict:
        flip = random.random() < self.flip_prob
        results["flip"] = flip
        results["flip_direction"] = self.direction
        if flip:
            img = image_of(results)
            results["img"] = img.flip(-1 if self.direction == "horizontal" else -2)
        return results


@PIPELINES.register()
class Pad(Transform):
    """Pad at the bottom and right to ``size`` ``(h, w)``, or to a square with ``pad_to_square``."""

    cacheable = True

    def __init__(self, size: Any = None, pad_to_square: bool = False, pad_val: Any = 0, padding_mode: str = "constant"):
        if (size is None) == (not pad_to_square):
            raise BuildError("Pad needs exactly one of size=(h, w) or pad_to_square=True")
        self.size = size_pair(size) if size is not None else None
        self.pad_to_square = pad_to_square
        self.pad_val = pad_val
        self.padding_mode = _check_padding_mode(padding_mode)

    def __call__(self, results: dict) -> dict:
        img = image_of(results)
        height, width = img.shape[-2:]
        target_h, target_w = (max(height, width),) * 2 if self.pad_to_square else self.size
        if target_h < height or target_w < width:
            raise DataError(
                f"Pad size {self.size} is smaller than the image ({height}x{width}) of {results.get('filename')}"
            )
        fill = fill_for(results, self.pad_val, img.shape[0]) if self.padding_mode == "constant" else None
        img = F.pad(img, [0, 0, target_w - width, target_h - height], fill=fill, padding_mode=self.padding_mode)
        return set_image(results, img)
