"""External reference tools: BART (``bart ecalib`` + ``bart pics -l1``) through its .cfl/.hdr files.

Used by the study and the benchmarks as the compressed-sensing yardstick; not a registered method
(the binary is optional: ``apt-get install bart``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def bart_available() -> bool:
    return shutil.which("bart") is not None


def bart_version() -> str:
    if not bart_available():
        return "not installed"
    res = subprocess.run(["bart", "version"], capture_output=True, text=True)
    return res.stdout.strip() or "unknown"


def write_cfl(name, array) -> None:
    array = np.asarray(array, np.complex64)
    dims = list(array.shape) + [1] * (16 - array.ndim)
    Path(f"{name}.hdr").write_text("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    array.T.tofile(f"{name}.cfl")  # BART is column-major


def read_cfl(name) -> np.ndarray:
    dims = [int(d) for d in Path(f"{name}.hdr").read_text().splitlines()[1].split()]
    while len(dims) > 1 and dims[-1] == 1:
        dims.pop()
    return np.fromfile(f"{name}.cfl", np.complex64).reshape(dims[::-1]).T


def bart_pics(kspace, lam: float, maps=None) -> tuple[np.ndarray, float, float]:
    """One slice ``(C, H, W)`` (zeros where not sampled) through ``bart ecalib -m1 -c0`` (one
    uncropped map set) and ``bart pics -S -l1 -r lam``.

    Returns (magnitude ``(H, W)``, seconds of ecalib, seconds of pics). With ``maps`` given
    (``(C, H, W)``), ecalib is skipped.
    """
    if not bart_available():
        raise RuntimeError("the bart binary is not on PATH (apt-get install bart)")
    with tempfile.TemporaryDirectory() as tmp:
        k, s, x = (os.path.join(tmp, n) for n in ("k", "s", "x"))
        write_cfl(k, np.transpose(kspace, (1, 2, 0))[:, :, None, :])  # (H, W, 1, C)
        t_cal = 0.0
        if maps is None:
            t0 = time.perf_counter()
            subprocess.run(["bart", "ecalib", "-m1", "-c0", k, s], check=True, capture_output=True)
            t_cal = time.perf_counter() - t0
        else:
            write_cfl(s, np.transpose(maps, (1, 2, 0))[:, :, None, :])
        t0 = time.perf_counter()
        subprocess.run(["bart", "pics", "-S", "-l1", "-r", str(lam), k, s, x], check=True, capture_output=True)
        t_pics = time.perf_counter() - t0
        return np.abs(read_cfl(x)).reshape(kspace.shape[-2:]), t_cal, t_pics


# --- process memory (Linux) ----------------------------------------------------------------------

def _status(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak_memory() -> float:
    """Reset the process's peak resident set (Linux ``clear_refs``); returns the current RSS in MB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status("VmRSS")


def peak_memory_mb() -> float:
    """Peak resident set (MB) since the last :func:`reset_peak_memory`."""
    return _status("VmHWM")
