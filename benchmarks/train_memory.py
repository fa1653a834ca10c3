#!/usr/bin/env python3
"""Peak memory and seconds per training step with and without activation recomputation
(``TrainConfig.recompute``), in float32 on the batches the shipped models were trained on (2 whole
256² simulated T1w slices, 4-8 coils, ``benchmarks/train_step.py``'s data settings). Each setting
runs in its own process, so that its peak resident memory (``ru_maxrss``) is its own; one warm-up
step, then the median of ``--repeats`` steps.

    .venv/bin/python benchmarks/train_memory.py [--methods rim,irim,recurrentvarnet] [--repeats 2]
"""
from __future__ import annotations

import argparse

from _common import TRAIN_SETUP, run_child, threads

CHILD = TRAIN_SETUP + """
import resource
from mrirecon.training import set_recompute
recompute = {recompute!r}
set_recompute(model, recompute)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = [step_seconds(batch) for batch in batches]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"median": float(np.median(times[1:])), "peak_mb": peak / 1024, "data_mb": before / 1024}}))
"""


def run(method: str, recompute: bool, repeats: int) -> dict:
    return run_child(CHILD.format(method=method, recompute=recompute, repeats=repeats))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="rim,irim,recurrentvarnet")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    print(f"# training step, float32, batch 2 x 256² ({threads()}); peak: the process's resident maximum")
    print("| method | recompute | s/step | peak MB | before the first step MB |")
    print("|---|---|---|---|---|")
    for method in a.methods.split(","):
        for recompute in (False, True):
            r = run(method, recompute, a.repeats)
            print(f"| {method} | {'on' if recompute else 'off'} | {r['median']:.2f} | {r['peak_mb']:.0f} | "
                  f"{r['data_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
