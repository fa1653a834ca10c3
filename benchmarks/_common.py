"""Shared helpers of the benchmark scripts: the shared real scan, its masks and BART's file format."""
from __future__ import annotations

import os
import sys
from pathlib import Path


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


def corners(images, n: int):
    """The four ``n`` x ``n`` corners of ``images`` (..., H, W), where a head scan holds no object,
    side by side as (..., 4 n^2)."""
    import numpy as np

    parts = (images[..., :n, :n], images[..., :n, -n:], images[..., -n:, :n], images[..., -n:, -n:])
    return np.concatenate([c.reshape(*c.shape[:-2], -1) for c in parts], axis=-1)


def threads() -> str:
    import torch

    return f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}"


# BART and memory helpers live in the library (mrirecon.external); re-exported for the scripts
from mrirecon.external import bart_available, bart_pics, read_cfl, write_cfl  # noqa: E402,F401
