"""Shared helpers of the benchmark scripts: the shared real scan, its masks and BART's file format."""
from __future__ import annotations

import os
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
REAL_SCAN = ROOT.parent / "shared" / "data" / "real_t2_brain_4coil.h5"


def real_scan():
    import mrirecon

    if not REAL_SCAN.exists():
        sys.exit(f"shared real scan not found: {REAL_SCAN}")
    return mrirecon.load(REAL_SCAN)


def guide_masks(shape):
    """The GUIDE §10 settings, built with mrirecon.masks: equispaced 4x (8 %), 8x (4 %); 2D 8x."""
    from mrirecon import masks

    return {
        "equispaced 4x": masks.create("equispaced", shape, 4, 0.08, seed=0),
        "equispaced 8x": masks.create("equispaced", shape, 8, 0.04, seed=0),
        "gaussian2d 8x": masks.create("gaussian2d", shape, 8, 0.08, seed=0),
    }


def corners(images, n: int):
    """The four ``n`` x ``n`` corners of ``images`` (..., H, W), where a head scan holds no object,
    side by side as (..., 4 n^2)."""
    import numpy as np

    parts = (images[..., :n, :n], images[..., :n, -n:], images[..., -n:, :n], images[..., -n:, -n:])
    return np.concatenate([c.reshape(*c.shape[:-2], -1) for c in parts], axis=-1)


def threads() -> str:
    import torch

    return f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}"


# the setup of a training-step benchmark's child process (``train_step.py``, ``train_memory.py``):
# the shipped models' training batches (2 whole 256² simulated T1w slices, 4-8 coils) and
# ``method``'s model and optimizer, and ``step_seconds(batch, amp)``, one timed training step (forward,
# loss over the steps, backward, Adam); format with ``method`` and ``repeats`` (batches: repeats + 1)
TRAIN_SETUP = """
import dataclasses, json, time
import numpy as np, torch
from mrirecon import runtime
from mrirecon.nn.loss import loss_fn
from mrirecon.nn.model import MODELS, Reconstructor, config_from_dict
from mrirecon.training import load_config, make_optimizer
from mrirecon.trainset import DataConfig, SimulatedSlices, collate
tuned = runtime.tune_malloc()
method, repeats = {method!r}, {repeats!r}
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


def step_seconds(batch, amp=False):
    t = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        scale, gen = model.normalised_steps(batch["kspace"], batch["mask"].unsqueeze(1), batch["sens"], batch["noise_var"])
        loss = loss_fn(list(gen), batch["target"] / scale.view(-1, 1, 1), 0.5)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t
"""


def run_child(code: str, env=None) -> dict:
    """Run ``code`` in a fresh Python process; the JSON object its last output line holds."""
    import json
    import subprocess

    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


# BART and memory helpers live in the library (mrirecon.external); re-exported for the scripts
from mrirecon.external import bart_available, bart_pics, read_cfl, write_cfl  # noqa: E402,F401
