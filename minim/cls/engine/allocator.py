"""Keep freed CPU memory for reuse while training, instead of handing it back to the OS every step.

Each CPU training step frees and re-allocates the same large buffers (gradients, activations,
bf16 copies of the weights). glibc's malloc gives big blocks back to the kernel (``munmap`` or a
trimmed heap) as soon as they are freed, so the next step takes fresh pages: hundreds of
thousands of page faults and zero-filled pages per epoch. Raising the mmap threshold to its
maximum and switching trimming off keeps those blocks in the process for the next step, the
effect of running with jemalloc/tcmalloc, with nothing to install. Peak memory is unchanged;
the process just does not shrink between steps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: glibc's ``mallopt`` parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: the largest mmap threshold glibc accepts on 64-bit systems (HEAP_MAX_SIZE / 2)
MAX_MMAP_THRESHOLD = 32 * 1024 * 1024
NO_TRIM = 2**31 - 1


def retain_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed blocks for reuse; True when done (Linux with glibc only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MAX_MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, NO_TRIM))
