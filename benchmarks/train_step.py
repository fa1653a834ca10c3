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
import json
import os
import subprocess
import sys

from _common import threads

CHILD = """
import dataclasses, json, time
import numpy as np, torch
from mrirecon import runtime
from mrirecon.nn.loss import loss_fn
from mrirecon.nn.model import MODELS, Reconstructor, config_from_dict
from mrirecon.training import load_config, make_optimizer
from mrirecon.trainset import DataConfig, SimulatedSlices, collate
tuned = runtime.tune_malloc()
method, amp, repeats = {method!r}, {amp!r}, {repeats!r}
cfg = load_config(None, batch_size=2)
cfg.model = dict(final_dc=10, final_dc_map="background", **({{"init_cg": 8}} if method == "recurrentvarnet" else {{}}))
cfg.data = DataConfig(crop=0, coils=(4, 8), accelerations=(4.0, 8.0), fov_mm=(205.0, 250.0), sharpen=(0.0, 3.0),
                      coil_phase=(0.0, 4.0), coil_group=cfg.batch_size)
arch = MODELS[method][0]
model = Reconstructor(method, config_from_dict(arch, {{**dataclasses.asdict(MODELS[method][1]), **cfg.model}}))
model = model.to(memory_format=torch.channels_last)
opt = make_optimizer(model, cfg)
data = SimulatedSlices(cfg.data)
batches = [collate([data[2 * i], data[2 * i + 1]]) for i in range(repeats + 1)]
times = []
for batch in batches:
    t = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        scale, gen = model.normalised_steps(batch["kspace"], batch["mask"].unsqueeze(1), batch["sens"], batch["noise_var"])
        loss = loss_fn(list(gen), batch["target"] / scale.view(-1, 1, 1), 0.5)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t)
print(json.dumps({{"tuned": tuned, "median": float(np.median(times[1:]))}}))
"""


def run(method: str, amp: bool, tuning: str, repeats: int) -> dict:
    env = dict(os.environ, MRIRECON_MALLOC_TUNING=tuning)
    code = CHILD.format(method=method, amp=amp, repeats=repeats)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


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
