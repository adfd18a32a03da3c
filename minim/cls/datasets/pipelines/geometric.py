"""Geometric transforms with mmcls 0.x names and arguments, on uint8 ``C x H x W`` tensors.

Resizing follows ``backend`` as mmcv does (:mod:`._resize`): ``'cv2'`` (the default, OpenCV's
kernels without anti-aliasing) or ``'pillow'`` (Pillow's anti-aliased ones). Crop boxes, rounding
and padding are mmcls's. Random draws come from the generator mmcls uses for each step, in mmcls's
order: Python's ``random`` (crops; seeded per DataLoader worker by torch) and numpy's (``RandomFlip``;
seeded per worker by minim's loader), so a seeded run draws what mmcls draws.

Every step processes each key of ``results['img_fields']`` (default ``['img']``), as mmcls. Unlike
mmcls, the random crops draw one window for all fields (mmcls draws a new one per field, which
misaligns paired images while its ``RandomFlip`` flips them together): with one field, the draws
and pixels are mmcls's; with several, the first field's are.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
from torchvision.transforms.v2 import functional as F

from minim.errors import BuildError, DataError
from minim.cls.datasets.pipelines._image import (
    as_range,
    check_probability,
    common_size,
    field_images,
    fill_for,
    set_image,
    size_pair,
)
from minim.cls.datasets.pipelines._resize import CV2_INTERPOLATIONS, check_backend, check_interpolation, resize
from minim.cls.datasets.pipelines.compose import Transform
from minim.cls.datasets.registry import PIPELINES

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")
ADAPTIVE_SIDES = ("short", "long", "height", "width")


def _check_padding_mode(mode: str) -> str:
    if mode not in PADDING_MODES:
        raise BuildError(f"padding_mode must be one of {', '.join(PADDING_MODES)}, got {mode!r}")
    return mode


def center_box(height: int, width: int, crop_h: float, crop_w: float) -> tuple[int, int, int, int]:
    """mmcls's centre crop ``(top, left, bottom, right)`` (exclusive ends) of a ``height x width`` image.

    The offsets round half to even (Python's ``round``, as mmcls); a crop larger than the image keeps
    the image's extent on that side (no padding); fractional sizes (efficientnet style) end where
    ``mmcv.imcrop`` truncates them.
    """
    top = max(0, int(round((height - crop_h) / 2.0)))
    left = max(0, int(round((width - crop_w) / 2.0)))
    bottom = min(max(int(min(height, top + crop_h) - 1), 0), height - 1)
    right = min(max(int(min(width, left + crop_w) - 1), 0), width - 1)
    return top, left, bottom + 1, right + 1


def efficientnet_crop(side: int, crop_padding: int, height: int, width: int) -> float:
    """The (fractional) centre-crop side of efficientnet style: ``side / (side + crop_padding)`` of the short side."""
    return side / (side + crop_padding) * min(height, width)


@PIPELINES.register()
class Resize(Transform):
    """Resize to ``size``: an int or ``(h, w)`` gives that exact size (no aspect keeping, as mmcls);
    ``(n, -1)`` scales the ``adaptive_side`` (short, long, height or width) to ``n`` keeping the ratio
    (an image whose side is already ``n`` is kept as is).

    ``backend='cv2'`` (mmcls's default) resizes with OpenCV, ``'pillow'`` with Pillow, each with the
    interpolations mmcls allows for it (cv2: nearest, bilinear, bicubic, area, lanczos; pillow:
    nearest, bilinear, bicubic, box, lanczos, hamming).
    """

    cacheable = True

    def __init__(self, size: Any, interpolation: str = "bilinear", adaptive_side: str = "short", backend: str = "cv2"):
        self.backend = check_backend(backend)
        if adaptive_side not in ADAPTIVE_SIDES:
            raise BuildError(f"adaptive_side must be one of {', '.join(ADAPTIVE_SIDES)}, got {adaptive_side!r}")
        height, width = size_pair(size)
        if height <= 0 or (width <= 0 and width != -1):
            raise BuildError(f"Resize size must be positive, or (n, -1) to keep the aspect ratio; got {size!r}")
        self.size = (height, width)
        self.interpolation = check_interpolation(interpolation, backend)
        self.adaptive_side = adaptive_side

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
        for key, img in field_images(results).items():
            new_size = self.target_size(img.shape[-2], img.shape[-1])
            if tuple(img.shape[-2:]) != new_size:
                img = resize(img, *new_size, interpolation=self.interpolation, backend=self.backend)
            set_image(results, img, key)
        return results


@PIPELINES.register()
class CenterCrop(Transform):
    """Crop the centre ``crop_size`` (int or ``(h, w)``) as mmcls: a side of the image shorter than the
    crop is kept whole (no padding; an image smaller than the crop comes back uncropped).

    ``efficientnet_style=True`` crops ``crop_size / (crop_size + crop_padding)`` of the short side
    around the centre, then resizes it to ``crop_size`` with ``interpolation`` and ``backend``
    (cv2's interpolation names, as mmcls).
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
        self.crop_size = size_pair(crop_size, "crop_size")
        if min(self.crop_size) <= 0:
            raise BuildError(f"crop_size must be positive, got {crop_size!r}")
        self.efficientnet_style = bool(efficientnet_style)
        if self.efficientnet_style:
            if self.crop_size[0] != self.crop_size[1]:
                raise BuildError("CenterCrop with efficientnet_style=True needs a square (int) crop_size")
            if crop_padding < 0:
                raise BuildError(f"crop_padding must be >= 0, got {crop_padding!r}")
            check_backend(backend)
            check_interpolation(interpolation, backend, CV2_INTERPOLATIONS)
        self.crop_padding = crop_padding
        self.interpolation = interpolation
        self.backend = backend

    def __call__(self, results: dict) -> dict:
        for key, img in field_images(results).items():
            set_image(results, self.crop(img), key)
        return results

    def crop(self, img):
        """The centre crop of one ``C x H x W`` image."""
        height, width = img.shape[-2:]
        crop_h, crop_w = self.crop_size
        if self.efficientnet_style:
            crop_h = crop_w = efficientnet_crop(crop_h, self.crop_padding, height, width)
        top, left, bottom, right = center_box(height, width, crop_h, crop_w)
        img = img[..., top:bottom, left:right]
        if self.efficientnet_style:
            img = resize(img, *self.crop_size, interpolation=self.interpolation, backend=self.backend)
        return img


@PIPELINES.register()
class RandomCrop(Transform):
    """Crop a random ``size`` window, after optional ``padding`` (int, (lr, tb) or (l, t, r, b)).

    As mmcls: ``padding`` always pads with the constant ``pad_val`` (mmcls passes ``padding_mode``
    only to the ``pad_if_needed`` padding: a bug, matched), a scalar ``pad_val`` fills the first
    channel of mmcls's order only (see :class:`Pad`), and an image of exactly ``size`` is kept
    without drawing random numbers.
    """

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

    def _pad(self, results: dict, img, padding, mode: str):
        fill = fill_for(results, self.pad_val, img.shape[0]) if mode == "constant" else None
        return F.pad(img, padding, fill=fill, padding_mode=mode)

    def _padded(self, results: dict, img):
        if self.padding is not None:
            img = self._pad(results, img, self.padding, "constant")
        target_h, target_w = self.size
        if self.pad_if_needed and img.shape[-2] < target_h:
            extra = target_h - img.shape[-2]
            img = self._pad(results, img, [0, extra, 0, extra], self.padding_mode)
        if self.pad_if_needed and img.shape[-1] < target_w:
            extra = target_w - img.shape[-1]
            img = self._pad(results, img, [extra, 0, extra, 0], self.padding_mode)
        return img

    def __call__(self, results: dict) -> dict:
        images = {key: self._padded(results, img) for key, img in field_images(results).items()}
        if not images:  # an empty img_fields: nothing to crop, nothing drawn (as mmcls)
            return results
        height, width = common_size(images, "RandomCrop")
        target_h, target_w = self.size
        if height < target_h or width < target_w:
            raise DataError(
                f"RandomCrop size {self.size} is larger than the image ({height}x{width}) of "
                f"{results.get('filename')}; set pad_if_needed=True or resize first"
            )
        top = left = 0
        if (height, width) != (target_h, target_w):
            top = random.randint(0, height - target_h)
            left = random.randint(0, width - target_w)
        for key, img in images.items():
            set_image(results, img[..., top : top + target_h, left : left + target_w], key)
        return results


@PIPELINES.register()
class RandomResizedCrop(Transform):
    """Crop a random area (``scale``) and aspect ratio (``ratio``), then resize to ``size``.

    Falls back to a centre crop after ``max_attempts`` (as mmcls and torchvision).

    ``efficientnet_style=True`` samples as TensorFlow's EfficientNet input pipeline (mmcls's
    option of that name): the aspect ratio is uniform in ``ratio``, the crop height uniform between
    the heights that give the smallest and largest area of ``scale``, and a crop covering less than
    ``min_covered`` of the image is rejected; the fallback is :class:`CenterCrop`'s efficientnet
    box. ``size`` must then be square. The crop is resized with ``interpolation`` (cv2's names, as
    mmcls) and ``backend``.
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
        self.backend = check_backend(backend)
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
        self.interpolation = check_interpolation(interpolation, backend, CV2_INTERPOLATIONS)
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
            shortest = int(round(math.sqrt(smallest / aspect)))
            tallest = int(round(math.sqrt(largest / aspect)))
            if tallest * aspect > width:  # the crop must fit the width too
                tallest = int((width + 0.5 - 1e-7) / aspect)
                if tallest * aspect > width:
                    tallest -= 1
            tallest = min(tallest, height)
            shortest = min(tallest, shortest)
            crop_h = int(round(random.uniform(shortest, tallest)))
            crop_w = int(round(crop_h * aspect))
            crop_area = crop_h * crop_w
            if not (smallest <= crop_area <= largest and 0 < crop_w <= width and 0 < crop_h <= height
                    and crop_area >= self.min_covered * area):
                continue
            return random.randint(0, height - crop_h), random.randint(0, width - crop_w), crop_h, crop_w
        side = efficientnet_crop(self.size[0], self.crop_padding, height, width)
        top, left, bottom, right = center_box(height, width, side, side)
        return top, left, bottom - top, right - left

    def __call__(self, results: dict) -> dict:
        images = field_images(results)
        if not images:  # an empty img_fields: nothing to crop, nothing drawn (as mmcls)
            return results
        top, left, crop_h, crop_w = self.crop_box(*common_size(images, "RandomResizedCrop"))
        for key, img in images.items():
            img = img[..., top : top + crop_h, left : left + crop_w]
            set_image(results, resize(img, *self.size, interpolation=self.interpolation, backend=self.backend), key)
        return results


@PIPELINES.register()
class RandomFlip(Transform):
    """Flip every image field with probability ``flip_prob`` (one draw from numpy's generator, as mmcls);
    sets ``flip`` and ``flip_direction``."""

    def __init__(self, flip_prob: float = 0.5, direction: str = "horizontal"):
        self.flip_prob = check_probability(flip_prob, "flip_prob")
        if direction not in ("horizontal", "vertical"):
            raise BuildError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.direction = direction

    def __call__(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.flip_prob)
        results["flip"] = flip
        results["flip_direction"] = self.direction
        if flip:
            for key, img in field_images(results).items():
                results[key] = img.flip(-1 if self.direction == "horizontal" else -2)
        return results


@PIPELINES.register()
class Pad(Transform):
    """Pad at the bottom and right to ``size`` ``(h, w)``, or to a square with ``pad_to_square``.

    As mmcls (``mmcv.impad``): a side already longer than ``size`` is left as it is (no crop, no
    error), and a scalar ``pad_val`` fills only the first channel of mmcls's order (OpenCV reads a
    number as the colour ``(v, 0, 0, 0)``: ``pad_val=128`` pads a BGR image with blue 128). That is
    an mmcls bug, matched; give a per-channel ``pad_val`` such as ``(128, 128, 128)`` for grey.
    """

    cacheable = True

    def __init__(self, size: Any = None, pad_to_square: bool = False, pad_val: Any = 0, padding_mode: str = "constant"):
        if (size is None) == (not pad_to_square):
            raise BuildError("Pad needs exactly one of size=(h, w) or pad_to_square=True")
        self.size = size_pair(size) if size is not None else None
        self.pad_to_square = pad_to_square
        self.pad_val = pad_val
        self.padding_mode = _check_padding_mode(padding_mode)

    def __call__(self, results: dict) -> dict:
        for key, img in field_images(results).items():
            height, width = img.shape[-2:]
            target_h, target_w = (max(height, width),) * 2 if self.pad_to_square else self.size
            extra_h, extra_w = max(target_h - height, 0), max(target_w - width, 0)
            if extra_h or extra_w:
                fill = fill_for(results, self.pad_val, img.shape[0]) if self.padding_mode == "constant" else None
                img = F.pad(img, [0, 0, extra_w, extra_h], fill=fill, padding_mode=self.padding_mode)
            set_image(results, img, key)
        return results
