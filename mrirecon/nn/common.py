"""Helpers shared by the learned solvers: complex <-> channels, normalisation, output scale."""
from __future__ import annotations

import torch

from .. import physics


def to_channels(x: torch.Tensor) -> torch.Tensor:
    """Complex ``(B, H, W)`` -> real ``(B, 2, H, W)``."""
    return torch.view_as_real(x).permute(0, 3, 1, 2)


def from_channels(x: torch.Tensor) -> torch.Tensor:
    """Real ``(B, 2, H, W)`` -> complex ``(B, H, W)``."""
    return torch.complex(x[:, 0].float(), x[:, 1].float())


def data_scale(y: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample normaliser ``(B,)``: the 99th percentile of the zero-filled SENSE image."""
    x0 = physics.adjoint(y, sens, mask).abs().flatten(1)
    k = max(int(0.99 * x0.shape[1]), 1)
    return x0.kthvalue(k, dim=1).values.clamp_min(1e-12)

