"""Device choice, mixed precision and memory statistics."""

from __future__ import annotations

import contextlib
import os
import resource
import sys
from dataclasses import dataclass
from typing import Any

import torch

from minim.errors import ConfigError, UsageError


def default_device() -> torch.device:
    """CUDA if available, then Apple MPS, then CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(spec: str | torch.device | None = None, gpus: int | None = None) -> torch.device:
    """The device to run on from ``--device`` (``auto``/None, ``cpu``, ``cuda``, ``cuda:1``, ``mps``) and ``--gpus``.

    ``gpus > 1`` in one process is refused: multi-GPU training needs a distributed launch.
    """
    if gpus is not None:
        if gpus < 0:
            raise UsageError(f"--gpus must be >= 0, got {gpus}")
        if gpus > 1:
            raise UsageError(
                f"--gpus {gpus} needs one process per GPU: add --launcher pytorch (torchrun on this machine) "
                "or --launcher slurm",
                hint=f"e.g. --launcher pytorch --gpus {gpus}",
            )
        if gpus == 0:
            if spec not in (None, "auto", "cpu"):
                raise UsageError(f"--gpus 0 conflicts with --device {spec}")
            return torch.device("cpu")
        if spec in (None, "auto"):
            spec = "cuda"
    if isinstance(spec, torch.device):
        device = spec
    elif spec in (None, "", "auto"):
        return default_device()
    else:
        try:
            device = torch.device(str(spec))
        except (RuntimeError, ValueError):
            raise UsageError(f"unknown device {spec!r}", hint="use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {spec!r} requested but no CUDA GPU is available", hint="use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"device {spec!r} does not exist: {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UsageError(f"device {spec!r} requested but MPS is not available", hint="use --device cpu")
    return device


@dataclass
class Precision:
    """How forward passes run: autocast dtype (None = full precision) and the loss scaler, if any."""

    device: torch.device
    dtype: Any = None
    loss_scale: Any = None  # None, 'dynamic', a number or a dict of GradScaler arguments

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    def autocast(self):
        """Context manager for forward passes."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def make_scaler(self):
        """A GradScaler for fp16 on CUDA; None otherwise (bf16 needs none)."""
        if self.dtype is not torch.float16 or self.device.type != "cuda":
            return None
        scale = self.loss_scale
        if isinstance(scale, dict):
            return torch.amp.GradScaler("cuda", **scale)
        if scale in (None, "dynamic"):
            return torch.amp.GradScaler("cuda")
        # a static scale as in mmcv's Fp16OptimizerHook(loss_scale=512.): never grow; an overflow
        # still skips the step (and halves the scale, which mmcv's static scaler would not do)
        return torch.amp.GradScaler("cuda", init_scale=float(scale), growth_interval=2**30)

    def describe(self) -> str:
        if self.dtype is None:
            return "fp32"
        name = "fp16" if self.dtype is torch.float16 else "bf16"
        scaler = " + GradScaler" if self.dtype is torch.float16 and self.device.type == "cuda" else ""
        return f"{name} autocast on {self.device.type}{scaler}"


def resolve_precision(device: torch.device, fp16_cfg: Any = None, amp: bool = False) -> Precision:
    """Mixed precision from the config's ``fp16 = dict(loss_scale=...)`` and/or ``--amp``.

    fp16 with a GradScaler on CUDA, bf16 autocast on CPU; MPS uses fp16 autocast.
    """
    if fp16_cfg is None and not amp:
        return Precision(device)
    loss_scale = None
    if fp16_cfg is not None:
        if not isinstance(fp16_cfg, dict):
            raise ConfigError(f"fp16 must be a dict such as dict(loss_scale='dynamic'), got {fp16_cfg!r}")
        unknown = set(fp16_cfg) - {"loss_scale"}
        if unknown:
            raise ConfigError(f"fp16 has unknown key {sorted(unknown)[0]!r}; it takes only loss_scale")
        loss_scale = fp16_cfg.get("loss_scale", "dynamic")
    if device.type == "cuda":
        return Precision(device, torch.float16, loss_scale)
    if device.type == "mps":
        return Precision(device, torch.float16, None)
    return Precision(device, torch.bfloat16, None)


def cuda_speed_settings(cfg: Any, fixed_size: bool) -> list[str]:
    """On CUDA: TF32 matmuls and convolutions unless ``allow_tf32=False``; ``cudnn.benchmark`` as the config's
    ``cudnn_benchmark`` says, else on for fixed input sizes (never under ``deterministic``). The notes, in words."""
    allow_tf32 = cfg.get("allow_tf32")
    allow_tf32 = True if allow_tf32 is None else bool(allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    notes = [f"TF32 matmuls and convolutions {'on' if allow_tf32 else 'off'}"
             + (" (allow_tf32=False in the config)" if not allow_tf32 else " (allow_tf32=False turns them off)")]
    benchmark = cfg.get("cudnn_benchmark")
    if benchmark is not None:
        notes.append(f"cudnn.benchmark {'on' if benchmark else 'off'} (cudnn_benchmark in the config)")
    elif cfg.get("deterministic", False):
        benchmark = False
        notes.append("cudnn.benchmark off (--deterministic)")
    else:
        benchmark = fixed_size
        notes.append(f"cudnn.benchmark {'on (fixed input size)' if fixed_size else 'off (input sizes vary)'}")
    torch.backends.cudnn.benchmark = bool(benchmark)
    return notes


def peak_memory_mb(device: torch.device) -> int:
    """Peak memory so far in MiB: CUDA allocator peak on GPUs, the process's peak RSS elsewhere."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device) / 2**20)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / 2**20 if sys.platform == "darwin" else peak / 1024)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels (only meaningful on CUDA)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_contention(device: torch.device) -> str | None:
    """A caution when other processes already keep this machine's cores busy before a CPU run starts (the
    one-minute load average at or above half the cores): the run, and its eta, will be slower than on an
    idle machine."""
    if device.type != "cpu" or not hasattr(os, "getloadavg"):
        return None
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    if load < max(1.0, cores / 2):
        return None
    return (f"other processes keep the CPU busy (load average {load:.1f} on {cores} cores): this run and its "
            "eta will be slower than on an idle machine")
