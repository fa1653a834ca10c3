"""Seconds per slice of ``mrirecon.reconstruct`` on the shared real scan (equispaced 4x, maps
included, best and median of 5 after a warm-up) with and without ``mrirecon.runtime``'s malloc
settings; each setting runs in its own process (they are process-wide).

    .venv/bin/python benchmarks/malloc_tuning.py [METHOD ...]   (default: irim rim cs-l1)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from _common import threads

CHILD = """
import json, sys, time
import numpy as np
sys.path.insert(0, {bench!r})
from _common import guide_masks, real_scan
import mrirecon
from mrirecon import runtime
scan = real_scan()
mask = guide_masks(scan.shape)["equispaced 4x"]
k = (scan.kspace * mask).astype(np.complex64)
out = {{"tuned": runtime.tune_malloc()}}
for name in {methods!r}:
    mrirecon.reconstruct(k, mask=mask, method=name, device="cpu")
    times = []
    for _ in range(5):
        t = time.perf_counter()
        mrirecon.reconstruct(k, mask=mask, method=name, device="cpu")
        times.append(time.perf_counter() - t)
    out[name] = (min(times), float(np.median(times)))
print(json.dumps(out))
"""


def run(methods, tuning: str) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, MRIRECON_MALLOC_TUNING=tuning)
    res = subprocess.run([sys.executable, "-c", CHILD.format(bench=here, methods=methods)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    methods = sys.argv[1:] or ["irim", "rim", "cs-l1"]
    off, on = run(methods, "0"), run(methods, "1")
    print(f"real scan, equispaced 4x, {threads()}; malloc tuning in effect: off={off['tuned']} on={on['tuned']}")
    print(f"{'method':16s} {'off best/median s':>20s} {'on best/median s':>20s} {'speed-up':>9s}")
    for name in methods:
        (ob, om), (nb, nm) = off[name], on[name]
        print(f"{name:16s} {ob:9.3f} / {om:7.3f} {nb:9.3f} / {nm:7.3f} {om / nm:8.2f}x")


if __name__ == "__main__":
    main()
