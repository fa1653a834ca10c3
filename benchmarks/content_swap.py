#!/usr/bin/env python3
"""Is a learned method's gap on the real scan about the real data, or about the method?

Scores methods at the project's equispaced 4x mask (``masks.create``, 8 % centre; the real-scan row
is the one of ``learned_vs_cs.py``) on three acquisitions of one slice:
- the shared real scan as it is;
- its RSS image (real anatomy and T2 contrast) with a smooth phase, times simulated 4-coil maps
  (per-coil phase 4 rad, a real-like g-factor) plus white noise at SNR 38 (the real scan's);
- a simulated T2w slice with the same simulated maps and noise.
If a method trails another by the same margin on all three, its gap is not a transfer problem of
the real acquisition (coils, noise, k-space) or of the real anatomy.

    .venv/bin/python benchmarks/content_swap.py [--methods recurrentvarnet,irim,cs-l1]
"""
from __future__ import annotations

import argparse

import numpy as np

from _common import real_scan, threads


def acquisitions():
    from mrirecon import coils
    from mrirecon.fft import fft2c
    from mrirecon.simulate import SimConfig, coil_maps, simulate, smooth_phase

    scan = real_scan()
    yield "real scan", scan.kspace[0]
    rng = np.random.default_rng(3)
    size = scan.kspace.shape[-1]
    maps = coil_maps(4, size, np.random.default_rng(5), 4.0, np.random.default_rng(6))

    def acquire(magnitude):
        image = magnitude * np.exp(1j * smooth_phase((1, *magnitude.shape), rng)[0])
        k = fft2c(maps * image)
        std = magnitude[magnitude > 0.3 * magnitude.max()].mean() * coils.rss(maps).mean() / 38.0
        noise = rng.standard_normal((2, *k.shape)) * std / np.sqrt(2)
        return (k + noise[0] + 1j * noise[1]).astype(np.complex64)

    yield "real image x sim maps + noise", acquire(scan.target[0])
    sim = simulate(SimConfig(contrast="t2w", size=size, coils=4, slices=1, snr=38, seed=20261129,
                             lesions=3, coil_phase=4.0, fov_mm=220))
    yield "sim T2w x sim maps + noise", acquire(np.abs(sim.image[0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="recurrentvarnet,irim,cs-l1")
    a = ap.parse_args()
    from mrirecon import coils, masks, metrics, solvers
    from mrirecon.api import make_problem
    from mrirecon.fft import ifft2c

    names = a.methods.split(",")
    print(f"{threads()}; equispaced 4x, 8 % centre; SSIM / PSNR against the RSS of the full data")
    print(f"{'data':32s} " + " ".join(f"{n:>16s}" for n in names))
    for label, k in acquisitions():
        mask = masks.create("equispaced", k.shape[-2:], 4.0, 0.08, seed=0)
        target = coils.rss(ifft2c(k)).astype(np.float32)
        problem = make_problem((k * mask)[None].astype(np.complex64), mask, device="cpu")
        cells = []
        for name in names:
            e = metrics.evaluate(target, solvers.get(name).run(problem)[0])
            cells.append(f"{e['ssim']:.4f} / {e['psnr']:5.2f}")
        print(f"{label:32s} " + " ".join(f"{c:>16s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
