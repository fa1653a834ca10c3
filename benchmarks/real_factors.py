#!/usr/bin/env python3
"""What about the real scan costs the learned methods their margin over CS? A synthetic twin of it.

The twin is the shared real scan rebuilt from its parts: the complex SENSE image ``x`` of the full
data (ESPIRiT maps of the full calibration region), those maps, and fresh white noise at the scan's
own level per coil (from the coil images' 32x32 corners, which hold no object; times
``--noise-scale``; the k-space periphery, ``coils.noise_variance``, reads 1.7x that power here: it
holds signal along the phase-encoding direction). ``x`` holds the scan's own noise already, so a
twin is noisier than the scan by up to that noise. Switching parts off one at a time says which of
them the methods react to:
- real scan: the acquisition itself;
- twin: ``x`` (its phase as the maps leave it) through the real maps, plus noise;
- phase outside / inside the brain only: the phase of ``x`` kept in the object's outer 8 pixels
  (skull, scalp) or in the rest, the other part made real;
- phase smoothed over 1 pixel: the phase of the magnitude-weighted ``x`` after a Gaussian of 1
  pixel, which leaves out its pixel-scale part (a share of it is the scan's noise);
- no phase: ``|x|`` (the real anatomy, and the real noise baked into it) through the real maps;
- no phase, simulated maps: ``|x|`` through 4-coil birdcage maps with per-coil phase (4 rad), as in
  training.
Each row gives SSIM (whole image, and the dark half of the brain: ``ssim_regions.py``) per method
and each method's difference to the first one named, at the project's equispaced 4x and 2D
(gaussian2d) 8x masks.

    .venv/bin/python benchmarks/real_factors.py [--methods cs-l1,rim,irim]
"""
from __future__ import annotations

import argparse

import numpy as np
from _common import corners, guide_masks, real_scan, threads
from ssim_regions import BORDER, EDGE_PX, object_mask, regions


def corner_noise_std(coil_images: np.ndarray, size: int = 32) -> np.ndarray:
    """Complex noise std per coil, from the four ``size`` x ``size`` corners of the coil images."""
    c = corners(coil_images, size)
    return np.sqrt(np.mean(np.abs(c - c.mean(-1, keepdims=True)) ** 2, axis=-1))


def twins(kspace: np.ndarray, reference: np.ndarray, noise_scale: float = 1.0):
    """(label, k-space) of the real scan and its synthetic variants."""
    from scipy import ndimage

    from mrirecon import coils
    from mrirecon.fft import fft2c, ifft2c
    from mrirecon.simulate import coil_maps

    maps = coils.estimate(kspace[None])[0]
    x = coils.sense_combine(ifft2c(kspace)[None], maps[None])[0]
    noise_std = noise_scale * corner_noise_std(ifft2c(kspace))[:, None, None]
    inner = ndimage.binary_erosion(object_mask(reference), iterations=EDGE_PX)
    inside = ndimage.gaussian_filter(inner.astype(np.float64), 1.5)
    phase = np.angle(x)
    sim_maps = coil_maps(4, kspace.shape[-1], np.random.default_rng(5), 4.0, np.random.default_rng(6))

    def acquire(sens, image):
        rng = np.random.default_rng(11)
        k = fft2c(sens * image)
        noise = rng.standard_normal((2, *k.shape)) * noise_std / np.sqrt(2)
        return (k + noise[0] + 1j * noise[1]).astype(np.complex64)

    yield "real scan", kspace
    yield "twin (real maps, phase, anatomy)", acquire(maps, x)
    yield "twin, phase outside the brain only", acquire(maps, np.abs(x) * np.exp(1j * phase * (1 - inside)))
    yield "twin, phase inside the brain only", acquire(maps, np.abs(x) * np.exp(1j * phase * inside))
    weighted = [ndimage.gaussian_filter(part, 1.0) for part in (x.real, x.imag)]
    yield "twin, phase smoothed over 1 pixel", acquire(maps, np.abs(x) * np.exp(1j * np.angle(weighted[0] + 1j * weighted[1])))
    yield "twin, no phase", acquire(maps, np.abs(x))
    yield "twin, no phase, simulated maps", acquire(sim_maps, np.abs(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="cs-l1,rim,irim", help="comma-separated; the first is the reference")
    ap.add_argument("--noise-scale", type=float, default=1.0, help="the twins' noise std over the scan's")
    args = ap.parse_args()
    from skimage.metrics import structural_similarity

    import mrirecon
    from mrirecon import coils
    from mrirecon.fft import ifft2c

    methods = args.methods.split(",")
    scan = real_scan()
    kspace = scan.kspace[0]
    masks = {name: m for name, m in guide_masks(kspace.shape[-2:]).items() if name != "equispaced 8x"}
    print(f"real scan {scan.path}, slice 0; twins' noise {args.noise_scale:g}x the scan's; {threads()}")
    print("SSIM (dark half of the brain); Δ: difference to the first method")
    head = "| data | mask | " + " | ".join(methods) + " | " + " | ".join(f"Δ {m}" for m in methods[1:]) + " |"
    print(head + "\n" + "|---" * (head.count("|") - 1) + "|")
    for label, k in twins(kspace, scan.target[0].astype(np.float64), args.noise_scale):
        gt = coils.rss(ifft2c(k)).astype(np.float64)  # each variant's own fully sampled reference
        dark = regions(gt)["dark"]
        for mask_name, mask in masks.items():
            scores = []
            for method in methods:
                x = np.abs(np.asarray(mrirecon.reconstruct(k * mask, mask=mask, method=method, device="cpu")))
                total, smap = structural_similarity(gt, x.astype(np.float64), data_range=gt.max(), full=True)
                scores.append((total, float(smap[BORDER:-BORDER, BORDER:-BORDER][dark].mean())))
            cells = [f"{s:.4f} ({d:.4f})" for s, d in scores]
            deltas = [f"{s - scores[0][0]:+.4f}" for s, _ in scores[1:]]
            print(f"| {label} | {mask_name} | " + " | ".join(cells + deltas) + " |", flush=True)


if __name__ == "__main__":
    main()
