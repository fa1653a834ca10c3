"""Brain anatomy for the simulator, from data that ships with nilearn (no download).

The MNI ICBM152 2009 template (T1 intensity, grey- and white-matter probability maps, brain mask;
1 mm, 197 x 233 x 189) gives tissue fractions; CSF = brain - GM - WM. ``slab`` cuts axial slices,
places them in a square field of view, optionally deforms them (rotation, scaling, smooth elastic
displacement) and resamples them to the output matrix. ``add_lesions`` draws ellipsoidal
white-matter lesions in 3D so that they are consistent across slices.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

Z_ORIGIN = 72  # voxel index of MNI z = 0 mm
CHANNELS = ("gm", "wm", "csf", "dist", "detail")
PAD = {"dist": 100.0}  # value outside the template: far from the brain


@lru_cache(maxsize=1)
def atlas() -> dict[str, np.ndarray]:
    """Tissue volumes as float32 ``(z, rows, cols)``: axial slices, anterior up, 1 mm voxels."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from nilearn import datasets

        t1 = datasets.load_mni152_template(resolution=1).get_fdata()
        gm = datasets.load_mni152_gm_template(resolution=1).get_fdata()
        wm = datasets.load_mni152_wm_template(resolution=1).get_fdata()
        brain = datasets.load_mni152_brain_mask(resolution=1).get_fdata()

    def axial(v):  # (x, y, z) -> (z, y flipped so anterior is row 0, x)
        return np.ascontiguousarray(np.transpose(v, (2, 1, 0))[:, ::-1, :], dtype=np.float32)

    t1, gm, wm, brain = (axial(v) for v in (t1, gm, wm, brain))
    brain = ndimage.gaussian_filter(np.maximum(brain, gm + wm), 0.7).clip(0, 1)
    csf = np.clip(brain - gm - wm, 0, 1)
    # the template is skull-stripped: the simulator draws skull and scalp as bands at a distance
    # (mm) outside the brain
    dist = ndimage.distance_transform_edt(brain < 0.5).astype(np.float32)
    # fine anatomical texture: the template minus its smoothed self
    detail = t1 - ndimage.gaussian_filter(t1, 2.0)
    return {"gm": gm, "wm": wm, "csf": csf, "dist": dist, "detail": detail}


@dataclass
class Slab:
    """Tissue channels of K slices at the output resolution."""

    channels: dict[str, np.ndarray]  # name -> (K, S, S) float32
    lesions: np.ndarray  # (K, S, S) uint8 labels
    z_mm: list[float]  # MNI z of each slice
    voxel_mm: float


def add_lesions(n: int, z_indices: np.ndarray, rng) -> tuple[np.ndarray, int]:
    """Label volume ``(len(z_indices), rows, cols)`` with up to ``n`` ellipsoidal WM lesions.

    Diameters 2-10 mm per axis; centres in deep white matter (WM probability > 0.8) within the
    slab, so each lesion crosses at least one simulated slice. Returns the labels and the count.
    """
    vol = atlas()
    wm = vol["wm"]
    zlo, zhi = int(z_indices.min()), int(z_indices.max())
    cand = np.argwhere(wm[zlo:zhi + 1] > 0.8)
    labels = np.zeros((len(z_indices), *wm.shape[1:]), np.uint8)
    if n <= 0 or len(cand) == 0:
        return labels, 0
    zz, yy, xx = np.meshgrid(z_indices.astype(np.float32), np.arange(wm.shape[1], dtype=np.float32),
                             np.arange(wm.shape[2], dtype=np.float32), indexing="ij")
    placed = 0
    for _ in range(50 * n):
        if placed >= n:
            break
        cz, cy, cx = cand[rng.integers(len(cand))] + np.array([zlo, 0, 0])
        radii = rng.uniform(1.0, 5.0, size=3)
        near = np.abs(z_indices - cz) < radii[0]
        if not near.any():  # must cut at least one simulated slice
            continue
        inside = (((zz - cz) / radii[0]) ** 2 + ((yy - cy) / radii[1]) ** 2 + ((xx - cx) / radii[2]) ** 2) <= 1
        inside &= wm[z_indices] > 0.5
        if not inside.any() or (labels[inside] > 0).any():
            continue
        placed += 1
        labels[inside] = placed
    return labels, placed


def slab(n_slices: int, size: int, rng, gap_mm: float = 5.0, fov_mm: float = 240.0,
         lesions: int = 0, deform: bool = True) -> Slab:
    """K axial slices around a random level through the lateral ventricles, resampled to ``size``."""
    vol = atlas()
    nz = vol["gm"].shape[0]
    span = (n_slices - 1) * gap_mm
    center = Z_ORIGIN + rng.uniform(0.0, 35.0)
    z = np.clip(np.round(center - span / 2 + gap_mm * np.arange(n_slices)), 10, nz - 30).astype(int)
    labels, _ = add_lesions(lesions, z, rng)
    stack = {k: vol[k][z] for k in CHANNELS}
    stack["lesions"] = labels.astype(np.float32)
    # square canvas of fov_mm at 1 mm, then the geometric transform, then resampling
    # (a field of view smaller than the template's 233 mm rows crops its empty margin)
    canvas = int(round(fov_mm))
    stack = {k: _fit(v, canvas, PAD.get(k, 0.0)) for k, v in stack.items()}
    coords = _sampling_grid(canvas, size, rng, deform)
    out = {}
    for k, v in stack.items():
        order = 0 if k == "lesions" else 1
        src = v if order == 0 else ndimage.gaussian_filter(v, (0, 0.4 * canvas / size, 0.4 * canvas / size))
        out[k] = np.stack([ndimage.map_coordinates(s, coords, order=order, mode="constant", cval=PAD.get(k, 0.0))
                           for s in src])
    lab = out.pop("lesions").astype(np.uint8)
    return Slab(channels={k: v.astype(np.float32) for k, v in out.items()}, lesions=lab,
                z_mm=[float(v - Z_ORIGIN) for v in z], voxel_mm=fov_mm / size)


def _fit(v: np.ndarray, n: int, fill: float) -> np.ndarray:
    """Centre ``(K, rows, cols)`` on an ``n x n`` canvas: pad with ``fill`` or crop."""
    out = np.full((v.shape[0], n, n), fill, v.dtype)
    src, dst = [slice(None)], [slice(None)]
    for size in v.shape[1:]:
        offset = (n - size) // 2
        src.append(slice(max(-offset, 0), max(-offset, 0) + min(size, n)))
        dst.append(slice(max(offset, 0), max(offset, 0) + min(size, n)))
    out[tuple(dst)] = v[tuple(src)]
    return out


def _sampling_grid(canvas: int, size: int, rng, deform: bool) -> np.ndarray:
    """Source coordinates (2, size, size) in the canvas for each output pixel."""
    t = (np.arange(size) + 0.5) * canvas / size - 0.5
    yy, xx = np.meshgrid(t, t, indexing="ij")
    if not deform:
        return np.stack([yy, xx])
    c = (canvas - 1) / 2
    angle = np.deg2rad(rng.uniform(-12, 12))
    scale = rng.uniform(0.9, 1.1, size=2)
    shift = rng.uniform(-6, 6, size=2)
    y0, x0 = (yy - c) / scale[0], (xx - c) / scale[1]
    ys = np.cos(angle) * y0 - np.sin(angle) * x0 + c + shift[0]
    xs = np.sin(angle) * y0 + np.cos(angle) * x0 + c + shift[1]
    # smooth elastic displacement, a few mm
    amp = rng.uniform(0.0, 3.0)
    d = smooth_field((2, size, size), rng, cells=8)
    return np.stack([ys + amp * d[0], xs + amp * d[1]])


def smooth_field(shape, rng, cells: int = 6) -> np.ndarray:
    """A smooth random field in [-1, 1] over the last two axes (leading axes get independent fields):
    Gaussian bumps with random weights on a ``cells x cells`` grid, summed separably (two small
    matrix products, fast for many coils)."""
    *lead, h, w = shape

    def basis(n):
        centres = (np.arange(cells) + 0.5) / cells
        pos = (np.arange(n) + 0.5) / n
        return np.exp(-((pos[:, None] - centres[None, :]) ** 2) / (2 * (0.8 / cells) ** 2))

    weights = rng.standard_normal((*lead, cells, cells))
    field = basis(h) @ weights @ basis(w).T
    peak = np.abs(field).max(axis=(-2, -1), keepdims=True)
    return field / np.maximum(peak, 1e-9)
