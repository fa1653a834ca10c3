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
import json
import subprocess
import sys

from _common import threads

CHILD = """
import dataclasses, json, resource, time
import numpy as np, torch
from mrirecon import runtime
from mrirecon.nn.loss import loss_fn
from mrirecon.nn.model import MODELS, Reconstructor, config_from_dict
from mrirecon.training import load_config, make_optimizer, set_recompute
from mrirecon.trainset import DataConfig, SimulatedSlices, collate
runtime.tune_malloc()
method, recompute, repeats = {method!r}, {recompute!r}, {repeats!r}
cfg = load_config(None, batch_size=2)
cfg.model = dict(final_dc=10, final_dc_map="background", **({{"init_cg": 8}} if method == "recurrentvarnet" else {{}}))
cfg.data = DataConfig(crop=0, coils=(4, 8), accelerations=(4.0, 8.0), fov_mm=(205.0, 250.0), sharpen=(0.0, 3.0),
                      coil_phase=(0.0, 4.0), coil_group=cfg.batch_size)
arch = MODELS[method][0]
model = Reconstructor(method, config_from_dict(arch, {{**dataclasses.asdict(MODELS[method][1]), **cfg.model}}))
model = model.to(memory_format=torch.channels_last)
set_recompute(model, recompute)
opt = make_optimizer(model, cfg)
data = SimulatedSlices(cfg.data)
batches = [collate([data[2 * i], data[2 * i + 1]]) for i in range(repeats + 1)]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for batch in batches:
    t = time.perf_counter()
    scale, gen = model.normalised_steps(batch["kspace"], batch["mask"].unsqueeze(1), batch["sens"], batch["noise_var"])
    loss = loss_fn(list(gen), batch["target"] / scale.view(-1, 1, 1), 0.5)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"median": float(np.median(times[1:])), "peak_mb": peak / 1024, "data_mb": before / 1024}}))
"""


def run(method: str, recompute: bool, repeats: int) -> dict:
    code = CHILD.format(method=method, recompute=recompute, repeats=repeats)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


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
