"""Process-wide settings that make CPU reconstruction and training faster.

glibc's malloc serves every block above its (dynamic) mmap threshold with a fresh ``mmap`` and
gives freed memory back to the system above its trim threshold; a recurrent network on a 256²
slice allocates and frees 16-50 MB activations at every step, so each one page-faults anew.
Raising both thresholds keeps that memory in the heap for reuse. Measured with ``reconstruct`` on
the shared real scan (``benchmarks/malloc_tuning.py``: equispaced 4x, 2 threads, maps included,
median of 5): irim 0.297 -> 0.256 s per slice (1.16x), rim 0.675 -> 0.561 s (1.20x); cs-l1 and
sense unchanged within 5 %; no result changes.

The mmap threshold cannot go above 32 MiB, and a float32 activation of two 256² slices at 64
channels is exactly that much (a GRU's gate convolution three times more): training batches and
multi-slice inference were still served by fresh mappings, and a float32 training step spent most
of its time in page faults (recurrentvarnet, batch 2: 17.5 s, of which 3.7 s convolutions).
So mmap is switched off for large blocks altogether (``M_MMAP_MAX = 0``): every block comes from
the heap and is reused. Measured in ``benchmarks/train_step.py`` (see the README).

``api.make_problem`` and ``training.train`` (and its data-loading workers) apply it. The cost:
freed memory stays with the process (up to ``TRIM`` bytes at the top of the heap, and any free
block below it), so its resident size stays near its peak. ``MRIRECON_MALLOC_TUNING=0`` leaves
malloc alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
import time

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4  # mallopt parameters (malloc.h)
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
                _done = all(libc.mallopt(param, value) for param, value in
                            ((M_MMAP_THRESHOLD, MMAP), (M_TRIM_THRESHOLD, TRIM), (M_MMAP_MAX, 0)))
            except (OSError, AttributeError):  # not glibc (musl has no mallopt): leave it False
                pass
    return _done


@functools.lru_cache(maxsize=None)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the Linux kernel reports them (``/proc/cpuinfo``); empty elsewhere.
    A hypervisor may hide features the chip has (AMX on the 2-core machines of this project)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def fast_bf16(device) -> bool:
    """Whether bfloat16 arithmetic beats float32 on ``device`` (a ``torch.device``): CUDA GPUs that
    support it; CPUs with AMX (bf16 matrix units, ``amx_bf16``); and CPUs with AVX-512 BF16 whose
    bf16 convolutions measure at least ``BF16_MIN_SPEEDUP`` times faster than float32
    (``bf16_conv_speedup``). The flag alone does not say: on a 2-core Xeon without AMX oneDNN's
    bf16 convolutions ran at half the float32 rate (64-channel 3x3 on 256²: 82 vs 155 GMAC/s; a
    bf16-autocast training step 1.2-1.4x slower, ``benchmarks/train_step.py``), on a 2-core AMD
    EPYC (Zen 5) at twice it. Without AVX-512 BF16 bf16 is emulated, and slower."""
    if device.type == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return True
    if "avx512_bf16" not in flags:
        return False
    import torch

    return bf16_conv_speedup(torch.get_num_threads()) >= BF16_MIN_SPEEDUP


BF16_MIN_SPEEDUP = 1.3  # convolutions are most, not all, of a step: bf16 must win clearly


@functools.lru_cache(maxsize=None)
def bf16_conv_speedup(threads: int) -> float:
    """float32 time / bfloat16 time of a 64-channel 3x3 convolution on one 64² channels_last image
    (the recurrent blocks' commonest layer; ~20 ms in all), each the fastest of 5 after a warm-up,
    at ``threads`` torch threads (the caller's setting; it is part of the cache key)."""
    import torch

    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(1, 64, 64, 64, generator=torch.Generator().manual_seed(0)).to(memory_format=torch.channels_last)
    best = {}
    with torch.no_grad():
        for dtype in (torch.float32, torch.bfloat16):
            layer, inp = conv.to(dtype), x.to(dtype)
            layer(inp)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                layer(inp)
                times.append(time.perf_counter() - t0)
            best[dtype] = min(times)
    return best[torch.float32] / best[torch.bfloat16]
