"""SENSE physics in torch: the forward model, its adjoint, the data-likelihood gradient and data
consistency. Every solver (classical and learned) uses these functions and no copy of them.

Shapes (leading batch dimensions ``...`` broadcast): image ``x (..., H, W)`` complex; k-space
``y (..., C, H, W)`` complex; sensitivities ``sens (..., C, H, W)`` complex; mask boolean,
broadcastable to k-space (e.g. ``(H, W)``).
"""
from __future__ import annotations

import torch

from .fft import fft2c, ifft2c


def _apply_mask(k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, k, torch.zeros((), dtype=k.dtype, device=k.device))


def expand(x: torch.Tensor, sens: torch.Tensor) -> torch.Tensor:
    """Coil images ``S x`` of an image ``(..., H, W)``."""
    return sens * x.unsqueeze(-3)


def reduce(coil_images: torch.Tensor, sens: torch.Tensor) -> torch.Tensor:
    """SENSE coil combination ``sum_c conj(S_c) x_c``."""
    return (sens.conj() * coil_images).sum(dim=-3)


def forward(x: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``A x = M F S x``: image to (masked) multi-coil k-space."""
    k = fft2c(expand(x, sens))
    return k if mask is None else _apply_mask(k, mask)


def adjoint(y: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``A^H y = S^H F^-1 M y``: multi-coil k-space to image."""
    if mask is not None:
        y = _apply_mask(y, mask)
    return reduce(ifft2c(y), sens)


def gradient(x: torch.Tensor, y: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor,
             sigma: float = 1.0) -> torch.Tensor:
    """Gradient of the negative Gaussian log-likelihood ``||A x - y||^2 / (2 sigma^2)``:
    ``S^H F^-1 M (F S x - y) / sigma^2``."""
    g = adjoint(forward(x, sens) - y, sens, mask)
    return g if sigma == 1.0 else g / sigma ** 2


def soft_dc(k: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, weight) -> torch.Tensor:
    """Soft data consistency in k-space: ``k - weight * M (k - y)``; ``weight = 1`` replaces the
    sampled points of ``k`` by the data."""
    return k - weight * _apply_mask(k - y, mask)


def soft_dc_image(x: torch.Tensor, y: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor,
                  weight) -> torch.Tensor:
    """Soft data consistency of an image estimate: ``x - weight * A^H (A x - y)``."""
    return x - weight * gradient(x, y, sens, mask)


def support(sens: torch.Tensor) -> torch.Tensor:
    """Pixels the sensitivity maps cover ``(..., H, W)`` (all of them for uncropped maps)."""
    return (sens.abs() ** 2).sum(dim=-3) > 0


def residual_image(x: torch.Tensor, y: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Data-consistency residual back in image space, ``RSS_c(F^-1 M (F S x - y))``: a trust signal
    for data without a reference."""
    r = ifft2c(_apply_mask(forward(x, sens) - y, mask))
    return (r.abs() ** 2).sum(dim=-3).sqrt()


def normal(x: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``A^H A x``."""
    return adjoint(forward(x, sens, mask), sens, mask)


def tikhonov_cg(y: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor, mu, prior: torch.Tensor | None = None,
                iterations: int = 10, tol: float = 0.0):
    """Conjugate gradients on ``min_x ||A x - y||^2 + mu ||x - prior||^2`` (``prior=None``: 0),
    i.e. ``(A^H A + mu I) x = A^H y + mu prior``, per image of the batch (``mu`` a number or one
    per image, ``(B,)``); yields every iterate.

    Starts from ``prior`` (else 0). Differentiable in ``mu`` and ``prior``; stops early when every
    residual norm falls below ``tol`` times that of the right-hand side.
    """
    b = adjoint(y, sens, mask)
    if torch.is_tensor(mu) and mu.ndim == 1:  # one weight per image of the batch
        mu = _bc(mu)
    if prior is not None:
        b = b + mu * prior
    x = prior if prior is not None else torch.zeros_like(b)
    r = b - (normal(x, sens, mask) + mu * x)
    p = r
    rr = _dot(r, r)
    stop = tol ** 2 * _dot(b, b)
    for _ in range(iterations):
        ap = normal(p, sens, mask) + mu * p
        alpha = rr / _dot(p, ap).clamp_min(1e-30)
        x = x + _bc(alpha) * p
        r = r - _bc(alpha) * ap
        rr_new = _dot(r, r)
        yield x
        if bool((rr_new <= stop).all()):
            return
        p = r + _bc(rr_new / rr.clamp_min(1e-30)) * p
        rr = rr_new


def tikhonov_solve(y: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor, mu, prior: torch.Tensor | None = None,
                   iterations: int = 10) -> torch.Tensor:
    """The last iterate of :func:`tikhonov_cg` (``iterations`` >= 1)."""
    for x in tikhonov_cg(y, sens, mask, mu, prior=prior, iterations=iterations):
        pass
    return x


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image real inner product ``Re <a, b>`` over the image axes."""
    return (a.conj() * b).real.sum(dim=(-2, -1))


def _bc(v: torch.Tensor) -> torch.Tensor:
    return v[..., None, None]
