"""Library entry points of ``minim train|test|infer cls``; they know nothing of click.

Each takes plain Python values, raises :mod:`minim.errors` on bad input (before any long
work starts) and returns a result object; ``console=True`` prints what a user should see.
One module per command (``training``, ``testing``, ``inference``, ``launching``), shared
helpers in ``common`` and everything printed in ``render``; the checks a run needs before
torch is imported live in :mod:`minim.cls.plan`.
"""

from minim.cls.commands.benchmarking import bench_columns
from minim.cls.commands.inference import infer
from minim.cls.image_files import collect_images
from minim.cls.commands.launching import launch_preflight
from minim.cls.commands.testing import TestResult, parse_metric_options, test
from minim.cls.commands.training import TrainResult, train

__all__ = ["train", "test", "infer", "launch_preflight", "TrainResult", "TestResult", "parse_metric_options",
           "collect_images", "bench_columns"]
