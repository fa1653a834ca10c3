"""Lesion ROI outlines for the widget, free of Qt; the reference ROI and the contrast table come
from ``mrirecon.roi`` (shared with the study)."""
from __future__ import annotations

import numpy as np


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
