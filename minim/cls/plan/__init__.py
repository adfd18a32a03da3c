"""The plan of a run, made before torch is imported: the config read, and everything it, the command line and the
file system tell checked once (keys, paths, class folders, metrics, hooks, runner limits, checkpoints, work dir).

:mod:`.config` reads the config, :mod:`.checkpoints` checks the checkpoint files a run names, :mod:`.data` the
dataset folders, and :mod:`.training` makes the :class:`TrainPlan` that :mod:`minim.cls.apis.train` executes.
Nothing here imports torch, torchvision or the model and dataset packages: a mistake is reported in well under a
second.
"""

from minim.cls.plan.config import config_stem, load_cls_config, weights_path
from minim.cls.plan.training import TrainOptions, TrainPlan, plan_training

__all__ = ["TrainOptions", "TrainPlan", "plan_training", "load_cls_config", "config_stem", "weights_path"]
