"""Inference precision of the learned methods on the shared real scan: float32, bfloat16 blocks
(``precision="bf16"``: convolutions, activations and recurrent states in bf16; physics and the
running estimate in float32) and, for comparison, float32 weights under bf16 autocast (the old bf16
path) and int8 convolutions (``precision="int8"``, CPU). Seconds per slice of the solver alone (maps estimated once, outside the timing; median of
5 after a warm-up) and quality against the RSS reference (GUIDE §4) on the GUIDE §10 masks.

    .venv/bin/python benchmarks/inference_precision.py [METHOD ...]   (default: all learned)
"""
from __future__ import annotations

import contextlib
import sys
import time

import numpy as np
import torch

from _common import guide_masks, real_scan, threads

from mrirecon import api, metrics, solvers
from mrirecon.solvers.learned import LEARNED

VARIANTS = {  # label -> (precision option, autocast)
    "fp32": ("fp32", False),
    "bf16": ("bf16", False),
    "int8": ("int8", False),
    "fp32+autocast": ("fp32", True),
}


def main():
    names = sys.argv[1:] or list(LEARNED)
    scan = real_scan()
    masks = guide_masks(scan.shape)
    problems = {m: api.make_problem((scan.kspace * mk).astype(np.complex64), mk, device="cpu")
                for m, mk in masks.items()}
    print(f"real scan {scan.kspace.shape}, {threads()}; time: solver only, equispaced 4x, median of 5")
    cols = "".join(f" {m + ' SSIM/PSNR':>26s}" for m in masks)
    print(f"{'method':16s} {'precision':14s} {'s/slice':>8s}{cols} {'max |d| vs fp32':>16s}")
    for name in names:
        ref = None
        for label, (precision, autocast) in VARIANTS.items():
            method = solvers.get(name, precision=precision)
            ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if autocast else contextlib.nullcontext
            row, outs = [], []
            for m, problem in problems.items():
                with ctx():
                    out = method.run(problem)
                outs.append(out)
                q = metrics.evaluate(scan.target, out)
                row.append(f" {q['ssim']:17.4f}/{q['psnr']:.2f}")
            times = []
            with ctx():
                for _ in range(5):
                    t = time.perf_counter()
                    method.run(problems["equispaced 4x"])
                    times.append(time.perf_counter() - t)
            ref = outs if ref is None else ref
            dev = max(float(np.abs(o - r).max() / np.abs(r).max()) for o, r in zip(outs, ref))
            print(f"{name:16s} {label:14s} {np.median(times):8.3f}{''.join(row)} {dev:16.2e}", flush=True)


if __name__ == "__main__":
    main()
