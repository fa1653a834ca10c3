"""How well the coils unfold equispaced aliasing: SENSE g-factor of the shared real scan's maps
against simulated birdcage maps with extra per-coil phase (``SimConfig.coil_phase``).

The g-factor of a pixel at acceleration R (equispaced, calibration lines ignored) is
``sqrt([(SᴴS)⁻¹]ᵢᵢ [SᴴS]ᵢᵢ)`` over the R pixels that fold onto each other; a network trained where
g is large learns to lean on its prior, where the data could unfold. Printed: mean and 95th
percentile over the head, per coil count and ``coil_phase``; with ``--method`` also SSIM / PSNR of
methods on simulated T2w slices (4 coils, equispaced 4x) per ``coil_phase``.

    .venv/bin/python benchmarks/coil_geometry.py [--method cs-l1 --method irim]
"""
from __future__ import annotations

import argparse

import numpy as np

from _common import real_scan

PHASES = (0.0, 1.0, 2.0, 3.0, 4.0)


def head(target: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_fill_holes(target > 0.1 * target.max())


def stats(g: np.ndarray, where: np.ndarray) -> str:
    v = g[where]
    return f"{v.mean():6.2f} {np.percentile(v, 95):6.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", action="append", default=[])
    ap.add_argument("--subjects", type=int, default=4, help="simulated subjects per coil_phase")
    a = ap.parse_args()
    from mrirecon import coils
    from mrirecon.coils import g_factor
    from mrirecon.simulate import SimConfig, simulate

    scan = real_scan()
    k = scan.kspace[0]
    print("SENSE g-factor, equispaced R (calibration ignored): mean / 95th percentile over the head")
    print(f"{'maps':34s} {'R=2':>13s} {'R=4':>13s}")
    sens = coils.estimate(k)
    where = head(scan.target[0])
    print(f"{'real T2, 4 coils (ESPIRiT)':34s} {stats(g_factor(sens, 2), where)} {stats(g_factor(sens, 4), where)}")
    for n_coils in (4, 8):
        for phase in PHASES:
            g2, g4 = [], []
            for seed in range(a.subjects):
                acq = simulate(SimConfig(contrast="t2w", coils=n_coils, slices=1, seed=seed, coil_phase=phase))
                s = acq.sens[0] / np.maximum(coils.rss(acq.sens[0]), 1e-6)
                m = head(acq.target[0])
                g2.append(g_factor(s, 2)[m])
                g4.append(g_factor(s, 4)[m])
            g2, g4 = np.concatenate(g2), np.concatenate(g4)
            name = f"sim, {n_coils} coils, coil_phase {phase:g}"
            print(f"{name:34s} {stats(g2, slice(None))} {stats(g4, slice(None))}")
    if a.method:
        score_sim(a.method, a.subjects)


def score_sim(methods, subjects: int) -> None:
    """Methods on simulated T2w (4 coils, SNR 30, equispaced 4x) per coil_phase: mean SSIM / PSNR."""
    import mrirecon
    from mrirecon import masks, metrics
    from mrirecon.simulate import SimConfig, simulate

    print(f"\nsimulated T2w, 4 coils, equispaced 4x, {subjects} subjects: SSIM / PSNR")
    print(f"{'coil_phase':>10s} " + " ".join(f"{m:>16s}" for m in methods))
    for phase in PHASES[::2]:
        rows = {m: [] for m in methods}
        for seed in range(subjects):
            acq = simulate(SimConfig(contrast="t2w", coils=4, slices=1, seed=100 + seed, coil_phase=phase))
            m = masks.create("equispaced", acq.kspace.shape[-2:], 4, 0.08, seed=0)
            for meth in methods:
                x = np.asarray(mrirecon.reconstruct((acq.kspace * m).astype(np.complex64), mask=m, method=meth,
                                                    device="cpu"))
                rows[meth].append((metrics.ssim(acq.target, x), metrics.psnr(acq.target, x)))
        cells = [f"{np.mean([r[0] for r in rows[m]]):.4f}/{np.mean([r[1] for r in rows[m]]):5.2f}" for m in methods]
        print(f"{phase:10g} " + " ".join(f"{c:>16s}" for c in cells))


if __name__ == "__main__":
    main()
