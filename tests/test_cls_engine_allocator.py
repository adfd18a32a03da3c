"""CPU training keeps freed memory for reuse (glibc malloc tuning) instead of faulting fresh pages each step."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cls_engine_support import train_tiny

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux-only")

PROBE = """
import ctypes, json, sys
from minim.cls.engine.allocator import retain_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "retain":
    assert retain_freed_memory()
before = libc.mallinfo2().hblkhd
block = libc.malloc(24 * 2**20)  # a gradient-sized buffer
mapped = libc.mallinfo2().hblkhd - before  # bytes malloc got with a private mmap (unmapped again by free)
libc.free(block)
print(json.dumps({"mapped": mapped, "held": libc.mallinfo2().fordblks}))
"""


def allocate_and_free(mode: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_freed_buffers_stay_with_malloc_for_the_next_step():
    retained = allocate_and_free("retain")
    assert retained["mapped"] == 0 and retained["held"] >= 24 * 2**20  # from the heap, and kept there
    default = allocate_and_free("default")
    assert default["mapped"] >= 24 * 2**20 and default["held"] < 24 * 2**20  # mmap'd, and gone on free


def test_cpu_training_says_it_retains_memory_and_can_be_told_not_to(tmp_path):
    train_tiny(tmp_path / "on")
    (log,) = (tmp_path / "on").glob("*.log")
    assert "freed CPU memory kept for reuse" in log.read_text()
    train_tiny(tmp_path / "off", cpu_retain_freed_memory=False)
    (log,) = (tmp_path / "off").glob("*.log")
    assert "freed CPU memory kept for reuse" not in log.read_text()
