"""mmcls 0.x-style Python API of the ``cls`` codebase.

``init_model``, ``inference_model``, ``show_result_pyplot`` (inference), ``train_model``
(training from a config), ``test_model`` / ``single_gpu_test`` / ``multi_gpu_test`` (scores over a dataset),
``init_random_seed`` / ``set_random_seed``.
"""

from minim.cls.apis.inference import inference_model, init_model, show_result_pyplot
from minim.cls.apis.test import multi_gpu_test, single_gpu_test, test_model
from minim.cls.apis.train import train_model
from minim.cls.engine.seed import init_random_seed, set_random_seed

__all__ = [
    "init_model",
    "inference_model",
    "show_result_pyplot",
    "train_model",
    "test_model",
    "single_gpu_test",
    "multi_gpu_test",
    "init_random_seed",
    "set_random_seed",
]
