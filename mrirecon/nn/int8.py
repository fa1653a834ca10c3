"""Int8 convolutions for CPU inference (``precision="int8"``, method variants ``NAME-int8``).

On a CPU without AMX, float32 is the fastest floating-point arithmetic: AVX-512 BF16 and FP16
issue at half the float32 FMA rate (oneDNN, 64-channel 3x3 convolution on 256²: 155 GMAC/s in
float32, 82 in bf16). Its int8 dot products (AVX-512 VNNI) run about three times faster than
float32 (480 GMAC/s on the same convolution), and nearly every such CPU has them.

:class:`Int8Conv2d` replaces an ``nn.Conv2d`` for inference: weights int8 per output channel
(symmetric, scale ``max|w| / 127``; 63 without VNNI, below), the input quantized at every call
to uint8 over its own range ``[min, max]`` (a zero point for signed inputs; ``[0, max]``
without a pass for the minimum where the model declares the input a ReLU's output,
``nonneg_inputs``), int32 accumulation and a float32 output with the bias added (oneDNN's
quantized convolution, the kernel PyTorch's own x86 int8 path uses). Only the convolutions go
to int8; the recurrent cells' arithmetic, the physics and the data consistency stay float32.

Without VNNI (AVX2-only CPUs such as AMD Zen 2, and AVX-512 CPUs before Cascade Lake) oneDNN
multiplies uint8 by int8 with ``vpmaddubsw``, which adds each pair of products in int16 *with
saturation*: 255 * 127 * 2 > 32 767, and on a 2-core AMD EPYC (Zen 2) the convolutions of signed
inputs came out 10-20 % wrong. There the weights get 7 bits (``|q| <= 63``: 255 * 63 * 2 = 32 130
fits; ``weight_levels``), which keeps every pair exact at the cost of one bit of weight precision
(the tests' four convolutions: 1.0-1.3 % of the output's norm; 0.7 % for the one that had not
saturated at 8 bits). Such CPUs gain little speed from int8 either (there the same 64-channel
convolution ran at 38 GMAC/s in int8 and 42 in float32, ``irim-int8`` end to end in 0.57 s
against ``irim``'s 0.61 s).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from .. import runtime

VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})  # int8 dot products into int32, no saturation


def has_vnni(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU (``flags``: default its ``runtime.cpu_flags()``) has int8 dot products that
    accumulate in int32 (VNNI or AMX)."""
    return bool((runtime.cpu_flags() if flags is None else flags) & VNNI_FLAGS)


def weight_levels(flags: frozenset[str] | None = None) -> int:
    """The largest int8 weight code on this CPU (``flags`` as for :func:`has_vnni`): 127 with
    VNNI, 63 without, where oneDNN's int16 pair sums would saturate (module docstring)."""
    return 127 if has_vnni(flags) else 63


def available() -> bool:
    """Whether this PyTorch build has the oneDNN int8 convolution on this machine (x86 CPUs)."""
    ops = getattr(torch.ops, "onednn", None)
    return bool(torch.backends.mkldnn.is_available() and ops is not None and hasattr(ops, "qconv2d_pointwise")
                and hasattr(ops, "qconv_prepack"))


def _as_uint8(q: torch.Tensor) -> torch.Tensor:
    """The uint8 codes of a quint8 tensor without a copy (``int_repr`` copies: 2.4 ms for 4 M
    values, five times the quantization itself)."""
    return torch.empty(0, dtype=torch.uint8, device=q.device).set_(q.untyped_storage(), q.storage_offset(),
                                                                    q.shape, q.stride())


def quantize(x: torch.Tensor, nonneg: bool = False) -> tuple[torch.Tensor, float, int]:
    """``x`` (float) -> (uint8 codes, scale, zero point) over its own range, which always includes
    0 (so zero padding is exact). ``nonneg``: the range is ``[0, max]`` without a pass over ``x``
    for its minimum; these are the codes of ``ReLU(x)`` (negative values get the code of 0), the
    same codes as without ``nonneg`` when ``x >= 0`` (a ReLU's output), and a caller may leave
    that ReLU to the quantizer."""
    lo = 0.0 if nonneg else min(float(x.amin()), 0.0)
    hi = max(float(x.amax()), 0.0)
    scale = max(hi - lo, 1e-30) / 255.0
    zero = int(min(max(round(-lo / scale), 0), 255))
    x = x.float().contiguous(memory_format=torch.channels_last)
    if not hasattr(torch, "quantize_per_tensor"):  # removed in a later PyTorch: four passes instead of one
        return x.mul(1.0 / scale).add_(zero).round_().clamp_(0, 255).to(torch.uint8), scale, zero
    with warnings.catch_warnings():  # quint8 tensors are deprecated in PyTorch; we only borrow the kernel
        warnings.simplefilter("ignore", UserWarning)
        q = torch.quantize_per_tensor(x, scale, zero, torch.quint8)
    return _as_uint8(q), scale, zero


class Int8Conv2d(nn.Module):
    """Inference-only int8 version of ``conv`` (see the module docstring); float32 in, float32 out."""

    def __init__(self, conv: nn.Conv2d, nonneg_input: bool = False, levels: int | None = None):
        super().__init__()
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("Int8Conv2d needs numeric zero padding")
        levels = weight_levels() if levels is None else levels  # the largest weight code (127 or 63)
        if not 1 <= levels <= 127:
            raise ValueError(f"int8 weight levels must be in 1..127, not {levels}")
        w = conv.weight.detach().float()
        scale = (w.abs().amax(dim=(1, 2, 3)) / levels).clamp_min(1e-30)
        qw = torch.round(w / scale.view(-1, 1, 1, 1)).clamp_(-levels, levels).to(torch.int8)
        self.geometry = (list(conv.stride), list(conv.padding), list(conv.dilation), conv.groups)
        self.register_buffer("w_scale", scale, persistent=False)
        self.register_buffer("w_zero", torch.zeros(scale.numel(), dtype=torch.long), persistent=False)
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().float(), persistent=False)
        # the packed weight: oneDNN's blocked int8 layout (the input scale passed here is not used by
        # the kernel: every call passes its own)
        self.packed = torch.ops.onednn.qconv_prepack(qw, scale, 1.0, 0, *self.geometry, None)
        self.out_channels = conv.out_channels
        self.nonneg_input = nonneg_input  # it convolves ReLU(input) (see quantize): its inputs are ReLU outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, scale, zero = quantize(x, self.nonneg_input)
        stride, padding, dilation, groups = self.geometry
        return torch.ops.onednn.qconv2d_pointwise(q, scale, zero, self.packed, self.w_scale, self.w_zero, self.bias,
                                                  stride, padding, dilation, groups, 1.0, 0, torch.float32,
                                                  "none", [], "")


def quantize_convs(module: nn.Module, _nonneg: frozenset = frozenset()) -> int:
    """Replace, in place, every convolution of ``module`` by an :class:`Int8Conv2d`; the number
    replaced. A module with a ``nonneg_inputs()`` method names the convolutions among its
    descendants whose input is always a ReLU's output (their quantization skips the minimum)."""
    if not available():
        raise RuntimeError("int8 inference needs PyTorch's oneDNN int8 convolution (x86 CPU builds)")
    declared = getattr(module, "nonneg_inputs", None)
    if callable(declared):
        _nonneg = _nonneg | {id(m) for m in declared()}
    n = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Conv2d):
            setattr(module, name, Int8Conv2d(child, nonneg_input=id(child) in _nonneg))
            n += 1
        else:
            n += quantize_convs(child, _nonneg)
    return n
