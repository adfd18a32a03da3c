"""The 14 image ops of mmcls 0.25's ``AutoAugment``/``RandAugment``, under mmcls's names, with mmcv 1.7's pixels.

Every op is also a pipeline step of its own, with mmcls's arguments, defaults and checks. It runs on
the ``H x W x C`` array mmcls would hold at that point (channel order from ``mmcls_order``), with the
same OpenCV and numpy arithmetic as mmcv: ``cv2.warpAffine`` for Shear, Translate and Rotate; OpenCV's
BGR-to-grey weights on mmcls's array for Contrast and ColorTransform (so on CIFAR's RGB arrays red
gets blue's weight, as in mmcls); float32 blends clipped and truncated to uint8 for Brightness,
Contrast and Sharpness. ``pad_val`` is in mmcls's channel order, as mmcls configs give it.

Randomness is mmcls's, from numpy's global generator and in mmcls's order: each op draws
``np.random.rand()`` and is skipped when that exceeds ``prob``; an op with a magnitude then draws once
more and negates the magnitude when that is below ``random_negative_prob``; ``Cutout`` draws its
centre (row, then column) with ``np.random.uniform``. Like mmcls, ops apply to every key of
``results['img_fields']`` (default ``['img']``) with the same magnitude.

Beyond mmcls: ``angle`` and ``scale`` may be ints, ``center`` and Cutout's ``shape`` lists; bad
``interpolation`` names fail when the step is built, not on the first image. AutoContrast, Equalize
and Posterize need uint8 images (other dtypes fail in mmcls too); they process every channel, where
mmcls keeps only the first three.
"""

from __future__ import annotations

from math import ceil
from numbers import Number
from typing import Any, Callable, Sequence

import numpy as np

from minim.errors import BuildError, DataError
from minim.cls.datasets.pipelines._image import check_probability, image_fields, image_of, orders_differ
from minim.cls.datasets.pipelines._resize import _chw_tensor, _hwc_array, check_interpolation, cv2_flag, cv2_module
from minim.cls.datasets.pipelines.compose import Transform
from minim.cls.datasets.registry import PIPELINES

DIRECTIONS = ("horizontal", "vertical")
#: mmcv's ``adjust_sharpness`` blur: Pillow's SMOOTH filter
_SMOOTH = np.array([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13

ArrayOp = Callable[[np.ndarray], np.ndarray]


# -- argument checks ---------------------------------------------------------------------------


def _number(value: Any, op: str, name: str) -> Any:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise BuildError(f"{op} {name} must be an int or a float, got {value!r}")
    return value


def _direction(value: Any, op: str) -> str:
    if value not in DIRECTIONS:
        raise BuildError(f"{op} direction must be 'horizontal' or 'vertical', got {value!r}")
    return value


def _pad_val(value: Any, op: str, ints: bool = True) -> tuple:
    """mmcls's ``pad_val``: an int for all three channels, or three values (ints for the warping ops)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * 3
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3:
        if not ints or all(isinstance(v, int) for v in value):
            return tuple(value)
    kind = "ints" if ints else "numbers"
    raise BuildError(f"{op} pad_val must be an int or 3 {kind} (in mmcls's channel order), got {value!r}")


# -- the array each op sees --------------------------------------------------------------------


def _channel_permutation(results: dict, channels: int) -> list[int] | None:
    """How to index the tensor's channels to get mmcls's order (None: the orders agree)."""
    if channels in (3, 4) and orders_differ(results):
        return [2, 1, 0, 3][:channels]
    return None


def _on_mmcls_array(results: dict, key: str, op: ArrayOp) -> Any:
    """``results[key]`` through ``op``, run on the ``H x W x C`` array mmcls would hold, as a tensor again.

    ``op``'s result is cast to the image's dtype as mmcls does (``astype``: uint8 truncates); the
    tensor keeps its channel order.
    """
    tensor = image_of(results, key)
    array = _hwc_array(tensor)
    order = _channel_permutation(results, tensor.shape[0])
    if order is not None:
        array = np.ascontiguousarray(array[:, :, order])
    out = op(array).astype(array.dtype, copy=False)
    if order is not None:
        out = out[:, :, order]  # the permutation is its own inverse
    return _chw_tensor(np.ascontiguousarray(out))


def _check_fill(array: np.ndarray, pad_val: tuple, op: str) -> None:
    channels = 1 if array.ndim == 2 else array.shape[2]
    if len(pad_val) != channels:
        raise DataError(f"{op} pad_val {pad_val} has {len(pad_val)} values but the image has {channels} channel(s)")


def _need_uint8(array: np.ndarray, op: str) -> np.ndarray:
    if array.dtype != np.uint8:
        raise DataError(f"{op} needs a uint8 image (as in mmcls), got {array.dtype}: put it before Normalize")
    return array


def _need_color(array: np.ndarray, op: str) -> np.ndarray:
    if array.ndim != 3 or array.shape[2] != 3:
        raise DataError(f"{op} needs a 3-channel image (as in mmcls), got shape {array.shape}")
    return array


# -- pixel functions (mmcv 1.7's arithmetic) -----------------------------------------------------


def _warp(array: np.ndarray, matrix: np.ndarray, pad_val: tuple, interpolation: str) -> np.ndarray:
    cv2 = cv2_module()
    height, width = array.shape[:2]
    return cv2.warpAffine(array, matrix, (width, height), flags=cv2_flag(interpolation),
                          borderMode=cv2.BORDER_CONSTANT, borderValue=pad_val)


def _blend(array: np.ndarray, other: np.ndarray, factor: float) -> np.ndarray:
    """``array * factor + other * (1 - factor)`` in float32, clipped to [0, 255] (mmcv's enhance blend)."""
    blended = cv2_module().addWeighted(array.astype(np.float32), factor, other.astype(np.float32), 1 - factor, 0)
    return np.clip(blended, 0, 255)


def _gray(array: np.ndarray) -> np.ndarray:
    """mmcv's ``bgr2gray`` of the array (OpenCV's weights, the array's channel 0 taken as blue)."""
    cv2 = cv2_module()
    return cv2.cvtColor(array, cv2.COLOR_BGR2GRAY)


def _per_channel(array: np.ndarray, channel_op: ArrayOp) -> np.ndarray:
    if array.ndim == 2:
        return channel_op(array)
    return np.stack([channel_op(array[:, :, c]) for c in range(array.shape[2])], axis=-1)


def _stretch_channel(channel: np.ndarray) -> np.ndarray:
    """Map the channel's darkest value to 0 and its lightest to 255 (float, truncated later)."""
    present = np.flatnonzero(np.bincount(channel.ravel(), minlength=256))
    low, high = present[0], present[-1]
    if low >= high:
        return channel
    scale = 255.0 / (high - low)
    table = np.clip(np.arange(256) * scale + (-low * scale), 0, 255)
    return table[channel]


def _equalize_channel(channel: np.ndarray) -> np.ndarray:
    """Histogram equalisation with Pillow's rounding, as mmcv's ``imequalize``."""
    histogram = np.bincount(channel.ravel(), minlength=256)
    used = histogram[histogram > 0]
    step = (used.sum() - used[-1]) // 255
    if not step:
        return channel
    table = (np.cumsum(histogram) + step // 2) // step
    table = np.minimum(np.concatenate(([0], table[:-1])), 255)
    return table[channel]


# -- the ops -----------------------------------------------------------------------------------


class _AugmentOp(Transform):
    """An op applied with probability ``prob`` (one ``np.random.rand()`` per call, as mmcls)."""

    def __init__(self, prob: float):
        self.prob = check_probability(_number(prob, type(self).__name__, "prob"), "prob")

    def _pixels(self) -> ArrayOp:  # pragma: no cover - abstract
        """The array function of this call (drawing what the op draws before touching pixels)."""
        raise NotImplementedError

    def __call__(self, results: dict) -> dict:
        if np.random.rand() > self.prob:
            return results
        pixels = self._pixels()
        for key in image_fields(results):
            results[key] = _on_mmcls_array(results, key, pixels)
        return results


class _SignedOp(_AugmentOp):
    """An op whose magnitude is negated with probability ``random_negative_prob``."""

    def __init__(self, magnitude: float, prob: float, random_negative_prob: float, name: str = "magnitude"):
        super().__init__(prob)
        self.random_negative_prob = check_probability(
            _number(random_negative_prob, type(self).__name__, "random_negative_prob"), "random_negative_prob"
        )
        self._magnitude_name = name
        setattr(self, name, _number(magnitude, type(self).__name__, name))

    def _signed(self) -> float:
        magnitude = getattr(self, self._magnitude_name)
        return -magnitude if np.random.rand() < self.random_negative_prob else magnitude


class _WarpOp(_SignedOp):
    """Shear and Translate: an affine warp along ``direction`` with constant ``pad_val`` borders."""

    def __init__(self, magnitude, pad_val, prob, direction, random_negative_prob, interpolation):
        super().__init__(magnitude, prob, random_negative_prob)
        self.pad_val = _pad_val(pad_val, type(self).__name__)
        self.direction = _direction(direction, type(self).__name__)
        self.interpolation = check_interpolation(interpolation, "cv2")

    def _matrix(self, magnitude: float, height: int, width: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pixels(self) -> ArrayOp:
        magnitude = self._signed()

        def warp(array: np.ndarray) -> np.ndarray:
            _check_fill(array, self.pad_val, type(self).__name__)
            matrix = self._matrix(magnitude, *array.shape[:2])
            return _warp(array, matrix, self.pad_val, self.interpolation)

        return warp


@PIPELINES.register()
class Shear(_WarpOp):
    """Shear by ``magnitude`` (the shear factor) along ``direction``; bicubic by default."""

    def __init__(self, magnitude: float, pad_val: Any = 128, prob: float = 0.5, direction: str = "horizontal",
                 random_negative_prob: float = 0.5, interpolation: str = "bicubic"):
        super().__init__(magnitude, pad_val, prob, direction, random_negative_prob, interpolation)

    def _matrix(self, magnitude: float, height: int, width: int) -> np.ndarray:
        if self.direction == "horizontal":
            return np.float32([[1, magnitude, 0], [0, 1, 0]])
        return np.float32([[1, 0, 0], [magnitude, 1, 0]])


@PIPELINES.register()
class Translate(_WarpOp):
    """Shift by ``magnitude`` times the image's width (or height, ``direction='vertical'``)."""

    def __init__(self, magnitude: float, pad_val: Any = 128, prob: float = 0.5, direction: str = "horizontal",
                 random_negative_prob: float = 0.5, interpolation: str = "nearest"):
        super().__init__(magnitude, pad_val, prob, direction, random_negative_prob, interpolation)

    def _matrix(self, magnitude: float, height: int, width: int) -> np.ndarray:
        if self.direction == "horizontal":
            return np.float32([[1, 0, magnitude * width], [0, 1, 0]])
        return np.float32([[1, 0, 0], [0, 1, magnitude * height]])


@PIPELINES.register()
class Rotate(_SignedOp):
    """Rotate clockwise by ``angle`` degrees about ``center`` (``(x, y)``; default the image centre)."""

    def __init__(self, angle: float, center: Any = None, scale: float = 1.0, pad_val: Any = 128, prob: float = 0.5,
                 random_negative_prob: float = 0.5, interpolation: str = "nearest"):
        super().__init__(angle, prob, random_negative_prob, name="angle")
        if center is not None:
            if not isinstance(center, (tuple, list)) or len(center) != 2:
                raise BuildError(f"Rotate center must be None or an (x, y) pair, got {center!r}")
            center = tuple(_number(v, "Rotate", "center") for v in center)
        self.center = center
        self.scale = _number(scale, "Rotate", "scale")
        self.pad_val = _pad_val(pad_val, "Rotate")
        self.interpolation = check_interpolation(interpolation, "cv2")

    def _pixels(self) -> ArrayOp:
        angle = self._signed()

        def rotate(array: np.ndarray) -> np.ndarray:
            height, width = array.shape[:2]
            center = self.center if self.center is not None else ((width - 1) * 0.5, (height - 1) * 0.5)
            matrix = cv2_module().getRotationMatrix2D(center, -angle, self.scale)
            return _warp(array, matrix, self.pad_val, self.interpolation)

        return rotate


@PIPELINES.register()
class AutoContrast(_AugmentOp):
    """Stretch each channel so its darkest value becomes 0 and its lightest 255."""

    def __init__(self, prob: float = 0.5):
        super().__init__(prob)

    def _pixels(self) -> ArrayOp:
        return lambda array: _per_channel(_need_uint8(array, "AutoContrast"), _stretch_channel)


@PIPELINES.register()
class Invert(_AugmentOp):
    """``255 - pixel``."""

    def __init__(self, prob: float = 0.5):
        super().__init__(prob)

    def _pixels(self) -> ArrayOp:
        return lambda array: np.full_like(array, 255) - array


@PIPELINES.register()
class Equalize(_AugmentOp):
    """Equalise each channel's histogram."""

    def __init__(self, prob: float = 0.5):
        super().__init__(prob)

    def _pixels(self) -> ArrayOp:
        return lambda array: _per_channel(_need_uint8(array, "Equalize"), _equalize_channel)


@PIPELINES.register()
class Solarize(_AugmentOp):
    """Invert the pixels at or above ``thr``."""

    def __init__(self, thr: float, prob: float = 0.5):
        super().__init__(prob)
        self.thr = _number(thr, "Solarize", "thr")

    def _pixels(self) -> ArrayOp:
        return lambda array: np.where(array < self.thr, array, 255 - array)


@PIPELINES.register()
class SolarizeAdd(_AugmentOp):
    """Add ``magnitude`` to the pixels below ``thr`` (capped at 255)."""

    def __init__(self, magnitude: float, thr: float = 128, prob: float = 0.5):
        super().__init__(prob)
        self.magnitude = _number(magnitude, "SolarizeAdd", "magnitude")
        self.thr = _number(thr, "SolarizeAdd", "thr")

    def _pixels(self) -> ArrayOp:
        return lambda array: np.where(array < self.thr, np.minimum(array + self.magnitude, 255), array)


@PIPELINES.register()
class Posterize(_AugmentOp):
    """Keep the ``ceil(bits)`` high bits of every value (``bits <= 8``)."""

    def __init__(self, bits: float, prob: float = 0.5):
        super().__init__(prob)
        if not isinstance(bits, Number) or isinstance(bits, bool) or bits > 8:
            raise BuildError(f"Posterize bits must be a number <= 8, got {bits!r}")
        self.bits = ceil(bits)

    def _pixels(self) -> ArrayOp:
        shift = 8 - self.bits

        def posterize(array: np.ndarray) -> np.ndarray:
            return np.left_shift(np.right_shift(_need_uint8(array, "Posterize"), shift), shift)

        return posterize


@PIPELINES.register()
class Contrast(_SignedOp):
    """Blend with the image's mean grey: factor ``1 + magnitude`` (0 gives the image)."""

    def __init__(self, magnitude: float, prob: float = 0.5, random_negative_prob: float = 0.5):
        super().__init__(magnitude, prob, random_negative_prob)

    def _pixels(self) -> ArrayOp:
        factor = 1 + self._signed()

        def contrast(array: np.ndarray) -> np.ndarray:
            gray = _gray(_need_color(array, "Contrast"))
            counted = np.count_nonzero((gray >= 0) & (gray <= 255))  # mmcv's histogram over [0, 255]
            mean = round(np.sum(gray) / counted)
            return _blend(array, np.full_like(array, mean), factor)

        return contrast


@PIPELINES.register()
class ColorTransform(_SignedOp):
    """Blend with the grey image: saturation factor ``1 + magnitude`` (OpenCV's uint8 rounding)."""

    def __init__(self, magnitude: float, prob: float = 0.5, random_negative_prob: float = 0.5):
        super().__init__(magnitude, prob, random_negative_prob)

    def _pixels(self) -> ArrayOp:
        alpha = 1 + self._signed()

        def color(array: np.ndarray) -> np.ndarray:
            gray = np.repeat(_gray(_need_color(array, "ColorTransform"))[:, :, None], 3, axis=2)
            blended = cv2_module().addWeighted(array, alpha, gray, 1 - alpha, 0)
            return blended if blended.dtype == np.uint8 else np.clip(blended, 0, 255)

        return color


@PIPELINES.register()
class Brightness(_SignedOp):
    """Scale every value by ``1 + magnitude``."""

    def __init__(self, magnitude: float, prob: float = 0.5, random_negative_prob: float = 0.5):
        super().__init__(magnitude, prob, random_negative_prob)

    def _pixels(self) -> ArrayOp:
        factor = 1 + self._signed()
        return lambda array: _blend(array, np.zeros_like(array), factor)


@PIPELINES.register()
class Sharpness(_SignedOp):
    """Blend with a 3x3-smoothed copy: factor ``1 + magnitude`` (> 1 sharpens)."""

    def __init__(self, magnitude: float, prob: float = 0.5, random_negative_prob: float = 0.5):
        super().__init__(magnitude, prob, random_negative_prob)

    def _pixels(self) -> ArrayOp:
        factor = 1 + self._signed()
        return lambda array: _blend(array, cv2_module().filter2D(array, -1, _SMOOTH), factor)


@PIPELINES.register()
class Cutout(_AugmentOp):
    """Fill a ``shape`` (``(h, w)`` or one side) rectangle around a random centre with ``pad_val``."""

    def __init__(self, shape: Any, pad_val: Any = 128, prob: float = 0.5):
        super().__init__(prob)
        if isinstance(shape, (tuple, list)) and len(shape) == 2 and all(isinstance(v, Number) for v in shape):
            shape = tuple(int(v) for v in shape)
        elif isinstance(shape, Number) and not isinstance(shape, bool):
            shape = int(shape)
        else:
            raise BuildError(f"Cutout shape must be a number or an (h, w) pair, got {shape!r}")
        self.shape = shape
        self.pad_val = _pad_val(pad_val, "Cutout", ints=False)

    def _pixels(self) -> ArrayOp:
        cut_h, cut_w = (self.shape, self.shape) if isinstance(self.shape, int) else self.shape

        def cutout(array: np.ndarray) -> np.ndarray:
            _check_fill(array, self.pad_val, "Cutout")
            height, width = array.shape[:2]
            center_y, center_x = np.random.uniform(height), np.random.uniform(width)  # mmcv's draws, as written
            top, left = int(max(0, center_y - cut_h / 2.0)), int(max(0, center_x - cut_w / 2.0))
            out = array.copy()
            out[top : min(height, top + cut_h), left : min(width, left + cut_w)] = np.array(self.pad_val, dtype=array.dtype)
            return out

        return cutout
