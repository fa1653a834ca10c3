#!/usr/bin/env python3
"""Sweep the relative regularisation weight of cs-l1 (with and without random wavelet shifts) and
cs-tv: how their defaults were chosen.

Data: the shared real T2 scan and the middle slice of each bundled sample, at the GUIDE §10 masks.
lambda is relative to the 99th percentile of the zero-filled SENSE image (see solvers/cs.py).
Run: .venv/bin/python benchmarks/cs_lambda.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from _common import ROOT, guide_masks, real_scan

LAMBDAS = (1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2)
# (name, label, options): cs-l1 with and without random wavelet shifts (solvers/cs.py; its torch and
# sigpy backends give the same SSIM / PSNR on one slice: benchmarks/cs_backends.py), cs-tv
METHODS = (("cs-l1", "cs-l1 shifts", {}), ("cs-l1", "cs-l1 fixed", {"shifts": False}),
           ("cs-tv", "cs-tv", {}))


def main():
    import mrirecon
    from mrirecon import metrics, solvers
    from mrirecon.api import make_problem

    cases = [("real T2", real_scan())]
    cases += [(Path(p).stem, mrirecon.load(p)) for p in sorted((ROOT / "sample_data").glob("*.h5"))]
    print(f"{'data':26s} {'mask':14s} {'method':14s} " + " ".join(f"{'lam=' + format(lam, 'g'):>15s}" for lam in LAMBDAS))
    for label, scan in cases:
        s = scan.kspace.shape[0] // 2
        k, gt = scan.kspace[s:s + 1], scan.target[s:s + 1]
        for mname, mask in guide_masks(k.shape[-2:]).items():
            problem = make_problem((k * mask).astype(np.complex64), mask, device="cpu")
            for name, label_m, opts in METHODS:
                cells = []
                for lam in LAMBDAS:
                    e = metrics.evaluate(gt, solvers.get(name, lam=lam, **opts).run(problem))
                    cells.append(f"{e['ssim']:.4f}/{e['psnr']:5.2f}")
                print(f"{label:26s} {mname:14s} {label_m:14s} " + " ".join(f"{c:>15s}" for c in cells))


if __name__ == "__main__":
    main()
