"""A short description of the environment, for logs and checkpoint meta."""

from __future__ import annotations

import platform
import sys

import torch
import torchvision

from minim import __version__


def collect_env(device=None) -> dict[str, str]:
    """Python, platform, torch/torchvision/minim versions, threads and device."""
    info = {
        "sys.platform": sys.platform,
        "Python": sys.version.replace("\n", ""),
        "machine": platform.machine(),
        "PyTorch": torch.__version__,
        "TorchVision": torchvision.__version__,
        "minim": __version__,
        "torch threads": str(torch.get_num_threads()),
        "CUDA available": str(torch.cuda.is_available()),
    }
    if torch.cuda.is_available():
        info["GPU 0"] = torch.cuda.get_device_name(0)
    if device is not None:
        info["device"] = str(device)
    return info


def format_env(info: dict[str, str]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in info.items())
