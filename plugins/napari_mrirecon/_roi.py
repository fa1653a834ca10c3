"""Lesion ROI analysis for the widget, free of Qt: default ROIs from a file's ``lesion_mask`` and the
contrast table (GUIDE §4) over every reconstruction, via ``mrirecon.metrics``."""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def lesion_polygons(labels: np.ndarray) -> list[np.ndarray]:
    """One polygon (N, 2) in (row, col) per labelled lesion of a 2D label image."""
    from skimage.measure import find_contours

    polys = []
    for lab in np.unique(labels[labels > 0]):
        region = np.pad(labels == lab, 1)
        contours = find_contours(region.astype(float), 0.5)
        if contours:
            poly = max(contours, key=len) - 1  # undo the padding
            if len(poly) >= 3:
                polys.append(poly)
    return polys


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


def contrast_table(images: dict[str, np.ndarray], lesion: np.ndarray, reference: np.ndarray,
                   truth: str = "reference") -> list[dict]:
    """Per image: mean lesion, mean reference, contrast (L - R)/R, CNR and contrast preservation
    (C_image / C_truth, where ``truth`` names the fully sampled image)."""
    from mrirecon.metrics import contrast_preservation, lesion_contrast

    rows = {name: lesion_contrast(img, lesion, reference) for name, img in images.items()}
    c_truth = rows[truth]["contrast"] if truth in rows else float("nan")
    return [{"image": name, **r, "preservation": contrast_preservation(r["contrast"], c_truth)}
            for name, r in rows.items()]
