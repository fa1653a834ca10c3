"""Process-wide settings that make CPU reconstruction faster.

glibc's malloc serves every block above its (dynamic) mmap threshold with a fresh ``mmap`` and
gives freed memory back to the system above its trim threshold; a recurrent network on a 256²
slice allocates and frees 16-50 MB activations at every step, so each one page-faults anew.
Raising both thresholds keeps that memory in the heap for reuse. Measured with ``reconstruct`` on
the shared real scan (``benchmarks/malloc_tuning.py``: equispaced 4x, 2 threads, maps included,
median of 5): irim 0.297 -> 0.256 s per slice (1.16x), rim 0.675 -> 0.561 s (1.20x); cs-l1 and
sense unchanged within 5 %; no result changes. ``api.make_problem`` applies it. The cost: up to
``TRIM`` bytes of freed memory stay with the process. ``MRIRECON_MALLOC_TUNING=0`` leaves malloc
alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
MMAP = 32 << 20  # the largest mmap threshold glibc accepts on 64-bit systems
TRIM = 1 << 30

_done: bool | None = None


def tune_malloc() -> bool:
    """Apply the malloc settings once per process (glibc only); True when they are in effect."""
    global _done
    if _done is None:
        _done = False
        if sys.platform.startswith("linux") and os.environ.get("MRIRECON_MALLOC_TUNING", "1") != "0":
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _done = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP)) and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM))
            except (OSError, AttributeError):  # not glibc (musl has no mallopt): leave it False
                pass
    return _done
