"""``Compose``: build a list of transform configs and run them over a results dict."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from minim.errors import BuildError
from minim.cls.datasets.registry import PIPELINES


class Transform:
    """Base of minim's transforms.

    ``cacheable = True`` marks a deterministic transform: the leading run of such transforms
    (e.g. ``LoadImageFromFile`` then a fixed ``Resize``) may be computed once per image and cached.
    """

    cacheable = False
    #: True for steps that never change pixel values (formatting): they may follow a Normalize left to the device
    pixel_preserving = False
    #: True for the step whose arithmetic the device may take over for whole batches (``Normalize``)
    device_normalizable = False

    def __call__(self, results: dict) -> dict | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def for_device(self) -> "Transform | None":
        """This step as it runs when the device normalizes the batch: itself unless a subclass says otherwise;
        None when it cannot run that way."""
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def build_transform(cfg: Any) -> Callable[[dict], Any]:
    """A transform from a config dict (``type`` + arguments) or a ready callable."""
    if isinstance(cfg, Mapping):
        return PIPELINES.build(cfg)
    if callable(cfg):
        return cfg
    raise BuildError(f"a pipeline step must be a dict with a 'type' key or a callable, got {cfg!r}")


class Compose:
    """Run transforms in order; a transform returning None drops the sample (mmcls semantics)."""

    def __init__(self, transforms: Iterable[Any] = ()):
        if isinstance(transforms, Mapping) or isinstance(transforms, str):
            raise BuildError(f"a pipeline must be a list of transform dicts, got {transforms!r}")
        self.transforms = [build_transform(t) for t in transforms]

    @property
    def num_cacheable(self) -> int:
        """Length of the leading run of deterministic (cacheable) transforms."""
        count = 0
        for transform in self.transforms:
            if not getattr(transform, "cacheable", False):
                break
            count += 1
        return count

    def __call__(self, results: dict, start: int = 0, stop: int | None = None) -> dict | None:
        for transform in self.transforms[start:stop]:
            results = transform(results)
            if results is None:
                return None
        return results

    def for_device(self) -> tuple["Compose", Any] | None:
        """``(pipeline, normalize)``: a new pipeline that leaves the arithmetic of this one's single
        ``Normalize`` on ``img`` to the device, and that ``Normalize`` (its ``mean``, ``std``). None when there
        is no single Normalize or a step after it may change pixel values. This pipeline is not changed."""
        found = [i for i, t in enumerate(self.transforms) if getattr(t, "device_normalizable", False)]
        if len(found) != 1:
            return None
        at = found[0]
        if not all(getattr(t, "pixel_preserving", False) for t in self.transforms[at + 1:]):
            return None
        steps = [t.for_device() for t in self.transforms[at:]]
        if any(step is None for step in steps):
            return None
        return Compose(self.transforms[:at] + steps), self.transforms[at]

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


PIPELINES.register("Compose")(Compose)
