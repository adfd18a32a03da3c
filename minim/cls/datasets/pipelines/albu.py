"""``Albu``: run an albumentations pipeline inside a minim pipeline, as mmcls's wrapper of that name.

albumentations is optional (``pip install albumentations``): it is imported when an ``Albu`` step is
built. The images handed to it are the arrays mmcls would hand over (``H x W x C`` uint8, in mmcls's
channel order: BGR after ``LoadImageFromFile``), so colour transforms see what they saw in mmcls;
the image comes back as that array (``channel_order`` becomes ``mmcls_order``, as after ``ToPIL``),
which later steps read as any image.

Randomness: albumentations 2 gives each ``Compose`` its own generator, fixed when it is built, so
every DataLoader worker (a copy of it) would draw the same augmentations. ``Albu`` reseeds it from
numpy's global generator on every call instead, as albumentations drew from the global generators in
mmcls's time: runs follow minim's seed, and workers (seeded apart by minim's loader) differ.
"""

from __future__ import annotations

import copy
import random
from typing import Any, Mapping, Sequence

import numpy as np

from minim.errors import BuildError, DataError
from minim.cls.datasets.pipelines._image import image_fields, mmcls_array
from minim.cls.datasets.pipelines.compose import Transform
from minim.cls.datasets.registry import PIPELINES


def _albumentations() -> Any:
    """albumentations 2.x (whose generators :class:`Albu` reseeds), or a :class:`BuildError` naming the install."""
    try:
        import albumentations  # lazy: optional package (minim[albu])
    except ImportError:
        raise BuildError("Albu needs albumentations, which is not installed: pip install albumentations") from None
    if int(albumentations.__version__.split(".")[0]) < 2:
        raise BuildError(f"Albu needs albumentations >= 2.0, found {albumentations.__version__}: "
                         "pip install -U albumentations")
    return albumentations


def build_albu(cfg: Any, albumentations: Any) -> Any:
    """An albumentations transform from ``dict(type=..., **args)`` (``type``: a name in albumentations or a class);
    a ``transforms`` list inside (``OneOf``, ``Compose``, ...) is built the same way."""
    if not isinstance(cfg, Mapping) or "type" not in cfg:
        raise BuildError(f"each Albu transform must be a dict with a 'type' key, got {cfg!r}")
    args = dict(cfg)
    kind = args.pop("type")
    if isinstance(kind, str):
        cls = getattr(albumentations, kind, None)
        if not isinstance(cls, type):
            raise BuildError(f"albumentations has no transform {kind!r} (albumentations {albumentations.__version__})")
    elif isinstance(kind, type):
        cls = kind
    else:
        raise BuildError(f"an Albu transform type must be a name or a class, got {kind!r}")
    if "transforms" in args:
        args["transforms"] = [build_albu(inner, albumentations) for inner in args["transforms"]]
    try:
        return cls(**args)
    except Exception as exc:  # albumentations validates with pydantic: many lines
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items() if k != "transforms")
        raise BuildError(f"albumentations.{cls.__name__}({shown}) failed: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@PIPELINES.register()
class Albu(Transform):
    """Apply albumentations ``transforms`` (dicts with ``type`` and the transform's arguments).

    As mmcls: the whole results dict goes through ``albumentations.Compose`` with its keys renamed by
    ``keymap`` (default ``{'img': 'image'}``) and back; ``gt_label`` is kept as it was; with
    ``update_pad_shape`` the image's shape is stored as ``pad_shape``.
    """

    def __init__(
        self, transforms: Sequence[Any], keymap: Mapping[str, str] | None = None, update_pad_shape: bool = False
    ):
        albumentations = _albumentations()
        if isinstance(transforms, (str, Mapping)):
            raise BuildError(f"Albu transforms must be a list of dicts, got {transforms!r}")
        self.transforms = list(transforms)
        self.keymap = dict(keymap) if keymap else {"img": "image"}
        self.update_pad_shape = bool(update_pad_shape)
        self._keymap_back = {value: key for key, value in self.keymap.items()}
        self._aug = albumentations.Compose([build_albu(t, albumentations) for t in self.transforms])

    def __call__(self, results: dict) -> dict:
        label = copy.deepcopy(results.get("gt_label"))
        for key in image_fields(results):
            if key in self.keymap and key in results:
                results[key] = mmcls_array(results, key)
        renamed = {self.keymap.get(key, key): value for key, value in results.items()}
        seed = int(np.random.randint(2**31))
        self._aug.set_random_state(np.random.default_rng(seed), random.Random(seed))
        try:
            augmented = self._aug(**renamed)
        except Exception as exc:
            raise DataError(f"Albu failed on {results.get('filename')}: {_first_line(exc)}") from None
        results = {self._keymap_back.get(key, key): value for key, value in augmented.items()}
        if label is not None:
            results["gt_label"] = label
        if self.update_pad_shape:
            results["pad_shape"] = results["img"].shape
        return results
