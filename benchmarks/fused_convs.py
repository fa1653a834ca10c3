#!/usr/bin/env python3
"""Fused oneDNN convolutions (``mrirecon.nn.fused``) on and off, per learned method: solver seconds
per slice on the shared real scan (maps computed once, outside the timing), alternating the two
settings round after round so both see the same load, and the largest difference between their
magnitudes relative to the image's maximum.

    .venv/bin/python benchmarks/fused_convs.py [--methods irim-bf16,irim,cirim-bf16] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import guide_masks, real_scan, threads


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="irim-bf16,irim,rim-bf16,cirim-bf16,recurrentvarnet-bf16")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    from mrirecon import solvers
    from mrirecon.api import make_problem
    from mrirecon.nn import fused

    if not fused.available():
        print("fused convolutions are not available in this PyTorch build: nothing to compare")
        return
    scan = real_scan()
    print(f"# fused convolutions on / off ({threads()}; {a.rounds} alternating rounds after one untimed run each)")
    print("| mask | method | unfused s | fused s | fused / unfused | max rel. difference |")
    print("|---|---|---|---|---|---|")
    for mname in ("equispaced 4x", "gaussian2d 8x"):
        m = guide_masks(scan.shape)[mname]
        problem = make_problem((scan.kspace[0] * m).astype(np.complex64)[None], m, device="cpu")
        for name in [n for n in a.methods.split(",") if n]:
            method = solvers.get(name)
            images, times = {}, {False: [], True: []}

            def run(on: bool):
                fused._AVAILABLE = None if on else False  # None: probed again (True here)
                t0 = time.perf_counter()
                images[on] = method.run(problem)
                return time.perf_counter() - t0

            run(False), run(True)
            for r in range(a.rounds):
                for on in ((False, True) if r % 2 == 0 else (True, False)):
                    times[on].append(run(on))
            off, on = statistics.median(times[False]), statistics.median(times[True])
            diff = np.abs(images[True] - images[False]).max() / np.abs(images[False]).max()
            print(f"| {mname} | {name} | {off:.3f} | {on:.3f} | {on / off:.2f} | {diff:.1e} |", flush=True)
    fused._AVAILABLE = None


if __name__ == "__main__":
    main()
