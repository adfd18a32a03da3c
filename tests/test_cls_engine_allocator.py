"""CPU training keeps freed memory for reuse (glibc malloc tuning) instead of faulting fresh pages each step."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cls_engine_support import train_tiny

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux-only")

STEPS = """
import resource, sys, torch
from minim.cls.engine.allocator import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
def steps(n):  # what a training step does to memory: allocate big buffers, free them all
    for _ in range(n):
        buffers = [torch.ones(2 * 1024 * 1024) for _ in range(8)]
        del buffers
steps(2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
steps(20)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True)
    return int(result.stdout)


def test_freed_buffers_are_reused_without_new_page_faults():
    assert page_faults("retain") * 4 < page_faults("default")


def test_cpu_training_says_it_retains_memory_and_can_be_told_not_to(tmp_path):
    train_tiny(tmp_path / "on")
    (log,) = (tmp_path / "on").glob("*.log")
    assert "malloc keeps freed memory" in log.read_text()
    train_tiny(tmp_path / "off", cpu_retain_freed_memory=False)
    (log,) = (tmp_path / "off").glob("*.log")
    assert "malloc keeps freed memory" not in log.read_text()
