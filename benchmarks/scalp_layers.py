#!/usr/bin/env python3
"""Does the head's layered scalp cost the learned methods their margin over CS? Simulated twins.

The same simulated T2w subjects (4 coils, per-coil phase, sharpened, 220 mm field of view) drawn
twice: with the soft skull-and-scalp bands the simulator drew until 2026-12-02 (``scalp="bands"``)
and with the thin, sharp layers of a real head (``scalp="layers"``: CSF, inner table, diploe, outer
table, muscle, fat, skin; the shared real T2 scan shows several such rings). Only what lies outside
the brain differs. Each method's SSIM (whole image, skimage, data_range = reference max) at the
project's equispaced 4x and gaussian2d 8x masks, and the mean of each method's difference to the
first one named.

    .venv/bin/python benchmarks/scalp_layers.py [--methods cs-l1,rim,irim] [--subjects 3]
"""
from __future__ import annotations

import argparse

import numpy as np
from _common import guide_masks, threads


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="cs-l1,rim,irim,recurrentvarnet", help="comma-separated; the first is the reference")
    ap.add_argument("--subjects", type=int, default=3)
    ap.add_argument("--snr", type=float, default=40.0)
    args = ap.parse_args()
    from skimage.metrics import structural_similarity

    import mrirecon
    from mrirecon.simulate import SimConfig, simulate

    methods = args.methods.split(",")
    masks = {name: m for name, m in guide_masks((256, 256)).items() if name != "equispaced 8x"}
    print(f"simulated T2w, 256², 4 coils, SNR {args.snr:g}, subjects 100..{99 + args.subjects}; {threads()}")
    head = "| subject | scalp | mask | " + " | ".join(methods) + " |"
    print(head + "\n" + "|---" * (head.count("|") - 1) + "|")
    scores: dict[tuple[str, str], list[list[float]]] = {}
    for subject in range(100, 100 + args.subjects):
        for scalp in ("bands", "layers"):
            acq = simulate(SimConfig(contrast="t2w", size=256, coils=4, slices=1, seed=subject, snr=args.snr,
                                     fov_mm=220, sharpen=2.5, coil_phase=4.0, scalp=scalp))
            gt = acq.target[0].astype(np.float64)
            for mask_name, mask in masks.items():
                row = []
                for method in methods:
                    x = mrirecon.reconstruct(acq.kspace[0] * mask, mask=mask, method=method, device="cpu")
                    row.append(structural_similarity(gt, np.abs(np.asarray(x)).astype(np.float64), data_range=gt.max()))
                scores.setdefault((scalp, mask_name), []).append(row)
                print(f"| {subject} | {scalp} | {mask_name} | " + " | ".join(f"{s:.4f}" for s in row) + " |", flush=True)
    print(f"\nmean SSIM, and difference to {methods[0]}")
    head = "| scalp | mask | " + " | ".join(methods) + " | " + " | ".join(f"Δ {m}" for m in methods[1:]) + " |"
    print(head + "\n" + "|---" * (head.count("|") - 1) + "|")
    for (scalp, mask_name), rows in sorted(scores.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        a = np.asarray(rows)
        print(f"| {scalp} | {mask_name} | " + " | ".join(f"{v:.4f}" for v in a.mean(0)) + " | "
              + " | ".join(f"{v:+.4f}" for v in (a[:, 1:] - a[:, :1]).mean(0)) + " |")


if __name__ == "__main__":
    main()
