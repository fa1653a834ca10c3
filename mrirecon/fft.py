"""Centred, orthonormal 2D FFTs over the last two axes (fastMRI's convention).

``fft2c(x) = fftshift(fft2(ifftshift(x), norm="ortho"))``; both torch tensors and numpy arrays are
accepted and the result has the input's type. These are the only FFT helpers of the project.
"""
from __future__ import annotations

import numpy as np

_AXES = (-2, -1)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


_SIGNS: dict = {}


def _checkerboard(x):
    """``(-1)^(i+j)`` over the last two axes, cached per shape, dtype and device."""
    import torch

    key = (x.shape[-2:], x.device, x.dtype)
    if key not in _SIGNS:
        h, w = x.shape[-2:]
        i = torch.arange(h, device=x.device).view(-1, 1)
        j = torch.arange(w, device=x.device).view(1, -1)
        real = torch.float64 if x.dtype == torch.complex128 else torch.float32
        _SIGNS[key] = (1 - 2 * ((i + j) % 2)).to(real)
        if len(_SIGNS) > 64:
            _SIGNS.pop(next(iter(_SIGNS)))
    return _SIGNS[key]


def centring_signs(x):
    """For even sizes, ``(s, c)`` with ``s = (-1)^(i+j)`` over the last two axes (cached) and the
    number ``c = (-1)^((H+W)/2)`` such that ``fft2c(v) = c s fft2(s v)`` and
    ``ifft2c(v) = c s ifft2(s v)`` (orthonormal): the centring shifts as sign flips, which a
    caller applying the same operator many times can fold into its own constants
    (``mrirecon.physics.Sense``). ``None`` for odd sizes."""
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        return None
    return _checkerboard(x), (-1.0 if (h // 2 + w // 2) % 2 else 1.0)


def _torch_centred(x, transform):
    """``fftshift(transform(ifftshift(x)))``. For even sizes the shifts are sign flips:
    ``c s transform(s x)`` (:func:`centring_signs`), much cheaper than rolling."""
    import torch

    signs = centring_signs(x)
    if signs is None:
        return torch.fft.fftshift(transform(torch.fft.ifftshift(x, dim=_AXES)), dim=_AXES)
    s, c = signs
    y = transform(x * s) * s
    return -y if c < 0 else y


def fft2c(x):
    """Centred orthonormal forward 2D FFT over the last two dimensions."""
    if _is_torch(x):
        import torch

        return _torch_centred(x, lambda v: torch.fft.fft2(v, norm="ortho"))
    x = np.asarray(x)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=_AXES), norm="ortho"), axes=_AXES)


def ifft2c(x):
    """Centred orthonormal inverse 2D FFT over the last two dimensions."""
    if _is_torch(x):
        import torch

        return _torch_centred(x, lambda v: torch.fft.ifft2(v, norm="ortho"))
    x = np.asarray(x)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(x, axes=_AXES), norm="ortho"), axes=_AXES)


def ifftc(x, dim: int):
    """Centred orthonormal inverse 1D FFT along ``dim``: ``ifft2c`` is this along both axes (ESPIRiT
    upsamples its Gram matrices one axis at a time)."""
    if _is_torch(x):
        import torch

        return torch.fft.fftshift(torch.fft.ifft(torch.fft.ifftshift(x, dim=dim), dim=dim, norm="ortho"), dim=dim)
    x = np.asarray(x)
    return np.fft.fftshift(np.fft.ifft(np.fft.ifftshift(x, axes=dim), axis=dim, norm="ortho"), axes=dim)
