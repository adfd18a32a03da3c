"""Is a GPU usable, and which driver does it run? Asked of ``nvidia-smi`` (and ROCm's tools), never of torch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field

NVIDIA_SMI_TIMEOUT = 5.0


@dataclass(frozen=True)
class GpuInfo:
    """What the machine offers for GPU compute."""

    #: True when at least one GPU answered
    available: bool
    #: 'nvidia', 'amd' or None
    vendor: str | None = None
    #: the driver version ('550.54.15'), when known
    driver: str | None = None
    #: the newest CUDA version the driver supports ('12.4'), from nvidia-smi's header
    driver_cuda: str | None = None
    names: list[str] = field(default_factory=list)
    #: how we know: 'nvidia-smi', 'rocm-smi', or why we don't ('nvidia-smi not found')
    source: str = ""

    def describe(self) -> str:
        if not self.available:
            return f"none ({self.source})" if self.source else "none"
        names = ", ".join(self.names) or self.vendor or "GPU"
        driver = f", driver {self.driver}" if self.driver else ""
        cuda = f" (CUDA <= {self.driver_cuda})" if self.driver_cuda else ""
        return f"{len(self.names) or 1}x {names}{driver}{cuda}"

    def to_dict(self) -> dict:
        return asdict(self)


def parse_nvidia_query(text: str) -> tuple[list[str], str | None]:
    """GPU names and driver version from ``nvidia-smi --query-gpu=name,driver_version --format=csv,noheader``."""
    names, driver = [], None
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0]:
            names.append(parts[0])
            driver = driver or parts[1]
    return names, driver


def parse_nvidia_header(text: str) -> tuple[str | None, str | None]:
    """``(driver version, CUDA version)`` from the header plain ``nvidia-smi`` prints."""
    driver = re.search(r"Driver Version:\s*([\d.]+)", text)
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", text)
    return (driver.group(1) if driver else None, cuda.group(1) if cuda else None)


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def _nvidia(timeout: float) -> GpuInfo | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    query = _run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"], timeout)
    if query is None:
        return GpuInfo(False, "nvidia", source="nvidia-smi did not answer")
    if query.returncode != 0:  # e.g. "NVIDIA-SMI has failed because it couldn't communicate with the driver"
        first = ((query.stderr or query.stdout).strip().splitlines() or ["no output"])[0]
        return GpuInfo(False, "nvidia", source=f"nvidia-smi failed: {first}")
    names, driver = parse_nvidia_query(query.stdout)
    header = _run([smi], timeout)
    header_driver, driver_cuda = parse_nvidia_header(header.stdout if header is not None else "")
    return GpuInfo(bool(names), "nvidia", driver or header_driver, driver_cuda, names, "nvidia-smi")


def _amd(timeout: float) -> GpuInfo | None:
    smi = shutil.which("rocm-smi") or shutil.which("amd-smi")
    if smi is None or not os.path.exists("/dev/kfd"):
        return None
    result = _run([smi, "--showproductname"] if smi.endswith("rocm-smi") else [smi, "list"], timeout)
    if result is None or result.returncode != 0:
        return GpuInfo(False, "amd", source=f"{os.path.basename(smi)} failed")
    names = sorted(set(re.findall(r"Card (?:series|SKU|Model):\s*(.+)", result.stdout))) or ["AMD GPU"]
    return GpuInfo(True, "amd", names=[n.strip() for n in names], source=os.path.basename(smi))


def detect_gpu(timeout: float = NVIDIA_SMI_TIMEOUT) -> GpuInfo:
    """The GPUs ``nvidia-smi`` (or ``rocm-smi``) reports; ``available=False`` with the reason otherwise."""
    for probe in (_nvidia, _amd):
        info = probe(timeout)
        if info is not None:
            return info
    return GpuInfo(False, source="nvidia-smi not found")


def cuda_arch_list(timeout: float = NVIDIA_SMI_TIMEOUT) -> str | None:
    """``TORCH_CUDA_ARCH_LIST`` for the GPUs here ('8.0;9.0'), from ``nvidia-smi --query-gpu=compute_cap``."""
    smi = shutil.which("nvidia-smi")
    result = _run([smi, "--query-gpu=compute_cap", "--format=csv,noheader"], timeout) if smi else None
    if result is None or result.returncode != 0:
        return None
    caps = sorted({line.strip() for line in result.stdout.splitlines() if re.fullmatch(r"\d+\.\d+", line.strip())})
    return ";".join(caps) or None
