"""Centred, orthonormal 2D FFTs over the last two axes (fastMRI's convention).

``fft2c(x) = fftshift(fft2(ifftshift(x), norm="ortho"))``; both torch tensors and numpy arrays are
accepted and the result has the input's type. These are the only FFT helpers of the project.
"""
from __future__ import annotations

import numpy as np

_AXES = (-2, -1)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def fft2c(x):
    """Centred orthonormal forward 2D FFT over the last two dimensions."""
    if _is_torch(x):
        import torch

        return torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(x, dim=_AXES), norm="ortho"), dim=_AXES)
    x = np.asarray(x)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=_AXES), norm="ortho"), axes=_AXES)


def ifft2c(x):
    """Centred orthonormal inverse 2D FFT over the last two dimensions."""
    if _is_torch(x):
        import torch

        return torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(x, dim=_AXES), norm="ortho"), dim=_AXES)
    x = np.asarray(x)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(x, axes=_AXES), norm="ortho"), axes=_AXES)

