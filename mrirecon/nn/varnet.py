"""RecurrentVarNet (Yiasemis et al. 2022): a variational scheme unrolled in k-space with recurrent
regularisers.

``k_{t+1} = k_t - a_t M (k_t - y) + F(S w_t)``, with ``w_t, h_{t+1} = R_t(sum_c S_c^H F^-1 k_t, h_t)``
where ``R_t`` is a recurrent block (conv, ConvGRU, dilated conv, ConvGRU, conv), ``a_t`` a learned
step, and ``h_0`` produced by a learned initialiser (dilated convolutions) from the SENSE image
``x_0`` that also starts the iteration (``k_0 = F S x_0``). ``x_0`` is the coil-combined zero-filled
image ``A^H y`` (``init_cg = 0``, as in DIRECT) or a SENSE reconstruction: ``init_cg`` conjugate-
gradient iterations on ``(A^H A + init_mu I) x = A^H y``, which unfolds the aliasing of regular
undersampling before the network sees it (on the shared real scan at equispaced 4x, 8 iterations
at ``init_mu`` 0.01 score 29.5 dB PSNR where ``A^H y`` scores 25.2 dB and the 8 recurrent steps
from it reached 27.7 dB). Optionally (``final_dc``, ``final_l1``) last learned data-consistency and
L1-wavelet steps, see
``mrirecon.nn.common.final_steps``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from .. import physics
from .common import add_final_dc, final_step_count, final_steps, from_channels, to_channels
from .rim import RIMBlock


@dataclass
class VarNetConfig:
    channels: int = 64
    steps: int = 8
    shared_weights: bool = False
    final_dc: int = 0  # > 0: CG iterations of the learned data-consistency step at the end
    final_dc_mu: float = 0.03  # its initial weight on the network's estimate (learned, log scale)
    final_dc_noise: bool = False  # its weight follows the noise level with a learned exponent (dc_weight)
    final_dc_map: str = ""  # "hidden" | "background": its weight varies per pixel (WeightMap)
    final_l1: int = 0  # > 0: FISTA iterations of the learned L1-wavelet step after final_dc (SparseStep)
    final_l1_lam: float = 3e-3  # its initial wavelet weight (learned, log scale; cs-l1's default)
    init_cg: int = 0  # > 0: the initial image is a SENSE reconstruction by this many CG iterations (the
    # method's default config, nn.model.MODELS, sets 8; 0 here keeps configs saved without the field as they were)
    init_mu: float = 0.01  # its Tikhonov weight (normalised data)


class StateInitializer(nn.Module):
    """Dilated convolutions from the initial image to the two hidden states."""

    def __init__(self, channels: int):
        super().__init__()
        layers, ch = [], 2
        for d in (1, 1, 2, 4):
            layers += [nn.Conv2d(ch, channels, 3, padding=d, dilation=d), nn.ReLU()]
            ch = channels
        self.body = nn.Sequential(*layers)
        self.heads = nn.Conv2d(channels, 2 * channels, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # each half of a channels_last tensor is in neither layout: copied to channels_last, the
        # layout of the recurrent blocks' activations (see ``RIMBlock.init_hidden``)
        return [h.contiguous(memory_format=torch.channels_last) for h in self.heads(self.body(x)).chunk(2, dim=1)]

    def nonneg_inputs(self) -> list[nn.Module]:
        """Convolutions after a ReLU (see ``RIMBlock.nonneg_inputs``): all but the first."""
        return [m for m in list(self.body)[1:] if isinstance(m, nn.Conv2d)] + [self.heads]


class RecurrentVarNet(nn.Module):
    COMPUTE = ("blocks", "init")  # the convolutional parts, castable to bfloat16 for inference

    def __init__(self, cfg: VarNetConfig):
        super().__init__()
        self.cfg = cfg
        n_blocks = 1 if cfg.shared_weights else cfg.steps
        self.blocks = nn.ModuleList(RIMBlock("gru", cfg.channels, in_ch=2) for _ in range(n_blocks))
        self.alpha = nn.Parameter(torch.full((cfg.steps,), 0.5))
        self.init = StateInitializer(cfg.channels)
        add_final_dc(self, cfg)

    @property
    def total_steps(self) -> int:
        return self.cfg.steps + final_step_count(self.cfg)

    def initial_image(self, y: torch.Tensor, mask: torch.Tensor, sens: torch.Tensor) -> torch.Tensor:
        """``x_0``: ``A^H y``, or the SENSE reconstruction when ``init_cg > 0`` (no learned part)."""
        if not self.cfg.init_cg:
            return physics.adjoint(y, sens, mask)
        return physics.tikhonov_solve(y, sens, mask, self.cfg.init_mu, iterations=self.cfg.init_cg)

    def steps(self, y: torch.Tensor, mask: torch.Tensor, sens: torch.Tensor,
              noise_var: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
        x = self.initial_image(y, mask, sens)
        dtype = self.blocks[0].compute_dtype  # bfloat16 blocks: their states too; physics in float32
        hidden = self.init(to_channels(x).to(dtype))
        op = physics.Sense(sens, mask)  # k_t in its frame (centred k-space up to signs: the same images)
        y_frame = op.to_frame(y)
        k = op.forward(x, masked=False)
        for t in range(self.cfg.steps):
            block = self.blocks[0 if self.cfg.shared_weights else t]
            image = op.adjoint(k, masked=False)
            w, hidden = block(to_channels(image).to(dtype), hidden)
            k = physics.soft_dc(k, y_frame, mask, self.alpha[t]) + op.forward(from_channels(w), masked=False)
            x = op.adjoint(k, masked=False)
            yield x
        if self.cfg.final_dc:
            yield from final_steps(self, x, hidden[-1], y, sens, mask, noise_var)
