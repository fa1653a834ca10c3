import math
import os
import subprocess
import sys

import numpy as np
import pytest

from mrirecon import runtime


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.environ.get("MRIRECON_MALLOC_TUNING") == "0",
                    reason="glibc malloc tuning applies on Linux unless switched off")
def test_malloc_tuning_applies_on_glibc_and_changes_no_result():
    assert runtime.tune_malloc() is True
    assert runtime.tune_malloc() is True  # once per process, idempotent
    big = np.ones((64, 256, 256), np.float32)  # allocations still work above the thresholds
    assert float((big * 2).sum()) == 2 * big.size


def test_malloc_tuning_can_be_switched_off():
    code = "from mrirecon import runtime; print(runtime.tune_malloc())"
    env = dict(os.environ, MRIRECON_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


GLIBC_MALLINFO = """
import ctypes, json, numpy as np
from mrirecon import runtime

class Info(ctypes.Structure):  # struct mallinfo2 (glibc >= 2.33)
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                 "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
tuned = runtime.tune_malloc()
before = libc.mallinfo2().hblks  # blocks mapped while importing
big = np.ones((3, 64, 256, 256), np.float32)  # 50 MB, above the largest mmap threshold (32 MiB)
print(json.dumps({"tuned": tuned, "mmapped_blocks": libc.mallinfo2().hblks - before, "sum": float(big.sum())}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.environ.get("MRIRECON_MALLOC_TUNING") == "0",
                    reason="glibc malloc tuning applies on Linux unless switched off")
def test_large_blocks_come_from_the_heap_not_fresh_mappings():
    import json

    def run(setting):
        env = dict(os.environ, MRIRECON_MALLOC_TUNING=setting)
        out = subprocess.run([sys.executable, "-c", GLIBC_MALLINFO], env=env, capture_output=True, text=True)
        if out.returncode != 0 and "mallinfo2" in out.stderr:
            pytest.skip("glibc without mallinfo2")
        return json.loads(out.stdout.strip().splitlines()[-1])

    off, on = run("0"), run("1")
    assert off["mmapped_blocks"] == 1 and not off["tuned"]  # glibc's default maps a 50 MB block
    assert on["tuned"] and on["mmapped_blocks"] == 0
    assert on["sum"] == off["sum"] == 3 * 64 * 256 * 256


def test_bf16_counts_as_fast_with_matrix_units_or_where_it_measures_faster(monkeypatch):
    import torch

    from mrirecon import training

    cpu = torch.device("cpu")
    measured = []

    def speedup(value):
        def measure(threads):
            measured.append(threads)
            return value
        return measure

    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    monkeypatch.setattr(runtime, "bf16_conv_speedup", speedup(0.53))  # the no-AMX Xeon: half the rate
    assert not runtime.fast_bf16(cpu)
    assert training.resolve_precision("auto", cpu) is None  # float32 there
    assert training.resolve_precision("bf16", cpu) is torch.bfloat16  # asked for explicitly
    monkeypatch.setattr(runtime, "bf16_conv_speedup", speedup(1.9))  # the AMD EPYC: twice the rate
    assert runtime.fast_bf16(cpu)
    assert training.resolve_precision("auto", cpu) is torch.bfloat16
    assert measured and all(t == torch.get_num_threads() for t in measured)

    measured.clear()
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx512_bf16", "amx_tile", "amx_bf16"}))
    assert runtime.fast_bf16(cpu)
    assert training.resolve_precision("auto", cpu) is torch.bfloat16
    assert training.resolve_precision("fp32", cpu) is None
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2", "fma"}))  # bf16 emulated
    assert not runtime.fast_bf16(cpu)
    assert not measured  # AMX, or no bf16 instructions at all, decide without a measurement


def test_bf16_conv_speedup_measures_a_positive_ratio():
    import torch

    ratio = runtime.bf16_conv_speedup(torch.get_num_threads())
    assert math.isfinite(ratio) and ratio > 0


def test_cpu_flags_reads_the_kernel_list():
    flags = runtime.cpu_flags()
    assert isinstance(flags, frozenset)
    if sys.platform.startswith("linux") and os.path.exists("/proc/cpuinfo") and os.uname().machine == "x86_64":
        assert "sse2" in flags  # every x86-64 CPU has it
