"""What an exported classifier says about itself (see :mod:`minim.cls.apis.export_format`), built from its
model and config."""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

import minim
import minim.cls.datasets.pipelines  # noqa: F401 - registers the transforms
from minim.cls.analysis.complexity import input_shape
from minim.cls.apis.export_format import FORMAT, VERSION
from minim.cls.apis.inference import test_pipeline_of
from minim.cls.datasets.pipelines._image import size_pair
from minim.cls.datasets.registry import PIPELINES
from minim.cls.models.heads.common import MultiLabelClsHead
from minim.errors import ConfigError

_RESIZES = ("Resize",)
_CROPS = ("CenterCrop",)


def test_pipeline_steps(cfg) -> list[dict]:
    """The config's ``data.test.pipeline`` as plain JSON-able dicts."""
    return [_plain(step) for step in test_pipeline_of(cfg)]


def _plain(value: Any) -> Any:
    """Config values (ConfigDicts, tuples, numpy scalars) as JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ConfigError(f"test pipeline value {value!r} ({type(value).__name__}) cannot be stored in an exported model")


def pipeline_output_size(steps: Sequence[Mapping]) -> tuple[int, int] | None:
    """``(H, W)`` of every image after ``steps`` when the last resize or crop fixes it, else None."""
    size = None
    for step in steps:
        kind = step.get("type")
        if kind == "CenterCrop":
            size = size_pair(step["crop_size"], "crop_size")
        elif kind in _RESIZES:
            keeps_aspect = isinstance(step["size"], (list, tuple)) and -1 in step["size"]
            size = None if keeps_aspect else size_pair(step["size"])
    return size


def export_input_shape(shape: Sequence[int] | None, cfg) -> tuple[int, int, int]:
    """``(C, H, W)`` to export at: ``--shape`` when given, else the size the test pipeline produces,
    else 224 x 224."""
    return input_shape(shape or pipeline_output_size(test_pipeline_steps(cfg)))


def describe_model(model, input_shape: Sequence[int], *, dynamic_batch: bool, input_name: str = "input",
                   output_name: str = "probs") -> dict[str, Any]:
    """The description of ``model`` (from ``init_model``: its ``CLASSES`` and ``cfg``) exported at ``input_shape``."""
    kind = "sigmoid" if isinstance(model.head, MultiLabelClsHead) else "softmax"
    return describe(model.CLASSES, model.cfg, input_shape, dynamic_batch=dynamic_batch, input_name=input_name,
                    output_name=output_name, output_kind=kind)


def describe(classes: Sequence[str], cfg, input_shape: Sequence[int], *, dynamic_batch: bool,
             input_name: str, output_name: str, output_kind: str = "softmax") -> dict[str, Any]:
    """The description of a model exported from ``cfg`` with input ``1 x input_shape`` (C, H, W)."""
    steps = test_pipeline_steps(cfg)
    normalize = _last(steps, ("Normalize",))
    if normalize is None:
        raise ConfigError("the test pipeline has no Normalize step: an exported model needs its mean and std")
    return {
        "format": FORMAT,
        "version": VERSION,
        "minim_version": minim.__version__,
        "classes": [str(c) for c in classes],
        "input": {"name": input_name, "shape": [1, *map(int, input_shape)], "dynamic_batch": bool(dynamic_batch),
                  "layout": "NCHW", "dtype": "float32",
                  "channel_order": "RGB" if normalize.get("to_rgb", True) else "BGR"},
        "output": {"name": output_name, "kind": output_kind},
        "mean": [float(m) for m in normalize["mean"]],
        "std": [float(s) for s in normalize["std"]],
        "resize": _last(steps, _RESIZES),
        "crop": _last(steps, _CROPS),
        "test_pipeline": steps,
    }


def _last(steps: Sequence[Mapping], kinds: Sequence[str]) -> dict | None:
    """The last step of one of ``kinds``, with the arguments it leaves to their defaults filled in."""
    found = [step for step in steps if step.get("type") in kinds]
    return _with_defaults(found[-1]) if found else None


def _with_defaults(step: Mapping) -> dict:
    """``step`` with every default argument of its transform's constructor written out (interpolation, backend)."""
    parameters = inspect.signature(PIPELINES.get(step["type"])).parameters.values()
    full = {"type": step["type"]}
    for parameter in parameters:  # in the constructor's order
        if parameter.name in step or parameter.default is not inspect.Parameter.empty:
            full[parameter.name] = _plain(step.get(parameter.name, parameter.default))
    return {**full, **step}
