"""Fused convolutions for CPU inference: ``ReLU(conv(x))`` and IndRNN's ``ReLU(conv(x) + other)``
as one oneDNN convolution with post-ops, so the activation is written once instead of being
re-read and re-written by the ReLU (and the add). On a 2-core AMX Xeon, bfloat16, 64 channels at
256²: IndRNN update 5.2 -> 3.5 ms, dilated conv + ReLU 10.5 -> 9.9 ms; `irim-bf16` solver
0.330 -> 0.291 s (equispaced 4x) and 0.260 -> 0.239 s (gaussian2d 8x) per real slice, GRU models
unchanged within the noise (2026-12-03, idle, ``benchmarks/fused_convs.py``).

The kernels are PyTorch's ``torch.ops.mkldnn._convolution_pointwise`` (what Inductor emits on x86
CPUs), not a public API: ``available()`` probes them once against the unfused computation and
everything falls back to plain ``conv`` + ``relu_`` when they are missing, fail or disagree, when
gradients are needed (training), off the CPU, for other dtypes or layouts, and for the int8
convolutions of ``mrirecon.nn.int8``. ``MRIRECON_FUSED=0`` in the environment turns them off.
"""
from __future__ import annotations

import os

import torch
from torch import nn

_AVAILABLE: bool | None = None
DTYPES = (torch.float32, torch.bfloat16)


def _ops():
    return torch.ops.mkldnn._convolution_pointwise, torch.ops.mkldnn._convolution_pointwise_.binary


def _args(conv: nn.Conv2d):
    return (conv.weight, conv.bias, list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)


def _fused_relu(conv, x):
    return _ops()[0](x, *_args(conv), "relu", [], "")


def _fused_add_relu(conv, x, other):
    return _ops()[1](other, x, *_args(conv), "add", None, "relu", [], "")


def available() -> bool:
    """Whether the fused kernels exist here and reproduce the unfused results (checked once, on
    small float32 channels_last tensors, to 1e-5)."""
    global _AVAILABLE
    if _AVAILABLE is None:
        _AVAILABLE = False
        if os.environ.get("MRIRECON_FUSED", "1") != "0" and torch.backends.mkldnn.is_available():
            try:
                gen = torch.Generator().manual_seed(0)
                conv = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
                x = torch.randn(1, 8, 12, 12, generator=gen).contiguous(memory_format=torch.channels_last)
                other = torch.randn(1, 8, 12, 12, generator=gen).contiguous(memory_format=torch.channels_last)
                with torch.inference_mode():
                    want = conv(x)
                    ok = torch.allclose(_fused_relu(conv, x), want.relu(), atol=1e-5)
                    ok = ok and torch.allclose(_fused_add_relu(conv, x, other.clone()), (want + other).relu(),
                                               atol=1e-5)
                _AVAILABLE = bool(ok)
            except (AttributeError, RuntimeError, TypeError):
                pass
    return _AVAILABLE


def _autocast_cpu() -> bool:
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # PyTorch < 2.4
        return torch.is_autocast_cpu_enabled()


def usable(conv: nn.Module, x: torch.Tensor) -> bool:
    """A plain zero-padded ``nn.Conv2d`` in ``x``'s dtype (float32 or bfloat16) on a channels_last
    CPU tensor, without gradients or autocast (training, its validation), and the kernels available."""
    return (type(conv) is nn.Conv2d and not torch.is_grad_enabled() and x.device.type == "cpu"
            and not _autocast_cpu()
            and x.dtype in DTYPES and conv.weight.dtype == x.dtype and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str) and x.dim() == 4
            and x.is_contiguous(memory_format=torch.channels_last) and available())


def conv_relu(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``ReLU(conv(x))``."""
    if usable(conv, x):
        return _fused_relu(conv, x)
    return conv(x).relu_()


def conv_add_relu(conv: nn.Module, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``ReLU(conv(x) + other)``; ``other`` (a fresh tensor of the output's shape, dtype and layout)
    may be overwritten with the result."""
    if usable(conv, x) and other.dtype == x.dtype and other.is_contiguous(memory_format=torch.channels_last):
        return _fused_add_relu(conv, x, other)
    return conv(x).add_(other).relu_()
