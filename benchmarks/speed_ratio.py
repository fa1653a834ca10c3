#!/usr/bin/env python3
"""The speed target as a ratio that survives a shared machine's noise: learned methods and BART
(``ecalib`` + ``pics``) take turns on the same slice, round after round, so that both see the same
load; per method the median seconds per slice and the median over rounds of (its time / BART's
time in that round), with SSIM / PSNR against the reference.

Times are end to end: sensitivity maps (ESPIRiT) + solver for ours, ``ecalib`` + ``pics`` for BART
(with its file I/O, as the study times it; λ 0.01 for 1D masks and 0.001 for 2D, the study's
choice without a reference). Every method runs once untimed first. Data: the shared real scan (4 coils, 256²) and a
held-out simulated T2w slice with lesions at ``--size`` with ``--coils`` (default 320², 16 coils,
like a fastMRI brain scan).

    .venv/bin/python benchmarks/speed_ratio.py [--methods irim-int8,irim] [--rounds 5]
        [--size 320] [--coils 16] [--no-sim]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import bart_available, guide_masks, real_scan, threads


def cases(size: int, coils: int, sim: bool):
    """(name, masked k-space (C, H, W), mask, reference (H, W))."""
    from mrirecon.training import VAL_SEED
    from mrirecon.trainset import DataConfig, make_sample

    scan = real_scan()
    for mname in ("equispaced 4x", "gaussian2d 8x"):
        m = guide_masks(scan.shape)[mname]
        yield f"real T2, 4 coils, {mname}", (scan.kspace[0] * m).astype(np.complex64), m, scan.target[0]
    if sim:
        cfg = DataConfig(seed=VAL_SEED, size=size, crop=0, lesions=(3, 6), coils=(coils, coils), snr=(30.0, 30.0))
        for kind, accel in (("equispaced", 4.0), ("gaussian2d", 8.0)):
            s = make_sample(cfg, 0, contrast="t2w", mask_kind=kind, acceleration=accel)
            yield f"sim T2w {size}², {coils} coils, {kind} {accel:g}x", s.kspace, s.mask, s.target


def runners(methods, kspace, mask):
    """name -> a function that reconstructs the slice end to end: (seconds, magnitude (H, W))."""
    from mrirecon import coils, masks, solvers
    from mrirecon.api import make_problem
    from mrirecon.study.experiments import BART_LAMBDA, bart_volume

    def ours(name):
        method = solvers.get(name)

        def run():
            t0 = time.perf_counter()
            problem = make_problem(kspace[None], mask, device="cpu")
            image = method.run(problem)
            return time.perf_counter() - t0, image[0]
        return run

    out = {name: ours(name) for name in methods}
    if bart_available():
        lam = BART_LAMBDA["1d" if masks.is_1d(mask) else "2d"]
        noise_var = coils.noise_variance(kspace[None], mask)

        def bart():  # timed as the study times it: ecalib + pics with their file I/O
            t0 = time.perf_counter()
            image = bart_volume(kspace[None], lam, noise_var)
            return time.perf_counter() - t0, image[0]
        out["bart-pics"] = bart
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="irim-int8,irim")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--coils", type=int, default=16)
    ap.add_argument("--no-sim", action="store_true", help="the real scan only")
    a = ap.parse_args()
    from mrirecon import metrics

    methods = [m for m in a.methods.split(",") if m]
    print(f"# speed ratio to BART ({threads()}; {a.rounds} alternating rounds after one untimed run each)")
    if not bart_available():
        print("(bart not on PATH: no ratios)")
    print("| data | method | s/slice (median) | × BART (median of rounds) | SSIM | PSNR |")
    print("|---|---|---|---|---|---|")
    for name, kspace, mask, target in cases(a.size, a.coils, not a.no_sim):
        run = runners(methods, kspace, mask)
        images = {m: f()[1] for m, f in run.items()}  # warm-up (and the images scored)
        times = {m: [] for m in run}
        for r in range(a.rounds):
            order = list(run) if r % 2 == 0 else list(run)[::-1]  # neither side always goes first
            for m in order:
                times[m].append(run[m]()[0])
        for m in run:
            ratio = ""
            if "bart-pics" in times and m != "bart-pics":
                ratio = f"{statistics.median(t / b for t, b in zip(times[m], times['bart-pics'])):.2f}×"
            q = metrics.evaluate(target[None], images[m][None])
            print(f"| {name} | {m} | {statistics.median(times[m]):.3f} | {ratio} | {q['ssim']:.4f} | {q['psnr']:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
