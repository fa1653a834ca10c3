#!/usr/bin/env python3
"""SVD coil compression (``virtual_coils``, ``coils.compress``): seconds per slice end to end (the
compression, ESPIRiT maps and the solver) and SSIM / PSNR against the full-coil reference, by the
number of virtual coils, on the cases of ``speed_ratio.py`` (the shared real 4-coil slice and a
held-out simulated T2w slice with lesions, default 320² with 16 coils).

    .venv/bin/python benchmarks/coil_compression.py [--methods sense,irim-int8] [--virtual 16,12,8,6,4]
        [--repeats 3] [--size 320] [--coils 16] [--no-sim]
"""
from __future__ import annotations

import argparse
import statistics
import time

from _common import threads
from speed_ratio import cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="sense,irim-int8,irim")
    ap.add_argument("--virtual", default="16,12,8,6,4", help="virtual coil counts (above a case's coils: skipped)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--coils", type=int, default=16)
    ap.add_argument("--no-sim", action="store_true", help="the real scan only")
    a = ap.parse_args()
    from mrirecon import coils, metrics, solvers
    from mrirecon.api import make_problem

    counts = [int(n) for n in a.virtual.split(",") if n]
    print(f"# coil compression ({threads()}; median of {a.repeats} after one untimed run; maps included)")
    print("| data | method | virtual coils | energy kept | s/slice | SSIM | PSNR |")
    print("|---|---|---|---|---|---|---|")
    for name, kspace, mask, target in cases(a.size, a.coils, not a.no_sim):
        c = kspace.shape[0]
        for method_name in a.methods.split(","):
            method = solvers.get(method_name)
            for n in [c] + [n for n in counts if n < c]:
                virtual = None if n == c else n

                def run():
                    t0 = time.perf_counter()
                    image = method.run(make_problem(kspace[None], mask, device="cpu", virtual_coils=virtual))
                    return time.perf_counter() - t0, image[0]
                image = run()[1]
                seconds = statistics.median(run()[0] for _ in range(a.repeats))
                energy = 1.0 if virtual is None else coils.compress(kspace[None], n).energy
                q = metrics.evaluate(target[None], image[None])
                label = f"{n} (all)" if virtual is None else str(n)
                print(f"| {name} | {method_name} | {label} | {energy:.4f} | {seconds:.3f} | {q['ssim']:.4f} | "
                      f"{q['psnr']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
