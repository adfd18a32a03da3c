"""The ``cls`` codebase descriptor, registered under the ``minim.codebases`` entry point."""

from __future__ import annotations

from pathlib import Path

from minim.codebases import Codebase
from minim.resources import model_index_dir


def _index_file() -> Path:
    return model_index_dir() / "cls" / "index.json"


CODEBASE = Codebase(
    name="cls",
    description="image classification (mmcls 0.x configs on torch/torchvision)",
    index_file=_index_file,
    tools={
        "print_config": "minim.cls.tools.print_config:command",
        "analyze_logs": "minim.cls.tools.analyze_logs:command",
        "confusion_matrix": "minim.cls.tools.confusion_matrix:command",
        "get_flops": "minim.cls.tools.get_flops:command",
        "publish_model": "minim.cls.tools.publish_model:command",
        "make_index_entry": "minim.cls.tools.make_index_entry:command",
        "pytorch2onnx": "minim.cls.tools.pytorch2onnx:command",
        "pytorch2torchscript": "minim.cls.tools.pytorch2torchscript:command",
        "convert": "minim.cls.tools.convert:command",
        "verify_dataset": "minim.cls.tools.verify_dataset:command",
        "cam": "minim.cls.tools.cam:command",
        "benchmark": "minim.cls.tools.benchmark:command",
    },
    engine="minim.cls.commands",
    metrics="minim.cls.metrics",
)
