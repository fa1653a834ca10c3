#!/usr/bin/env python3
"""Throughput of the batch engine over a folder of simulated volumes with 1 and 2 local workers
(scaling efficiency = t1 / (N * tN)), and seconds per slice per method from the same runs.
Run: .venv/bin/python benchmarks/batch_throughput.py [--files 4] [--slices 3] [--methods a,b]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--slices", type=int, default=3)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--methods", default="zero-filled,sense,cs-l1")
    ap.add_argument("--workers", default="1,2")
    a = ap.parse_args()
    from mrirecon import batch
    from mrirecon.pipeline import MaskSpec
    from mrirecon.simulate import SimConfig, write

    methods = a.methods.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "in"
        for i in range(a.files):
            write(data, SimConfig(contrast=("t1w", "t2w", "flair")[i % 3], size=a.size, coils=8,
                                  slices=a.slices, lesions=2, seed=500 + i), f"vol{i}")
        print(f"{a.files} files x {a.slices} slices, {a.size}^2, 8 coils; methods {', '.join(methods)}")
        print(f"{'workers':>7s} {'wall s':>8s} {'slices/s':>9s} {'efficiency':>10s}")
        base = None
        per_method = {}
        for n in (int(w) for w in a.workers.split(",")):
            t0 = time.perf_counter()
            recs = batch.run(data, Path(tmp) / f"out{n}", methods, MaskSpec("equispaced", 4, None, 0),
                             device="cpu", workers=n)
            wall = time.perf_counter() - t0
            base = base or wall * n
            rate = a.files * a.slices / wall
            print(f"{n:7d} {wall:8.1f} {rate:9.2f} {base / (n * wall):10.2f}")
            for r in recs:
                per_method.setdefault((n, r.method), []).append(r.seconds / r.slices)
        print(f"\n{'method':14s} " + " ".join(f"{'s/slice w=' + str(n):>12s}" for n in sorted({k[0] for k in per_method})))
        for m in methods:
            vals = [sum(per_method[(n, m)]) / len(per_method[(n, m)]) for n in sorted({k[0] for k in per_method})]
            print(f"{m:14s} " + " ".join(f"{v:12.3f}" for v in vals))


if __name__ == "__main__":
    main()
