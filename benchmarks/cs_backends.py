#!/usr/bin/env python3
"""The CS methods' two backends side by side: torch (the default: ``cs-l1`` by FISTA on the shared
physics with the wavelets of mrirecon.wavelets, ``cs-tv`` by PDHG on it) and sigpy (its apps),
``cs-l1`` with and without random wavelet shifts: the same numbers, and how long each takes.

Per case: SSIM / PSNR against the reference, the largest difference between the two backends'
outputs relative to the reference's maximum, and solver seconds (maps excluded; median of
``--rounds`` runs, alternating the backends). Cases: the shared real slice at the GUIDE §10
masks, then a whole bundled sample volume (3 slices, 8 coils: torch batches them; sigpy draws
its shifts per slice, torch one sequence for all, hence their differences there).
Run: .venv/bin/python benchmarks/cs_backends.py [--rounds 3] [--methods cs-l1,cs-tv]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from _common import ROOT, guide_masks, real_scan, threads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--methods", default="cs-l1,cs-tv")
    a = ap.parse_args()
    import mrirecon
    from mrirecon import masks, metrics, solvers
    from mrirecon.api import make_problem

    scan = real_scan()
    cases = [(f"real slice, {m}", scan.kspace, scan.target, mask)
             for m, mask in guide_masks(scan.kspace.shape[-2:]).items()]
    sample = mrirecon.load(ROOT / "sample_data" / "t2w_lesions_256_8coil.h5")
    cases.append((f"{Path(sample.path).stem} ({sample.kspace.shape[0]} slices), gaussian2d 8x", sample.kspace,
                  sample.target, masks.create("gaussian2d", sample.kspace.shape[-2:], 8, 0.08, seed=0)))
    variants = {"cs-l1": [("shifts", {"shifts": True}), ("fixed", {"shifts": False})], "cs-tv": [("", {})]}
    runs = [(name, label, kw) for name in a.methods.split(",") for label, kw in variants[name]]
    print(f"100 iterations, default lambdas (cs-l1 3e-3, cs-tv 1e-2); {threads()}; solver seconds, "
          f"median of {a.rounds}")
    print(f"{'case':48s} {'method':12s} {'torch SSIM/PSNR':>16s} {'sigpy SSIM/PSNR':>16s} {'max |diff|':>10s} "
          f"{'torch s':>8s} {'sigpy s':>8s} {'ratio':>6s}")
    for label, k, gt, mask in cases:
        problem = make_problem((k * mask).astype(np.complex64), mask, device="cpu")
        for name, variant, kw in runs:
            seconds = {"torch": [], "sigpy": []}
            out = {}
            for _ in range(a.rounds):
                for backend in seconds:
                    method = solvers.get(name, backend=backend, **kw)
                    t = time.perf_counter()
                    out[backend] = method.run(problem)
                    seconds[backend].append(time.perf_counter() - t)
            e = {b: metrics.evaluate(gt, out[b]) for b in out}
            diff = np.abs(out["torch"] - out["sigpy"]).max() / gt.max()
            ts, ss = (float(np.median(seconds[b])) for b in ("torch", "sigpy"))
            cells = [f"{e[b]['ssim']:.4f}/{e[b]['psnr']:5.2f}" for b in ("torch", "sigpy")]
            which = f"{name} {variant}".strip()
            print(f"{label:48s} {which:12s} {cells[0]:>16s} {cells[1]:>16s} {diff:10.1e} {ts:8.2f} {ss:8.2f} "
                  f"{ts / ss:6.2f}", flush=True)


if __name__ == "__main__":
    main()
