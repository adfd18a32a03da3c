"""Environment probe: interpreter, installed distributions, torch builds and GPUs, read without importing torch.

Everything about the target environment is asked of its own interpreter in a subprocess
(:mod:`minim.env.target_script`), so ``--python`` can point at any virtual environment.
"""

from minim.env.gpu import GpuInfo, detect_gpu
from minim.env.model import Dist, Environment, SharedFiles
from minim.env.probe import probe_environment, resolve_python, run_in_target
from minim.env.torch_build import TORCH_FAMILY, TorchBuild, detect_build

__all__ = [
    "Dist",
    "Environment",
    "GpuInfo",
    "SharedFiles",
    "TORCH_FAMILY",
    "TorchBuild",
    "detect_build",
    "detect_gpu",
    "probe_environment",
    "resolve_python",
    "run_in_target",
]
