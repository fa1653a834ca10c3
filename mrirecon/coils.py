"""Coil sensitivity estimation and coil combination.

Maps are normalised to unit root-sum-of-squares. ESPIRiT maps are zero where the ESPIRiT
eigenvalue is below ``CROP`` (outside the object): the support constraint removes the background
from the unknowns, which is worth +1.9 dB PSNR / +0.05 SSIM to CS-L1 at equispaced 4x on the
shared real scan and helps CG-SENSE and CS-L1 at every mask tried (2x-12x,
benchmarks/crop_maps.py; the irim of that run too, except -0.006 SSIM / -0.17 dB at equispaced
8x). Outputs still match the RSS reference's background through ``rss_floor`` (GUIDE §9). ``crop=0`` gives maps of
unit RSS everywhere (``|SENSE image| ~ RSS image`` even for fully sampled data). Their phase is
aligned to the low-resolution image (``s_c -> s_c e^{i phase(x_lowres)}``), which makes SENSE
images nearly real and free of the phase singularities of "relative to coil 0" normalisation.

Two estimators, both from the calibration region (the largest fully sampled centred rectangle of
the mask, rectangular for 1D masks):
- ``espirit``: ESPIRiT (Uecker et al. 2014) — calibration matrix, SVD, image-space eigenvectors;
- ``lowres``: Hann-windowed low-resolution coil images divided by their RSS (fast, smooth).
Arrays are numpy ``(..., C, H, W)``; the work is done in torch.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import masks as _masks
from .errors import InputError
from .fft import _is_torch, fft2c, ifft2c, ifftc

# torch is imported inside the functions that need it: RSS and SENSE combination of numpy arrays
# (e.g. the napari reader) must not pay for importing it.

ESTIMATORS = ("espirit", "lowres")
MAX_CALIB = 48  # calibration data beyond this many lines per axis adds time, not accuracy
POWER_ITERATIONS = 12
NORMALISE_EVERY = 3  # power-iteration products between renormalisations
TILE_BYTES = 8 << 20  # the Gram matrices of one tile of rows in ESPIRiT's power iteration (fits in cache)
CROP = 0.8  # ESPIRiT eigenvalue below which a pixel is outside the object
PERIPHERY = 0.05  # noise_variance: the outer 5 % of the k-space grid, by radius
MIN_PERIPHERY = 64  # ... or at least this many outermost sampled points
CROP_MIN_CALIB = 2.0  # crop only when the calibration region spans >= this many kernels per axis


def rss(coil_images, axis: int = -3):
    """Root-sum-of-squares over the coil axis (numpy or torch)."""
    if _is_torch(coil_images):
        if coil_images.is_complex():  # |z|^2 from the parts: no square root per sample (3x faster)
            return (coil_images.real.square() + coil_images.imag.square()).sum(dim=axis).sqrt()
        return coil_images.square().sum(dim=axis).sqrt()
    return np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=axis))


def rss_from_kspace(kspace) -> np.ndarray:
    """RSS image of (possibly zero-filled) multi-coil k-space ``(..., C, H, W)``."""
    return rss(ifft2c(np.asarray(kspace))).astype(np.float32)


def sense_combine(coil_images, sens):
    """SENSE combination ``sum_c conj(S_c) x_c / sum_c |S_c|^2`` (numpy or torch)."""
    if _is_torch(coil_images):
        return (sens.conj() * coil_images).sum(-3) / (sens.abs() ** 2).sum(-3).clamp_min(1e-12)
    return np.sum(np.conj(sens) * coil_images, axis=-3) / np.maximum(np.sum(np.abs(sens) ** 2, axis=-3), 1e-12)


def noise_variance(kspace, mask=None) -> float:
    """Complex noise variance ``E|n|^2`` per coil sample, from the k-space periphery.

    The periphery is fixed by radius, not by the sampling: the sampled points beyond the radius
    that bounds the outer ``PERIPHERY`` of the whole grid (at least the ``MIN_PERIPHERY`` outermost
    sampled points). The median of ``|k|^2`` over them and the coils (``|n|^2`` is exponential,
    median = variance * ln 2) ignores the few samples that still carry signal. A share of the
    *sampled* points instead would reach inwards, where signal dominates, for variable-density
    masks: on the shared real scan at 2D 8x, 3x the noise power of its image corners (1.9x the
    fully sampled estimate; now 2.3x), which lifts every output's background through ``rss_floor``
    (benchmarks/noise_estimate.py).
    """
    k = np.asarray(kspace)
    h, w = k.shape[-2:]
    sampled = np.abs(k).reshape(-1, h, w).max(0) > 0 if mask is None else np.asarray(mask, bool)
    ky = (np.arange(h) - h // 2) / (h / 2)
    kx = (np.arange(w) - w // 2) / (w / 2)
    grid = np.hypot(ky[:, None], kx[None, :])
    radius = grid[sampled]
    if radius.size == 0:
        return 0.0
    outer = np.flatnonzero(radius >= np.quantile(grid, 1 - PERIPHERY))
    if outer.size < MIN_PERIPHERY:
        outer = np.argsort(radius)[-min(MIN_PERIPHERY, radius.size):]
    power = np.abs(k[..., sampled][..., outer]) ** 2
    return float(np.median(power) / np.log(2))


def rss_floor(image, noise_var, n_coils: int):
    """Put a SENSE-type magnitude on the RSS scale *including its noise floor*.

    RSS of noisy coil images has ``E[RSS^2] = |x|^2 + C var`` while a SENSE combination has
    ``|x|^2 + var``: adding ``(C - 1) var`` in quadrature gives the same expected power, so the
    background matches the RSS reference (GUIDE §9); where the signal dominates it changes nothing.
    """
    extra = max(n_coils - 1, 0) * noise_var
    if _is_torch(image):
        if _is_torch(extra) and extra.ndim == 1:  # one value per batch element
            extra = extra.view(-1, *([1] * (image.ndim - 1)))
        return (image.abs() ** 2 + extra).sqrt()
    return np.sqrt(np.abs(image) ** 2 + extra).astype(np.float32)


def g_factor(sens: np.ndarray, r: int) -> np.ndarray:
    """SENSE g-factor map ``(H, W)`` of maps ``(C, H, W)`` at equispaced acceleration ``r`` along W
    (Pruessmann et al. 1999; calibration lines ignored): ``sqrt([(S^H S)^-1]_ii [S^H S]_ii)`` over the
    ``r`` pixels of a row that fold onto each other, the noise amplification of unfolding them.
    Pixels without signal in any coil get 0."""
    sens = np.asarray(sens)
    c, h, w = sens.shape
    if w % r:
        raise InputError(f"width {w} is not a multiple of R={r}", "g_factor")
    # (H, W/r, C, r): the r pixels of each row that fold onto each other
    s = sens.reshape(c, h, r, w // r).transpose(1, 3, 0, 2)
    gram = s.conj().swapaxes(-1, -2) @ s
    inv = np.linalg.pinv(gram, hermitian=True)
    g = np.sqrt(np.maximum((np.diagonal(inv, axis1=-2, axis2=-1) * np.diagonal(gram, axis1=-2, axis2=-1)).real, 0))
    return g.transpose(0, 2, 1).reshape(h, w)  # back to (H, r * W/r) in the original order


class Compression(NamedTuple):
    kspace: np.ndarray  # (..., n, H, W) complex64: the virtual coils
    matrix: np.ndarray  # (n, C) complex64, orthonormal rows: virtual = matrix @ physical
    energy: float  # the fraction of the data's energy the n virtual coils keep


def compress(kspace, n: int, source: str = "kspace") -> Compression:
    """SVD coil compression to ``n`` virtual coils: the principal components of the coil dimension
    over every sample of every slice (one matrix per volume, so slices stay consistent; the
    approach of BART's ``cc -S`` and fastMRI-era pipelines). The rows are orthonormal, so white
    noise stays white with the same variance per coil, and with ``n = C`` the transform is unitary
    (RSS images unchanged). Sensitivity maps given for the physical coils compress with the same
    matrix (``matrix @ maps`` over the coil axis)."""
    k = np.asarray(kspace)
    if k.ndim < 3 or not np.iscomplexobj(k):
        raise InputError(f"k-space must be complex (..., coils, H, W), got {k.dtype} {k.shape}", source)
    c = k.shape[-3]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= c:
        raise InputError(f"virtual coils must be a whole number from 1 to the data's {c} coils, got {n!r}",
                         source)
    flat = k.reshape(-1, c, k.shape[-2] * k.shape[-1])
    cov = np.matmul(flat, flat.conj().transpose(0, 2, 1)).sum(0)  # C x C over the slices
    values, vectors = np.linalg.eigh(cov.astype(np.complex128))
    order = np.argsort(values)[::-1]
    matrix = vectors[:, order[:n]].conj().T.astype(np.complex64)
    total = float(values.clip(min=0).sum())
    energy = float(values[order[:n]].clip(min=0).sum() / total) if total > 0 else 1.0
    out = np.matmul(matrix, flat.astype(np.complex64, copy=False))
    return Compression(out.reshape(*k.shape[:-3], n, *k.shape[-2:]), matrix, energy)


def compress_maps(sens, matrix) -> np.ndarray:
    """Sensitivity maps ``(..., C, H, W)`` of the physical coils as maps of the virtual coils."""
    s = np.asarray(sens, np.complex64)
    c, hw = s.shape[-3], s.shape[-2] * s.shape[-1]
    return np.matmul(matrix, s.reshape(-1, c, hw)).reshape(*s.shape[:-3], matrix.shape[0], *s.shape[-2:])


def estimate(kspace, mask=None, method: str = "espirit", **kwargs) -> np.ndarray:
    """Sensitivity maps ``(..., C, H, W)`` complex64 by ``method`` (one of :data:`ESTIMATORS`)."""
    if method not in ESTIMATORS:
        raise InputError(f"unknown sensitivity estimator {method!r}; choose one of {', '.join(ESTIMATORS)}",
                         "sens")
    return (espirit if method == "espirit" else lowres)(kspace, mask, **kwargs)


def espirit(kspace, mask=None, kernel: int = 6, threshold: float = 0.02, crop: float = CROP) -> np.ndarray:
    """ESPIRiT maps (first eigenvector) from the calibration region, RSS = 1 where the eigenvalue
    is at least ``crop`` and 0 elsewhere (``crop=0``: uncropped)."""
    return _per_slice(kspace, mask, lambda k, region: _espirit_slice(k, region, kernel, threshold, crop))


def lowres(kspace, mask=None) -> np.ndarray:
    """Low-resolution estimate: windowed calibration data -> coil images / RSS."""
    return _per_slice(kspace, mask, lambda k, region: _lowres_slice(k, region))


# --- internals -------------------------------------------------------------------------------

def _per_slice(kspace, mask, fn) -> np.ndarray:
    import torch

    kspace = np.asarray(kspace)
    if kspace.ndim < 3 or not np.iscomplexobj(kspace):
        raise InputError(f"k-space must be complex (..., coils, H, W), got {kspace.dtype} {kspace.shape}",
                         "sens")
    if mask is None:
        mask = np.abs(kspace).reshape(-1, *kspace.shape[-2:]).max(0) > 0
    mask = np.asarray(mask, bool)
    if mask.shape != kspace.shape[-2:]:
        raise InputError(f"mask shape {mask.shape} does not match k-space {kspace.shape[-2:]}", "sens")
    region = _capped_region(mask)
    flat = kspace.reshape(-1, *kspace.shape[-3:])
    out = np.empty(flat.shape, np.complex64)
    with torch.no_grad():
        for i, k in enumerate(flat):
            out[i] = fn(torch.from_numpy(np.ascontiguousarray(k, np.complex64)), region).numpy()
    return out.reshape(kspace.shape)


def _capped_region(mask) -> tuple[slice, slice]:
    region = _masks.calibration_region(mask)
    out = []
    for sl, n in zip(region, mask.shape):
        if sl.stop - sl.start > MAX_CALIB:
            c = n // 2
            sl = slice(max(sl.start, c - MAX_CALIB // 2), min(sl.stop, c - MAX_CALIB // 2 + MAX_CALIB))
        out.append(sl)
    return tuple(out)


def _hann(n: int):
    import torch

    return torch.hann_window(n + 2, periodic=False, dtype=torch.float64)[1:-1].float()


def _lowres_images(k, region):
    """Coil images from the Hann-windowed calibration region, zero-padded to full size."""
    import torch

    rows, cols = region
    window = _hann(rows.stop - rows.start)[:, None] * _hann(cols.stop - cols.start)[None, :]
    padded = torch.zeros_like(k)
    padded[:, rows, cols] = k[:, rows, cols] * window
    return ifft2c(padded)


def _lowres_slice(k, region):
    low = _lowres_images(k, region)
    norm = rss(low)
    return low / norm.clamp_min(norm.max() * 1e-6)


def _espirit_slice(k, region, kernel: int, threshold: float, crop: float = 0.0):
    import torch

    c, h, w = k.shape
    rows, cols = region
    calib = k[:, rows, cols]
    kh, kw = min(kernel, calib.shape[1]), min(kernel, calib.shape[2])
    if min(kh, kw) < 2:
        raise InputError(f"calibration region {tuple(calib.shape[1:])} is too small for ESPIRiT", "sens")
    # calibration matrix: every (C, kh, kw) patch of the calibration data is a row
    patches = calib.unfold(1, kh, 1).unfold(2, kw, 1)  # (C, nh, nw, kh, kw)
    a = patches.permute(1, 2, 0, 3, 4).reshape(-1, c * kh * kw)
    # its right singular vectors and values from the small Gram matrix a^H a (C kh kw square), in
    # float64 so that the squared condition number costs nothing: 4x faster than a's own SVD
    eigenvalues, vectors = torch.linalg.eigh(a.to(torch.complex128).mH @ a.to(torch.complex128))
    s = eigenvalues.flip(0).clamp_min(0).sqrt()  # descending singular values
    vh = vectors.flip(1).mH.to(k.dtype)
    kernels = vh[s > threshold * s[0]].reshape(-1, c, kh, kw)
    # image-space Gram matrix sum_k v v^H is band-limited (k-space support 2*kernel - 1): compute it
    # on a small grid and interpolate exactly by Fourier zero-padding
    lh, lw = min(h, max(32, 2 * kh)), min(w, max(32, 2 * kw))
    grid = torch.zeros(kernels.shape[0], c, lh, lw, dtype=k.dtype)
    oy, ox = lh // 2 - kh // 2, lw // 2 - kw // 2
    grid[..., oy:oy + kh, ox:ox + kw] = kernels
    v = ifft2c(grid) * np.sqrt(lh * lw / (kh * kw))  # (K, C, lh, lw)
    # (broadcast product and sum: 15x faster than the equivalent einsum, whose complex batched
    # matmul over the grid's pixels runs one small product at a time)
    gram = (v.unsqueeze(2) * v.conj().unsqueeze(1)).sum(0)  # (C, C, lh, lw)
    # to full size separably: along H once, along W per tile of rows, each tile's power iteration
    # run while it is in cache; the whole full-size Gram stack ((C^2, H, W): 210 MB at 16 coils and
    # 320^2, read once per product) never exists. Top eigenvector by power iteration, started from
    # the low-resolution coil images (already close to it): much faster than a full
    # eigendecomposition per pixel.
    rows_up = _zero_pad_inverse(fft2c(gram), h, dim=-2)  # (C, C, h, lw): image rows, k-space columns
    scale = np.sqrt(h * w / (lh * lw))
    low = _lowres_images(k, region)  # (C, h, w)
    v = torch.empty_like(low)
    step = max(1, TILE_BYTES // (c * c * w * low.element_size()))
    for r in range(0, h, step):
        tile = slice(r, min(r + step, h))
        v[:, tile] = _top_eigenvector(_zero_pad_inverse(rows_up[..., tile, :], w, dim=-1) * scale, low[:, tile])
    eigenvalue = rss(v)  # (h, w), of the normalised v
    maps = v / eigenvalue.clamp_min(1e-30)  # (C, h, w), unit norm per pixel
    # phase: align to the low-resolution image (see module docstring)
    ref = (maps * low.conj()).sum(0)
    if min(calib.shape[1] / kh, calib.shape[2] / kw) < CROP_MIN_CALIB:
        crop = 0.0  # too few calibration rows for a trustworthy eigenvalue map: keep every pixel
    return maps * (torch.sgn(ref).conj() * (eigenvalue >= crop))


def _top_eigenvector(gram, start):
    """``POWER_ITERATIONS`` products of the per-pixel Gram matrices ``(C, C, h, w)`` with the iterate
    from ``start`` ``(C, h, w)``; returns the last product, of a normalised iterate, so its RSS is
    the eigenvalue. The pixel-wise C x C products run as C multiply-adds of (C, h, w) planes, in
    place (2.5x faster than batched C x C matmuls); the iterate is renormalised every
    ``NORMALISE_EVERY`` products and before the last one: the Gram eigenvalues lie in [0, 1], so
    three products cannot underflow float32 where the maps matter."""
    c = start.shape[0]
    v = start
    for i in range(POWER_ITERATIONS):
        if i % NORMALISE_EVERY == 0 or i == POWER_ITERATIONS - 1:
            v = v / rss(v).clamp_min(1e-30)
        nxt = gram[:, 0] * v[0]
        for d in range(1, c):
            nxt.addcmul_(gram[:, d], v[d])
        v = nxt
    return v


def _zero_pad_inverse(spec, n: int, dim: int):
    """The centred orthonormal inverse FFT along ``dim`` of the centred spectrum ``spec`` zero-padded
    to ``n`` samples there: Fourier interpolation along one axis (times ``sqrt(n / m)`` it keeps
    the values)."""
    import torch

    m = spec.shape[dim]
    shape = list(spec.shape)
    shape[dim] = n
    out = torch.zeros(shape, dtype=spec.dtype)
    out.narrow(dim, n // 2 - m // 2, m).copy_(spec)
    return ifftc(out, dim)
