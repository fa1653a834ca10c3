"""How far ``coils.noise_variance`` is from the true noise variance, per mask: ratio estimate / truth.

The noise variance sets the RSS noise floor of every output (``coils.rss_floor``); an estimate
that is too high lifts the whole background, which costs SSIM there (its luminance term) and PSNR.
Truth: the simulator's noise for simulated slices; for the shared real scan, the mean power of the
fully sampled coil images in the four 20 x 20 image corners (no object there). Optionally also
scores methods on the real scan with the estimated and the true variance (``--method``).

    .venv/bin/python benchmarks/noise_estimate.py [--method cs-l1 --method irim]
"""
from __future__ import annotations

import argparse

import numpy as np

from _common import corners, real_scan

MASKS = (("full", 1), ("equispaced", 4), ("equispaced", 8), ("gaussian1d", 8), ("gaussian2d", 4),
         ("gaussian2d", 8), ("poisson2d", 10))


def corner_variance(kspace) -> float:
    from mrirecon.fft import ifft2c

    return float(np.mean(np.abs(corners(ifft2c(np.asarray(kspace)), 20)) ** 2))


def cases():
    from mrirecon.simulate import SimConfig, simulate

    for contrast, snr, fov in (("t2w", 15, 220), ("t2w", 40, 240), ("flair", 60, 205)):
        acq = simulate(SimConfig(contrast=contrast, coils=8, slices=1, snr=snr, fov_mm=fov, seed=3))
        yield f"sim {contrast} SNR {snr}", acq.kspace[0], acq.attrs["noise_std"] ** 2
    scan = real_scan()
    yield "real T2 (corners)", scan.kspace[0], corner_variance(scan.kspace[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", action="append", default=[])
    a = ap.parse_args()
    from mrirecon import coils, masks

    print("noise_variance / truth (masks from mrirecon.masks, seed 1)")
    print(f"{'data':20s}" + "".join(f"{k[:10]} {r:g}x".rjust(15) for k, r in MASKS))
    for name, k, truth in cases():
        row = []
        for kind, r in MASKS:
            m = np.ones(k.shape[-2:], bool) if kind == "full" else masks.create(kind, k.shape[-2:], r, seed=1)
            row.append(coils.noise_variance(k * m, m) / truth)
        print(f"{name:20s}" + "".join(f"{v:15.2f}" for v in row))
    if a.method:
        score_real(a.method)


def score_real(methods) -> None:
    """SSIM / PSNR on the real scan (GUIDE masks) with the estimated and with the corner variance."""
    import mrirecon
    from mrirecon import coils, metrics
    from _common import guide_masks

    scan = real_scan()
    truth = corner_variance(scan.kspace[0])
    estimate = coils.noise_variance  # the API looks it up on the module at every call
    print(f"\n{'mask':15s} {'method':10s} {'estimated var':>22s} {'corner var':>22s}")
    for mname, m in guide_masks(scan.kspace.shape[-2:]).items():
        k = (scan.kspace * m).astype(np.complex64)
        for meth in methods:
            cells = []
            for fn in (estimate, lambda kk, mm=None: truth):
                coils.noise_variance = fn
                try:
                    x = np.asarray(mrirecon.reconstruct(k, mask=m, method=meth, device="cpu"))
                finally:
                    coils.noise_variance = estimate
                cells.append(f"{metrics.ssim(scan.target, x):.4f}/{metrics.psnr(scan.target, x):.2f}")
            print(f"{mname:15s} {meth:10s} {cells[0]:>22s} {cells[1]:>22s}")


if __name__ == "__main__":
    main()
