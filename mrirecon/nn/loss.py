"""The training loss of the learned solvers: over the time steps, ``sum_t w_t (L1 + (1 - SSIM))``
with ``w_t`` growing linearly (later steps weigh more); optionally the last output (the one a user
gets) takes a fixed share of the weight."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def ssim_torch(x: torch.Tensor, y: torch.Tensor, data_range: torch.Tensor, win: int = 7) -> torch.Tensor:
    """Mean SSIM of ``(B, H, W)`` images with a uniform ``win`` window (K1 0.01, K2 0.03), the
    same definition as skimage's (sample covariance), differentiable."""
    c1 = (0.01 * data_range).view(-1, 1, 1, 1) ** 2
    c2 = (0.03 * data_range).view(-1, 1, 1, 1) ** 2
    x, y = x.unsqueeze(1), y.unsqueeze(1)
    n = win * win
    k = torch.ones(1, 1, win, win, dtype=x.dtype, device=x.device) / n
    ux, uy = F.conv2d(x, k), F.conv2d(y, k)
    cov = n / (n - 1)
    vx = cov * (F.conv2d(x * x, k) - ux * ux)
    vy = cov * (F.conv2d(y * y, k) - uy * uy)
    vxy = cov * (F.conv2d(x * y, k) - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    return s.mean()


def step_weights(n: int, final_weight: float = 0.0) -> list[float]:
    """Weights of ``n`` outputs, summing to 1: growing linearly with the step; ``final_weight`` in
    (0, 1] gives the last output that share and the earlier ones the rest, still linearly."""
    if not 0.0 <= final_weight <= 1.0:
        raise ValueError(f"final_weight must be within [0, 1], got {final_weight}")
    w = [t + 1.0 for t in range(n)]
    if not final_weight or n == 1:
        return [v / sum(w) for v in w]
    head = sum(w[:-1])
    return [v / head * (1 - final_weight) for v in w[:-1]] + [final_weight]


def loss_fn(outputs: list[torch.Tensor], target: torch.Tensor, final_weight: float = 0.0) -> torch.Tensor:
    """Always in float32, also inside an autocast region: SSIM's ``E[x^2] - E[x]^2`` in bfloat16
    cancels catastrophically (SSIM > 1 on near-identical images)."""
    with torch.autocast(target.device.type, enabled=False):
        target = target.float()
        dr = target.flatten(1).amax(1)
        total = 0.0
        for w, out in zip(step_weights(len(outputs), final_weight), outputs):
            out = out.float()
            total = total + w * (F.l1_loss(out, target) + 1 - ssim_torch(out, target, dr))
    return total
