#!/usr/bin/env python3
"""CUDA checks and GPU speed (run on a lent GPU): CPU vs CUDA agreement of the physics, CG-SENSE and
the torch cs-l1 (with its time per slice on each), and slices/s of every learned architecture at
320^2 with 16 coils (network + physics, random weights: speed does not depend on the weights),
fp32 and bf16.
Run: python benchmarks/gpu_checks.py [--real FILE]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", default=None)
    a = ap.parse_args()
    import mrirecon
    from mrirecon import masks, physics, solvers
    from mrirecon.api import make_problem
    from mrirecon.nn.model import MODELS, Reconstructor

    assert torch.cuda.is_available(), "no CUDA device"
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    g = torch.Generator().manual_seed(0)
    x = torch.complex(torch.randn(4, 64, 64, generator=g), torch.randn(4, 64, 64, generator=g))
    s = torch.complex(torch.randn(4, 8, 64, 64, generator=g), torch.randn(4, 8, 64, 64, generator=g))
    m = torch.from_numpy(masks.create("poisson2d", (64, 64), 4, seed=0))
    for name, fn in (("forward", lambda d: physics.forward(x.to(d), s.to(d), m.to(d))),
                     ("gradient", lambda d: physics.gradient(x.to(d), physics.forward(x, s, m).to(d) * 0.5,
                                                             s.to(d), m.to(d)))):
        err = (fn("cuda").cpu() - fn("cpu")).abs().max() / fn("cpu").abs().max()
        print(f"physics.{name}: max relative CPU/CUDA difference {err:.2e}")
    if a.real:
        scan = mrirecon.load(a.real)
        mk = masks.create("equispaced", scan.shape, 4, 0.08, seed=0)
        outs = {}
        for dev in ("cpu", "cuda"):
            p = make_problem(scan.kspace * mk, mk, device=dev)
            t0 = time.perf_counter()
            outs[dev] = solvers.get("sense").run(p)
            print(f"sense on {dev}: {time.perf_counter() - t0:.3f} s, "
                  f"{mrirecon.metrics.evaluate(scan.target, outs[dev])}")
        print("sense CPU vs CUDA max abs diff / max:", float(np.abs(outs['cpu'] - outs['cuda']).max() / outs['cpu'].max()))
        for dev in ("cpu", "cuda"):  # the torch cs-l1 (FISTA + matrix wavelets) on each device
            p = make_problem(scan.kspace * mk, mk, device=dev)
            solvers.get("cs-l1", iterations=5).run(p)  # warm-up (CUDA context, wavelet matrices)
            t0 = time.perf_counter()
            outs[dev] = solvers.get("cs-l1").run(p)
            if dev == "cuda":
                torch.cuda.synchronize()
            print(f"cs-l1 on {dev}: {(time.perf_counter() - t0) / scan.kspace.shape[0]:.3f} s per slice, "
                  f"{mrirecon.metrics.evaluate(scan.target, outs[dev])}")
        print("cs-l1 CPU vs CUDA max abs diff / max:",
              float(np.abs(outs['cpu'] - outs['cuda']).max() / outs['cpu'].max()))
    # speed at 320^2, 16 coils
    b, c, h, w = 8, 16, 320, 320
    y = torch.complex(torch.randn(b, c, h, w), torch.randn(b, c, h, w)).cuda()
    sens = torch.complex(torch.randn(b, c, h, w), torch.randn(b, c, h, w)).cuda()
    sens = sens / (sens.abs() ** 2).sum(1, keepdim=True).sqrt()
    mask = torch.from_numpy(masks.create("equispaced", (h, w), 4, seed=0)).cuda()
    print(f"{'model':16s} {'params':>8s} {'fp32 slices/s':>14s} {'bf16 slices/s':>14s}  (batch {b}, {h}x{w}, {c} coils)")
    for name in MODELS:
        model = Reconstructor(name).cuda().eval()
        rates = []
        for amp in (False, True):
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                model(y, mask, sens)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                for _ in range(3):
                    model(y, mask, sens)
                torch.cuda.synchronize()
                rates.append(3 * b / (time.perf_counter() - t0))
        n = sum(p.numel() for p in model.parameters())
        print(f"{name:16s} {n:8d} {rates[0]:14.1f} {rates[1]:14.1f}")
    print(f"peak CUDA memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
