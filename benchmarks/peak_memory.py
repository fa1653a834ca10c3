#!/usr/bin/env python3
"""Peak memory of each method on one slice, every method in a fresh process.

A method's working memory is the growth of the process's peak resident set (``VmHWM``) during its
first run, over what the process held just before it (the data, the sensitivity maps and, for a
learned method, its loaded weights). In one long-lived process that growth reads 0 for most
methods, because an earlier method already raised the peak (what ``learned_vs_cs.py`` and the study
report); here nothing ran before. BART runs as child processes: its figure is the largest resident
set of a child (``ru_maxrss``), its whole process rather than a growth. Data: the shared real T2
scan (4 coils, 256²) at equispaced 4x, and that slice stacked four times (one batch of the learned
methods).

    .venv/bin/python benchmarks/peak_memory.py [METHOD ...]   (default: every available method + variants)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from _common import bart_available, threads

CHILD = """
import json, resource, sys
import numpy as np
sys.path.insert(0, {bench!r})
from _common import bart_pics, guide_masks, real_scan
from mrirecon import solvers
from mrirecon.api import make_problem
from mrirecon.external import peak_memory_mb, reset_peak_memory
scan = real_scan()
mask = guide_masks(scan.shape)["equispaced 4x"]
k = np.repeat((scan.kspace * mask).astype(np.complex64), {slices}, axis=0)
if {name!r} == "bart":
    for s in range(len(k)):
        bart_pics(k[s], 1e-2)
    print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "held_mb": 0.0}}))
else:
    method = solvers.get({name!r})
    problem = make_problem(k, mask, device="cpu", need_sens=method.needs_sens)
    if method.learned:
        method.model("cpu")
    base = reset_peak_memory()
    method.run(problem)
    print(json.dumps({{"peak_mb": peak_memory_mb() - base, "held_mb": base}}))
"""


def measure(name: str, slices: int) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    code = CHILD.format(bench=here, name=name, slices=slices)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    from mrirecon import solvers

    names = sys.argv[1:] or solvers.available(variants=True) + (["bart"] if bart_available() else [])
    print(f"real T2 slice (4 coils, 256²), equispaced 4x, {threads()}; MB")
    print(f"{'method':22s} {'1 slice':>9s} {'4 slices':>9s} {'held before (1 slice)':>22s}")
    for name in names:
        one, four = measure(name, 1), measure(name, 4)
        held = "(child process)" if name == "bart" else f"{one['held_mb']:.0f}"
        print(f"{name:22s} {one['peak_mb']:9.0f} {four['peak_mb']:9.0f} {held:>22s}", flush=True)


if __name__ == "__main__":
    main()
