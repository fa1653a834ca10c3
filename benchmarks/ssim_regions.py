#!/usr/bin/env python3
"""Where in the image does a method gain or lose SSIM? The SSIM map split into regions.

On the shared real scan, for each mask (GUIDE §10's settings, built with ``mrirecon.masks``) and
method: the mean of skimage's SSIM map (data_range = reference max, the scoring protocol) over
- background: outside the object (reference below 8 % of its max, closed and hole-filled);
- edge: the object's outer 8 pixels (skull, scalp, the brain's border);
- dark / bright: the rest of the object split at its median intensity (on a T2w brain: white
  matter and grey matter / CSF).
The image's SSIM is the pixel-weighted mean of the four (skimage leaves out a border of 3 pixels,
and so do the regions here), so the last columns, which add up to a method's SSIM difference to the
first method named, say where its gap comes from.

    .venv/bin/python benchmarks/ssim_regions.py [--methods cs-l1,rim,rim-mgu,irim]
"""
from __future__ import annotations

import argparse

import numpy as np
from _common import guide_masks, real_scan, threads

REGIONS = ("background", "edge", "dark", "bright")
BORDER = 3  # (win_size - 1) // 2 of skimage's default 7x7 window: its mean leaves this border out


EDGE_PX = 8  # the object's outer band (skull, scalp, the brain's border)


def object_mask(reference: np.ndarray) -> np.ndarray:
    """The object: the reference above 8 % of its max, closed and hole-filled."""
    from scipy import ndimage

    return ndimage.binary_fill_holes(ndimage.binary_closing(reference > 0.08 * reference.max(), iterations=3))


def regions(reference: np.ndarray, edge_px: int = EDGE_PX) -> dict[str, np.ndarray]:
    from scipy import ndimage

    obj = object_mask(reference)
    inner = ndimage.binary_erosion(obj, iterations=edge_px)
    dark = inner & (reference < np.median(reference[inner]))
    parts = {"background": ~obj, "edge": obj & ~inner, "dark": dark, "bright": inner & ~dark}
    return {r: m[BORDER:-BORDER, BORDER:-BORDER] for r, m in parts.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="cs-l1,rim,rim-mgu,irim,cirim,recurrentvarnet",
                    help="comma-separated; the first is the one the others are compared with")
    args = ap.parse_args()
    from skimage.metrics import structural_similarity

    import mrirecon
    from mrirecon.metrics import center_crop

    methods = args.methods.split(",")
    scan = real_scan()
    kspace = scan.kspace[0]
    gt = scan.target[0].astype(np.float64)
    parts = regions(gt)
    share = {r: float(parts[r].mean()) for r in REGIONS}
    print(f"real scan {scan.path}, slice 0; {threads()}")
    print("pixel share: " + ", ".join(f"{r} {share[r]:.2f}" for r in REGIONS))
    for mask_name, mask in guide_masks(gt.shape).items():
        print(f"\n{mask_name}")
        print(f"| method | SSIM | {' | '.join(REGIONS)} | {' | '.join('Δ ' + r for r in REGIONS)} |")
        print("|---" * (2 + 2 * len(REGIONS)) + "|")
        first = None
        for method in methods:
            x = mrirecon.reconstruct(kspace * mask, mask=mask, method=method, device="cpu")
            x = center_crop(np.abs(np.asarray(x)).astype(np.float64), gt.shape)
            total, smap = structural_similarity(gt, x, data_range=gt.max(), full=True)
            smap = smap[BORDER:-BORDER, BORDER:-BORDER]
            means = {r: float(smap[parts[r]].mean()) for r in REGIONS}
            first = first or means
            # each region's share of the difference of the whole-image SSIM to the first method
            delta = {r: share[r] * (means[r] - first[r]) for r in REGIONS}
            print(f"| {method} | {total:.4f} | " + " | ".join(f"{means[r]:.4f}" for r in REGIONS) + " | "
                  + " | ".join(f"{delta[r]:+.4f}" for r in REGIONS) + " |")


if __name__ == "__main__":
    main()
