"""The description an exported classifier carries: class names and the test pipeline's preprocessing.

ONNX files keep it in ``metadata_props`` and TorchScript files in an extra file, both under the key
:data:`METADATA_KEY` as one JSON object::

    {"format": "minim.export", "version": 1,
     "classes": ["0", "1", ...],
     "input": {"name": "input", "shape": [1, 3, 32, 32], "dynamic_batch": true, "layout": "NCHW",
               "dtype": "float32", "channel_order": "RGB"},
     "output": {"name": "probs", "kind": "softmax"},   # "sigmoid" for multi-label heads
     "mean": [...], "std": [...],                      # 0-255 units, in channel_order
     "resize": {"type": "Resize", "size": ..., "interpolation": ..., "adaptive_side": ..., "backend": ...} or null,
     "crop": {"type": "CenterCrop", "crop_size": ..., "interpolation": ..., "backend": ..., ...} or null,
     "test_pipeline": [...]}                           # the config's steps, which minim runs as they are

Other tools can read the summary fields; minim itself preprocesses with ``test_pipeline`` through its
own pipeline code, so an exported model sees exactly the pixels the ``.pth`` sees.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from typing import Any, Mapping

from minim.errors import ExportError

METADATA_KEY = "minim.export"
FORMAT = "minim.export"
VERSION = 1
#: fields every description holds
REQUIRED = ("classes", "input", "output", "mean", "std", "resize", "crop", "test_pipeline")
#: file suffixes of TorchScript exports
TORCHSCRIPT_SUFFIXES = (".pt", ".ts", ".torchscript")


@contextlib.contextmanager
def quiet_jit():
    """Silence torch.jit's deprecation and tracer warnings (errors still raise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def dumps(description: Mapping[str, Any]) -> str:
    return json.dumps(description, sort_keys=False)


def loads(text: str | bytes | None, source: str) -> dict[str, Any]:
    """The description stored in ``source`` (an exported file), checked for the fields minim needs."""
    hint = f"export it again with minim (pytorch2onnx / pytorch2torchscript); it needs the {METADATA_KEY!r} metadata"
    if not text:
        raise ExportError(f"{source} has no {METADATA_KEY!r} metadata: it was not exported by minim", hint=hint)
    try:
        description = json.loads(text)
    except ValueError as exc:
        raise ExportError(f"{source}: its {METADATA_KEY!r} metadata is not JSON ({exc})", hint=hint) from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ExportError(f"{source}: its {METADATA_KEY!r} metadata is not a minim export description", hint=hint)
    if description.get("version", 0) > VERSION:
        raise ExportError(f"{source} was exported by a newer minim (description version {description['version']})",
                          hint="upgrade minim: pip install -U minim")
    missing = [key for key in REQUIRED if key not in description]
    if missing:
        raise ExportError(f"{source}: its {METADATA_KEY!r} metadata lacks {', '.join(missing)}", hint=hint)
    return description
