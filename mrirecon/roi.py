"""Lesion ROI analysis shared by the study and the napari widget: a reference ROI of normal-appearing
white matter next to the lesions, and the contrast table (GUIDE §4) over several images."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .metrics import contrast_preservation, lesion_contrast


def reference_box(image: np.ndarray, labels: np.ndarray, size: int = 7) -> np.ndarray | None:
    """A ``size``-pixel square of normal-appearing white matter near the lesions: among the pixels
    3 to 10 pixels from any lesion, the centre of the most homogeneous bright-ish neighbourhood
    (lowest coefficient of variation with a mean above the image median). Corners (4, 2)."""
    lesion = labels > 0
    if not lesion.any():
        return None
    dist = ndimage.distance_transform_edt(~lesion)
    half = size // 2
    grown = ndimage.binary_dilation(lesion, iterations=half + 1)
    mean = ndimage.uniform_filter(image.astype(np.float64), size)
    sq = ndimage.uniform_filter(image.astype(np.float64) ** 2, size)
    cv = np.sqrt(np.maximum(sq - mean ** 2, 0)) / np.maximum(mean, 1e-12)
    ok = (dist >= 3 + half) & (dist <= 10 + half) & ~grown & (mean > np.median(image))
    ok[:half + 1], ok[-half - 1:], ok[:, :half + 1], ok[:, -half - 1:] = False, False, False, False
    if not ok.any():
        return None
    r, c = np.unravel_index(np.argmin(np.where(ok, cv, np.inf)), cv.shape)
    return np.array([[r - half, c - half], [r - half, c + half], [r + half, c + half], [r + half, c - half]], float)


def box_mask(corners: np.ndarray, shape) -> np.ndarray:
    """Boolean mask of the axis-aligned box with ``corners`` ((row, col) rows, inclusive)."""
    r0, c0 = np.floor(corners.min(0)).astype(int)
    r1, c1 = np.ceil(corners.max(0)).astype(int)
    m = np.zeros(shape, bool)
    m[max(r0, 0):r1 + 1, max(c0, 0):c1 + 1] = True
    return m


def contrast_table(images: dict[str, np.ndarray], lesion: np.ndarray, reference: np.ndarray,
                   truth: str = "reference") -> list[dict]:
    """Per image: mean lesion, mean reference, contrast (L - R)/R, CNR and contrast preservation
    (C_image / C_truth, where ``truth`` names the fully sampled image)."""
    rows = {name: lesion_contrast(img, lesion, reference) for name, img in images.items()}
    c_truth = rows[truth]["contrast"] if truth in rows else float("nan")
    return [{"image": name, **r, "preservation": contrast_preservation(r["contrast"], c_truth)}
            for name, r in rows.items()]
