"""Seconds per slice of ``mrirecon.reconstruct`` on the shared real scan (equispaced 4x, maps
included, best and median of 5 after a warm-up) with and without ``mrirecon.runtime``'s malloc
settings; each setting runs in its own process (they are process-wide). Two cases: the one slice,
and a stack of four copies of it (one batch of the learned methods: activations above 32 MiB).

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
k = np.repeat((scan.kspace * mask).astype(np.complex64), {slices}, axis=0)
out = {{"tuned": runtime.tune_malloc()}}
for name in {methods!r}:
    mrirecon.reconstruct(k, mask=mask, method=name, device="cpu")
    times = []
    for _ in range(5):
        t = time.perf_counter()
        mrirecon.reconstruct(k, mask=mask, method=name, device="cpu")
        times.append((time.perf_counter() - t) / len(k))
    out[name] = (min(times), float(np.median(times)))
print(json.dumps(out))
"""


def run(methods, tuning: str, slices: int) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, MRIRECON_MALLOC_TUNING=tuning)
    res = subprocess.run([sys.executable, "-c", CHILD.format(bench=here, methods=methods, slices=slices)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    methods = sys.argv[1:] or ["irim", "rim", "cs-l1"]
    print(f"real scan, equispaced 4x, {threads()}; seconds per slice")
    print(f"{'slices':>6s} {'method':16s} {'off best/median s':>20s} {'on best/median s':>20s} {'speed-up':>9s}")
    for slices in (1, 4):
        off, on = run(methods, "0", slices), run(methods, "1", slices)
        assert on["tuned"] and not off["tuned"], "the malloc settings did not take effect as asked"
        for name in methods:
            (ob, om), (nb, nm) = off[name], on[name]
            print(f"{slices:6d} {name:16s} {ob:9.3f} / {om:7.3f} {nb:9.3f} / {nm:7.3f} {om / nm:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
