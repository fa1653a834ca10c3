#!/usr/bin/env python3
"""Seconds per training step by precision (float32, bf16 autocast) and malloc setting
(``mrirecon.runtime.tune_malloc`` off / on), on the batches the shipped models were trained on
(2 whole 256² simulated T1w slices, 4-8 coils, the shipped configs' data settings). Each setting
runs in its own process (malloc settings are process-wide); one warm-up step, then the median of
``--repeats`` steps (forward, loss over the steps, backward, Adam). Tells which precision
``train --precision auto`` should pick on this machine (``runtime.fast_bf16``).

    .venv/bin/python benchmarks/train_step.py [--methods irim,rim,recurrentvarnet] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os

from _common import TRAIN_SETUP, run_child, threads

CHILD = TRAIN_SETUP + """
amp = {amp!r}
times = [step_seconds(batch, amp) for batch in batches]
print(json.dumps({{"tuned": tuned, "median": float(np.median(times[1:]))}}))
"""


def run(method: str, amp: bool, tuning: str, repeats: int) -> dict:
    env = dict(os.environ, MRIRECON_MALLOC_TUNING=tuning)
    return run_child(CHILD.format(method=method, amp=amp, repeats=repeats), env)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="irim,rim,recurrentvarnet")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    import torch

    from mrirecon.runtime import cpu_flags, fast_bf16

    flags = cpu_flags()
    print(f"{threads()}; avx512_bf16 {'avx512_bf16' in flags}, amx_bf16 {'amx_bf16' in flags}; "
          f"precision auto picks {'bf16' if fast_bf16(torch.device('cpu')) else 'fp32'}")
    print(f"{'method':16s} {'malloc':>7s} {'fp32 s/step':>12s} {'bf16 s/step':>12s} {'fp32/bf16':>10s}")
    for method in a.methods.split(","):
        for tuning in ("0", "1"):
            fp32 = run(method, False, tuning, a.repeats)
            bf16 = run(method, True, tuning, a.repeats)
            label = "tuned" if fp32["tuned"] else "default"
            print(f"{method:16s} {label:>7s} {fp32['median']:12.2f} {bf16['median']:12.2f} "
                  f"{fp32['median'] / bf16['median']:10.2f}", flush=True)


if __name__ == "__main__":
    main()
