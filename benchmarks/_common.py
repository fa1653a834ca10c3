"""Shared helpers of the benchmark scripts: the shared real scan, its masks and BART's file format."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REAL_SCAN = ROOT.parent / "shared" / "data" / "real_t2_brain_4coil.h5"


def real_scan():
    import mrirecon

    if not REAL_SCAN.exists():
        sys.exit(f"shared real scan not found: {REAL_SCAN}")
    return mrirecon.load(REAL_SCAN)


def guide_masks(shape):
    """The GUIDE §10 settings, built with mrirecon.masks: equispaced 4x (8 %), 8x (4 %); 2D 8x."""
    from mrirecon import masks

    return {
        "equispaced 4x": masks.create("equispaced", shape, 4, 0.08, seed=0),
        "equispaced 8x": masks.create("equispaced", shape, 8, 0.04, seed=0),
        "gaussian2d 8x": masks.create("gaussian2d", shape, 8, 0.08, seed=0),
    }


def threads() -> str:
    import torch

    return f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}"


# --- BART ------------------------------------------------------------------------------------

def bart_available() -> bool:
    return shutil.which("bart") is not None


def write_cfl(name, array):
    array = np.asarray(array, np.complex64)
    dims = list(array.shape) + [1] * (16 - array.ndim)
    Path(f"{name}.hdr").write_text("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    array.T.tofile(f"{name}.cfl")  # BART is column-major


def read_cfl(name):
    dims = [int(d) for d in Path(f"{name}.hdr").read_text().splitlines()[1].split()]
    while len(dims) > 1 and dims[-1] == 1:
        dims.pop()
    return np.fromfile(f"{name}.cfl", np.complex64).reshape(dims[::-1]).T


def bart_pics(kspace, lam: float, maps=None):
    """One slice ``(C, H, W)`` through ``bart ecalib`` (uncropped, 1 map) and ``bart pics -l1``.

    Returns (image magnitude (H, W), seconds for ecalib, seconds for pics). With ``maps`` given
    (our ESPIRiT maps, (C, H, W)), ecalib is skipped.
    """
    with tempfile.TemporaryDirectory() as tmp:
        k = os.path.join(tmp, "k")
        s = os.path.join(tmp, "s")
        x = os.path.join(tmp, "x")
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
