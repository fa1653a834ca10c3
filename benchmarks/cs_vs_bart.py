#!/usr/bin/env python3
"""Classical methods vs BART `pics -l1` on the shared real T2 scan (GUIDE §10 masks).

Prints one table: SSIM / PSNR / NMSE and seconds (sensitivity maps + solver) per mask and method.
BART gets its own uncropped ESPIRiT maps (`ecalib -m1 -c0`) and, in a second row, our maps, with
lambda swept over {1e-3, 3e-3, 1e-2} keeping the best SSIM (as GUIDE §10 did), its magnitude put on
the RSS scale with the noise floor like ours; our CS methods run with their documented default
lambda. Run: .venv/bin/python benchmarks/cs_vs_bart.py
"""
from __future__ import annotations

import time

import numpy as np

from _common import bart_available, bart_pics, guide_masks, real_scan, threads

METHODS = ["zero-filled", "sense", "cs-l1", "cs-tv"]


def main():
    import mrirecon
    from mrirecon import coils, metrics, solvers
    from mrirecon.api import make_problem

    scan = real_scan()
    k, gt = scan.kspace, scan.target
    print(f"shared real T2 scan {k.shape}, {threads()}, mrirecon {mrirecon.__version__}")
    print(f"{'mask':15s} {'method':30s} {'SSIM':>7s} {'PSNR':>6s} {'NMSE':>8s} {'maps s':>7s} {'solve s':>8s}")
    for mname, mask in guide_masks(k.shape[-2:]).items():
        yk = (k * mask).astype(np.complex64)
        t0 = time.perf_counter()
        problem = make_problem(yk, mask, device="cpu")
        t_maps = time.perf_counter() - t0
        nv = coils.noise_variance(yk, mask)
        for name in METHODS:
            m = solvers.get(name)
            t0 = time.perf_counter()
            out = m.run(problem)
            dt = time.perf_counter() - t0
            s = metrics.evaluate(gt, out)
            print(f"{mname:15s} {name:30s} {s['ssim']:7.4f} {s['psnr']:6.2f} {s['nmse']:8.5f} "
                  f"{t_maps if m.needs_sens else 0:7.2f} {dt:8.2f}")
        if not bart_available():
            print(f"{mname:15s} {'bart pics -l1':30s}   (bart not installed: apt-get install bart)")
            continue
        for label, maps in (("bart pics -l1", None), ("bart pics -l1, our maps", problem.sens[0])):
            best = None
            for lam in (1e-3, 3e-3, 1e-2):
                img, t_cal, t_pics = bart_pics(yk[0], lam, maps)
                # on the RSS scale with the noise floor, like ours (GUIDE §2, §9; study.experiments)
                s = metrics.evaluate(gt, coils.rss_floor(img[None], nv, yk.shape[1]))
                if best is None or s["ssim"] > best[0]["ssim"]:
                    best = (s, lam, t_cal if maps is None else t_maps, t_pics)
            s, lam, t_cal, t_pics = best
            print(f"{mname:15s} {label + f' r={lam:g}':30s} {s['ssim']:7.4f} {s['psnr']:6.2f} {s['nmse']:8.5f} "
                  f"{t_cal:7.2f} {t_pics:8.2f}")


if __name__ == "__main__":
    main()
