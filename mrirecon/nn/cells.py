"""Convolutional recurrent cells with hidden state ``(B, C, H, W)``.

Input-to-hidden and hidden-to-hidden maps are 1x1 convolutions (spatial context comes from the
convolutions between cells and from the data-consistency gradient).
- ConvGRU: ``z = s(Wz x + Uz h)``, ``r = s(Wr x + Ur h)``, ``c = tanh(Wc x + Uc (r * h))``,
  ``h' = (1 - z) * h + z * c``.
- MGU (minimal gated unit): ``f = s(Wf x + Uf h)``, ``c = tanh(Wc x + f * Uc h)``,
  ``h' = c + f * (h - c)``.
- IndRNN: ``h' = ReLU(W x + u * h)`` with ``u`` a learned per-channel vector (no recurrent conv).
"""
from __future__ import annotations

import torch
from torch import nn

from . import fused


class ConvGRU(nn.Module):
    def __init__(self, in_ch: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.w = nn.Conv2d(in_ch, 3 * hidden, 1)
        self.u = nn.Conv2d(hidden, 2 * hidden, 1, bias=False)
        self.uc = nn.Conv2d(hidden, hidden, 1, bias=False)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        wz, wr, wc = self.w(x).chunk(3, dim=1)
        uz, ur = self.u(h).chunk(2, dim=1)
        z = torch.sigmoid(wz + uz)
        r = torch.sigmoid(wr + ur)
        c = torch.tanh(wc + self.uc(r * h))
        return (1 - z) * h + z * c


class MGU(nn.Module):
    def __init__(self, in_ch: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.w = nn.Conv2d(in_ch, 2 * hidden, 1)
        self.uf = nn.Conv2d(hidden, hidden, 1, bias=False)
        self.uc = nn.Conv2d(hidden, hidden, 1, bias=False)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        wf, wc = self.w(x).chunk(2, dim=1)
        f = torch.sigmoid(wf + self.uf(h))
        c = torch.tanh(wc + f * self.uc(h))
        return c + f * (h - c)


class IndRNN(nn.Module):
    def __init__(self, in_ch: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.w = nn.Conv2d(in_ch, hidden, 1)
        self.u = nn.Parameter(torch.empty(hidden).uniform_(0.0, 1.0))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        u = self.u.view(1, -1, 1, 1)
        if u.dtype == x.dtype and fused.usable(self.w, x):  # CPU inference: one fused convolution
            return fused.conv_add_relu(self.w, x, u * h)
        w = self.w(x)
        if w.dtype != u.dtype:  # under bf16 autocast (training): the float32 sum (in place would be
            return torch.relu(w + u * h)  # a slow mixed-type kernel, 0.20 -> 0.34 s per slice)
        # float32, or bf16 blocks (inference, Reconstructor.compute_in): in place on the fresh
        # convolution output, one activation-sized temporary less per call
        # (autograd-safe: neither the convolution nor addcmul needs that tensor for backward)
        return w.addcmul_(u, h).relu_()


CELLS = {"gru": ConvGRU, "mgu": MGU, "indrnn": IndRNN}
