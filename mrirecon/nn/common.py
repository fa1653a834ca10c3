"""Helpers shared by the learned solvers: complex <-> channels, normalisation, output scale."""
from __future__ import annotations

import torch
from torch import nn

from .. import physics


def to_channels(x: torch.Tensor) -> torch.Tensor:
    """Complex ``(B, H, W)`` -> real ``(B, 2, H, W)``."""
    return torch.view_as_real(x).permute(0, 3, 1, 2)


def from_channels(x: torch.Tensor) -> torch.Tensor:
    """Real ``(B, 2, H, W)`` -> complex ``(B, H, W)``."""
    return torch.complex(x[:, 0].float(), x[:, 1].float())


def data_scale(y: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample normaliser ``(B,)``: the 99th percentile of the zero-filled SENSE image over the
    pixels the sensitivity maps cover (all of them for uncropped maps)."""
    x0 = physics.adjoint(y, sens, mask).abs().flatten(1)
    covered = physics.support(sens).flatten(1).expand_as(x0)
    out = []
    for values, inside in zip(x0, covered):
        values = values[inside] if bool(inside.any()) else values
        out.append(values.kthvalue(max(int(0.99 * values.numel()), 1)).values)
    return torch.stack(out).clamp_min(1e-12)


# Normalised noise variance (per k-space sample, data divided by ``data_scale``) of a simulated
# SNR-30 acquisition, the middle of the training range (SNR 15: 2.4e-3, SNR 60: 1.5e-4; the shared
# real T2 scan: 3e-4).
NOISE_REF = 6e-4


def dc_weight(log_mu: torch.Tensor, mu_noise: torch.Tensor | None = None,
              noise_var: torch.Tensor | None = None) -> torch.Tensor:
    """The weight ``mu`` of the final data-consistency step on the network's estimate: a learned
    constant ``exp(log_mu)``, or (``mu_noise`` given, config ``final_dc_noise``) one per sample that
    follows its normalised noise variance, ``exp(log_mu) (noise_var / NOISE_REF)^mu_noise`` with a
    learned exponent. MAP reasoning gives exponent 1 (``mu = sigma^2 / tau^2``, ``tau^2`` the
    network's error variance); the network's error also grows with the noise, so less is expected.
    Without a noise estimate the constant is used."""
    log_mu = log_mu.float()
    if mu_noise is None or noise_var is None:
        return log_mu.exp()
    ratio = noise_var.float().clamp_min(1e-20) / NOISE_REF
    return (log_mu + mu_noise.float() * ratio.log()).exp()


class WeightMap(nn.Module):
    """``final_dc_map``: a per-pixel factor on the final data-consistency weight, bounded to
    ``exp(+-LIMIT)``. MAP reasoning gives ``mu(r) = sigma^2 / tau(r)^2`` with ``tau(r)^2`` the
    network's local error variance: one weight for the whole image trusts the network as little in
    the empty background (where it is nearly exact) as at the edges of the anatomy. On the shared
    real scan at 2D 8x the constant weight put noise back into the background ring between head
    and support (irim: ring SSIM 0.938 before the step, 0.916 after) while it gained in the head.

    Two forms (``kind``), both starting as the constant-weight model they are warm-started from:
    - ``"hidden"``: ``exp(m(r))``, ``m`` a zero-initialised 3x3 convolution of the last hidden state.
      Fine-tuned on simulated T1w it gains on simulated T2w / FLAIR (+0.2-0.7 dB) but trusts the
      network in the head of the real scan too much (PSNR -0.7 dB at equispaced 4x; runs/irim_map).
    - ``"background"``: ``exp(gain * exp(-(|x(r)| / width)^2))`` with two learned numbers (``gain``
      from 0): more trust only where the network's own estimate ``x`` is near zero, the background.
      ``width`` is capped at ``MAX_WIDTH`` of the normalised image (its 99th percentile is 1;
      three quarters of the brain lie above 0.3, in the real scan and in simulated T1w): uncapped, cirim's grew to 1.1 on simulated data, the gate covered
      the head and acted as a larger constant weight (real scan: -0.7 dB at equispaced 4x,
      runs/cirim_bg2); irim's stopped at 0.14.
    """

    LIMIT = 5.0
    MAX_WIDTH = 0.15
    KINDS = ("hidden", "background")

    def __init__(self, kind: str, channels: int):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"final_dc_map must be {' or '.join(self.KINDS)} (or empty), got {kind!r}")
        self.kind = kind
        if kind == "hidden":
            self.conv = nn.Conv2d(channels, 1, 3, padding=1)
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)
        else:
            self.gain = nn.Parameter(torch.zeros(()))
            self.log_width = nn.Parameter(torch.tensor(0.05).log())  # of the normalised image

    def forward(self, x: torch.Tensor, hidden: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """``mu`` (a number or ``(B,)``) times the map for the estimate ``x`` ``(B, H, W)`` and the
        last hidden state: ``(B, H, W)``, float32."""
        if self.kind == "hidden":
            m = self.conv(hidden.float())[:, 0]
        else:
            width = self.log_width.exp().clamp(max=self.MAX_WIDTH)
            m = self.gain * torch.exp(-(x.abs() / width) ** 2)
        factor = (self.LIMIT * torch.tanh(m / self.LIMIT)).exp()
        return (mu.view(-1, 1, 1) if mu.ndim == 1 else mu) * factor


class SparseStep(nn.Module):
    """``final_l1``: after the data-consistency step, ``iterations`` of FISTA on
    ``min_z 1/2 ||A z - y||^2 + mu'/2 ||z - x_net||^2 + lam ||W z||_1`` from that step's output
    (``physics.l1_wavelet_fista``: db4 wavelets on randomly shifted grids, as ``cs-l1``), with two
    learned numbers: ``lam`` (log scale, in the unit of the normalised data, as ``cs-l1``'s) and the
    factor ``mu' / mu`` on the data-consistency weight (per pixel with ``final_dc_map``; log scale,
    from 1). At ``lam = 0`` and factor 1 the data-consistency step's output is the minimiser, so a
    model warm-started from one without this step begins where it was, plus ``lam``'s sparsity.

    The network is the prior, the wavelets' sparsity a second one, the data the likelihood. The
    networks' errors and ``cs-l1``'s are far apart on the shared real scan (the mean of ``irim`` and
    ``cs-l1`` beats both at equispaced 4x, docs/notes.md). Step ``1 / (max_r sum_c |S_c(r)|^2 +
    max mu')``: the maps' largest squared RSS bounds ``||A^H A||`` (``||M F S x|| <= ||S x||``), no
    power iteration needed. Runs in float32 (autocast off: the wavelet matrices' products in bf16
    would lose the small coefficients the threshold acts on)."""

    def __init__(self, iterations: int, lam: float):
        super().__init__()
        if iterations < 1 or lam <= 0:
            raise ValueError(f"final_l1 needs iterations >= 1 and final_l1_lam > 0, got {iterations}, {lam}")
        self.iterations = int(iterations)
        self.log_lam = nn.Parameter(torch.tensor(float(lam)).log())
        self.log_mu_factor = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor, prior: torch.Tensor, mu: torch.Tensor, y: torch.Tensor,
                sens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast(z.device.type, enabled=False):
            op = physics.Sense(sens, mask)
            mu = mu.float() * self.log_mu_factor.exp()
            mu = mu.view(-1, 1, 1) if mu.ndim == 1 else mu
            with torch.no_grad():
                mu_max = mu.amax(dim=(-2, -1)) if mu.ndim == 3 else mu.reshape(-1)
                lipschitz = (sens.abs() ** 2).sum(dim=-3).amax(dim=(-2, -1)) + mu_max
            step = (1 / lipschitz)[:, None, None]
            for x in physics.l1_wavelet_fista(op, op.to_frame(y), self.log_lam.exp(), step, self.iterations,
                                              start=z, mu=mu, prior=prior):
                pass
        return x


def add_final_dc(net: nn.Module, cfg) -> None:
    """The learned weights of ``net``'s final steps, from its config's ``final_dc*`` and
    ``final_l1*`` fields (RIM and RecurrentVarNet alike): ``log_mu``, ``mu_noise``
    (``final_dc_noise``), ``mu_map`` (``final_dc_map``, a :class:`WeightMap`) and ``l1_step``
    (``final_l1``, a :class:`SparseStep`); the optional ones are None when off."""
    if cfg.final_l1 and not cfg.final_dc:
        raise ValueError("final_l1 needs final_dc (its prior weight is the data-consistency step's)")
    if cfg.final_dc:
        net.log_mu = nn.Parameter(torch.tensor(float(cfg.final_dc_mu)).log())
    net.mu_noise = nn.Parameter(torch.zeros(())) if cfg.final_dc and cfg.final_dc_noise else None
    net.mu_map = WeightMap(cfg.final_dc_map, cfg.channels) if cfg.final_dc and cfg.final_dc_map else None
    net.l1_step = SparseStep(cfg.final_l1, cfg.final_l1_lam) if cfg.final_l1 else None


def final_step_count(cfg) -> int:
    """How many estimates the final steps add (``final_dc``, ``final_l1``)."""
    return (1 if cfg.final_dc else 0) + (1 if cfg.final_l1 else 0)


def final_steps(net: nn.Module, x: torch.Tensor, hidden: torch.Tensor, y: torch.Tensor, sens: torch.Tensor,
                mask: torch.Tensor, noise_var: torch.Tensor | None):
    """``net``'s final steps (see :func:`add_final_dc`) on its last estimate ``x`` and last hidden
    state, a generator: the data-consistency step's output (its weight constant, noise-adaptive or
    per pixel; :func:`final_dc`), then, with ``final_l1``, the sparse step's (:class:`SparseStep`)."""
    mu = dc_weight(net.log_mu, net.mu_noise, noise_var)
    if net.mu_map is not None:
        mu = net.mu_map(x, hidden, mu)
    prior = x * physics.support(sens)
    z = final_dc(prior, y, sens, mask, mu, net.cfg.final_dc)
    yield z
    if net.l1_step is not None:
        yield net.l1_step(z, prior, mu, y, sens, mask)


def final_dc(prior: torch.Tensor, y: torch.Tensor, sens: torch.Tensor, mask: torch.Tensor, mu: torch.Tensor,
             iterations: int) -> torch.Tensor:
    """The optional last step of a learned solver (``final_dc`` in its config): the image that fits
    the data best while staying close to the network's estimate ``prior`` (restricted to the maps'
    support: outside it, with cropped ESPIRiT maps, the object is zero by the model),
    ``argmin_z ||A z - y||^2 + mu ||z - prior||^2`` with a learned ``mu`` (see :func:`dc_weight`; one
    per pixel ``(B, H, W)`` with :class:`WeightMap`; the
    data-consistency layer of MoDL, Aggarwal et al. 2019), by ``iterations`` of conjugate gradients.
    Exact where the data determine the image, the network's where they do not."""
    return physics.tikhonov_solve(y, sens, mask, mu, prior=prior, iterations=iterations)
