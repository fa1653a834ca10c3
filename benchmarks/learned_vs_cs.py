#!/usr/bin/env python3
"""Every available method on the same slices: quality, seconds per slice, peak memory.

Data: the shared real T2 scan (an unseen contrast for models trained on T1w) at equispaced 4x and
2D Gaussian 8x (GUIDE §10 settings), and held-out simulated T2w / FLAIR slices with lesions
(validation seeds, never used in training). Times are end to end per slice: sensitivity maps
(ESPIRiT, shared by the SENSE-type methods and counted for each) + solver, CPU threads as printed;
BART (ecalib + pics -l1, best of lambda 1e-3/3e-3/1e-2) on the same slices when installed, its
magnitude put on the RSS scale with the noise floor like every SENSE-type method here (GUIDE §2, §9;
``study.experiments.bart_volume``).
Peak memory: the growth of the process's peak resident set during the method (Linux).
Run: .venv/bin/python benchmarks/learned_vs_cs.py [--methods a,b] [--precision bf16|int8]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from _common import bart_available, guide_masks, real_scan, threads
from mrirecon.external import peak_memory_mb, reset_peak_memory


def cases():
    from mrirecon import masks
    from mrirecon.training import VAL_SEED
    from mrirecon.trainset import DataConfig, make_sample

    scan = real_scan()
    for mname, m in guide_masks(scan.shape).items():
        if mname == "equispaced 8x":
            continue
        yield f"real T2 {mname}", (scan.kspace * m).astype(np.complex64), m, scan.target
    cfg = DataConfig(seed=VAL_SEED, crop=0, lesions=(3, 6), coils=(8, 8), snr=(30.0, 30.0))
    for contrast in ("t2w", "flair"):
        for kind, accel in (("equispaced", 4.0), ("gaussian2d", 8.0)):
            s = make_sample(cfg, 0, contrast=contrast, mask_kind=kind, acceleration=accel)
            yield f"sim {contrast} {kind} {accel:g}x", s.kspace[None], s.mask, s.target[None]
    del masks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default=None, help="comma-separated (default: every available method)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "int8"], help="learned methods")
    a = ap.parse_args()
    import mrirecon
    from mrirecon import coils, metrics, solvers
    from mrirecon.api import make_problem
    from mrirecon.study.experiments import bart_volume

    names = a.methods.split(",") if a.methods else solvers.available()
    print(f"{threads()}, mrirecon {mrirecon.__version__}, learned precision {a.precision}")
    print(f"{'data':32s} {'method':24s} {'SSIM':>7s} {'PSNR':>6s} {'NMSE':>8s} {'s/slice':>8s} {'peak MB':>8s}")
    for label, k, m, gt in cases():
        t0 = time.perf_counter()
        problem = make_problem(k, m, device="cpu")
        t_maps = time.perf_counter() - t0
        for name in names:
            # --precision applies to base names; a variant (irim-bf16) keeps its own
            opts = {"precision": a.precision} if solvers.get(name).learned and name in solvers.names() else {}
            method = solvers.get(name, **opts)
            method.run(problem) if method.learned else None  # load weights / warm up outside the timing
            base = reset_peak_memory()
            t0 = time.perf_counter()
            out = method.run(problem)
            dt = time.perf_counter() - t0 + (t_maps if method.needs_sens else 0.0)
            peak = peak_memory_mb() - base
            e = metrics.evaluate(gt, out)
            print(f"{label:32s} {name:24s} {e['ssim']:7.4f} {e['psnr']:6.2f} {e['nmse']:8.5f} "
                  f"{dt / k.shape[0]:8.3f} {peak:8.0f}")
        if bart_available():
            best = None
            for lam in (1e-3, 3e-3, 1e-2):
                t0 = time.perf_counter()
                img = bart_volume(k, lam, coils.noise_variance(k, m))  # on the RSS scale, like ours
                dt = time.perf_counter() - t0
                e = metrics.evaluate(gt, img)
                if best is None or e["ssim"] > best[0]["ssim"]:
                    best = (e, lam, dt)
            e, lam, dt = best
            print(f"{label:32s} {'bart pics -l1 r=' + format(lam, 'g'):24s} {e['ssim']:7.4f} {e['psnr']:6.2f} "
                  f"{e['nmse']:8.5f} {dt / k.shape[0]:8.3f} {'':>8s}")


if __name__ == "__main__":
    main()
