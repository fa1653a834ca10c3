"""Recurrent Inference Machines: RIM (ConvGRU), RIM-MGU, IRIM (IndRNN) and CIRIM (cascades).

One RIM block, shared over its time steps: input = concat(estimate, log-likelihood gradient) as 4
real channels -> conv 5x5 (4 -> C) + ReLU -> cell(C) -> conv 3x3 dilation 2 (C -> C) + ReLU ->
cell(C) -> conv 3x3 (C -> 2), linear; ``estimate += output``. The gradient comes from
``mrirecon.physics`` with the sensitivity maps. A CIRIM runs several blocks (own weights each) in
cascade, carrying the hidden states, with implicit data consistency (the gradient term) or an
explicit learned soft data-consistency step after each cascade. Optionally (``final_dc``) a last
learned data-consistency step and (``final_l1``) a learned L1-wavelet step, see
``mrirecon.nn.common.final_steps``.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from .. import physics
from . import fused
from .cells import CELLS, IndRNN
from .common import add_final_dc, final_step_count, final_steps, from_channels, to_channels


@dataclass
class RIMConfig:
    cell: str = "indrnn"  # gru | mgu | indrnn
    channels: int = 64
    steps: int = 8  # time steps per cascade
    cascades: int = 1
    dc: str = "implicit"  # implicit | explicit (CIRIM)
    final_dc: int = 0  # > 0: CG iterations of the learned Tikhonov data-consistency step at the end
    final_dc_mu: float = 0.03  # its initial weight on the network's estimate (learned, log scale)
    final_dc_noise: bool = False  # its weight follows the noise level with a learned exponent (dc_weight)
    final_dc_map: str = ""  # "hidden" | "background": its weight varies per pixel (WeightMap)
    final_l1: int = 0  # > 0: FISTA iterations of the learned L1-wavelet step after final_dc (SparseStep)
    final_l1_lam: float = 3e-3  # its initial wavelet weight (learned, log scale; cs-l1's default)


class RIMBlock(nn.Module):
    """conv 5x5 + ReLU -> cell -> dilated conv 3x3 + ReLU -> cell -> conv 3x3 (to 2 channels).
    Also the recurrent block of RecurrentVarNet (``cell="gru"``, ``in_ch=2``)."""

    def __init__(self, cell: str, channels: int, in_ch: int = 4):
        super().__init__()
        cell_cls = CELLS[cell]
        self.conv_in = nn.Conv2d(in_ch, channels, 5, padding=2)
        self.cell1 = cell_cls(channels, channels)
        self.conv_mid = nn.Conv2d(channels, channels, 3, padding=2, dilation=2)
        self.cell2 = cell_cls(channels, channels)
        self.conv_out = nn.Conv2d(channels, 2, 3, padding=1)
        self.channels = channels
        # training only: keep just the step's inputs and recompute its activations in the backward
        # pass (``TrainConfig.recompute``); no effect without gradients
        self.recompute = False

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype of the block's activations and states: its weights' (bfloat16 after
        ``Reconstructor.compute_in``; float32 with int8 convolutions, whose outputs are float32)."""
        weight = next(self.parameters(), None)  # int8 convolutions hold buffers, not parameters
        return torch.float32 if weight is None else weight.dtype

    def nonneg_inputs(self) -> list[nn.Module]:
        """The convolutions whose input is a ReLU's output (``mrirecon.nn.int8`` quantizes them over
        ``[0, max]``): every cell's input map and, after IndRNN cells (``ReLU(Wx + u h)``), the two
        convolutions that read their states."""
        convs = [self.cell1.w, self.cell2.w]
        return convs + ([self.conv_mid, self.conv_out] if isinstance(self.cell1, IndRNN) else [])

    def init_hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Zero states in channels_last, the layout of every activation (``to_channels`` gives it
        to the inputs, the convolutions keep it): an NCHW state met by channels_last convolution
        outputs sends the first step's cell arithmetic to a strided kernel 15-20x slower than
        either layout alone (64 channels, 256²: addcmul 26-31 ms against 1.6; under torch.profiler
        irim-bf16's addcmul took 97 of a slice's 364 ms, 24 after this)."""
        b, _, h, w = x.shape
        return [torch.empty(b, self.channels, h, w, dtype=x.dtype, device=x.device,
                            memory_format=torch.channels_last).zero_() for _ in range(2)]

    def forward(self, inp: torch.Tensor, hidden: list[torch.Tensor]):
        """One time step on real-channel tensors; returns (output, new hidden)."""
        if self.recompute and torch.is_grad_enabled():
            from torch.utils.checkpoint import checkpoint

            return checkpoint(self._step, inp, hidden, use_reentrant=False)
        return self._step(inp, hidden)

    def _step(self, inp: torch.Tensor, hidden: list[torch.Tensor]):
        h1 = self.cell1(_conv_relu_for(self.cell1.w, self.conv_in, inp), hidden[0])
        h2 = self.cell2(_conv_relu_for(self.cell2.w, self.conv_mid, h1), hidden[1])
        return self.conv_out(h2), [h1, h2]


def _conv_relu_for(reader: nn.Module, conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``ReLU(conv(x))`` as the input of ``reader``, its only reader: just ``conv(x)`` when ``reader``
    is an int8 convolution that quantizes its input over ``[0, max]`` (``mrirecon.nn.int8``,
    ``nonneg_input``), because negative values get the code of 0 there; the ReLU would be a pass
    over a 64-channel activation for nothing. Otherwise one fused convolution where it can be
    (``mrirecon.nn.fused``)."""
    return conv(x) if getattr(reader, "nonneg_input", False) else fused.conv_relu(conv, x)


class RIM(nn.Module):
    """RIM / IRIM / CIRIM on normalised data (``mrirecon.nn.model.Reconstructor`` scales it)."""

    COMPUTE = ("blocks",)  # the convolutional parts, castable to bfloat16 for inference

    def __init__(self, cfg: RIMConfig):
        super().__init__()
        self.cfg = cfg
        self.blocks = nn.ModuleList(RIMBlock(cfg.cell, cfg.channels) for _ in range(cfg.cascades))
        if cfg.dc == "explicit":
            self.dc_weight = nn.Parameter(torch.full((cfg.cascades,), 0.5))
        elif cfg.dc != "implicit":
            raise ValueError(f"dc must be implicit or explicit, got {cfg.dc!r}")
        add_final_dc(self, cfg)

    @property
    def total_steps(self) -> int:
        return self.cfg.steps * self.cfg.cascades + final_step_count(self.cfg)

    def steps(self, y: torch.Tensor, mask: torch.Tensor, sens: torch.Tensor,
              noise_var: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
        """Yield the complex estimate ``(B, H, W)`` after every time step of every cascade."""
        op = physics.Sense(sens, mask)  # built once: the gradient of every step applies it
        y_frame = op.to_frame(y)
        x = op.adjoint(y_frame)
        xc = to_channels(x)
        dtype = self.blocks[0].compute_dtype  # bfloat16 blocks: their states too; physics in float32
        hidden = self.blocks[0].init_hidden(xc.to(dtype))
        for c, block in enumerate(self.blocks):
            for t in range(self.cfg.steps):
                grad = to_channels(op.gradient(x, y_frame))
                dx, hidden = block(torch.cat([xc, grad], dim=1).to(dtype), hidden)
                xc = xc + dx.float()
                x = from_channels(xc)
                if self.cfg.dc == "explicit" and t == self.cfg.steps - 1:
                    x = op.soft_dc_image(x, y_frame, self.dc_weight[c])
                    xc = to_channels(x)
                yield x
        if self.cfg.final_dc:
            yield from final_steps(self, x, hidden[-1], y, sens, mask, noise_var)
