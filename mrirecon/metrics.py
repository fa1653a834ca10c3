"""Image quality metrics with the fastMRI protocol (GUIDE §4) and lesion contrast measures.

Per volume ``(slices, H, W)``: ``ssim`` = mean over slices of skimage's SSIM with
``data_range = gt.max()`` over the whole volume (7x7 window, K1 0.01, K2 0.03); ``psnr`` with the
same data range; ``nmse = ||gt - pred||^2 / ||gt||^2``. The prediction is centre-cropped to the
target's shape first.
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .errors import InputError


def center_crop(x: np.ndarray, shape) -> np.ndarray:
    """Centre-crop the last two axes of ``x`` to ``shape`` (fastMRI's placement)."""
    h, w = x.shape[-2:]
    ch, cw = int(shape[0]), int(shape[1])
    if ch > h or cw > w:
        raise InputError(f"cannot crop an image of shape {(h, w)} to {(ch, cw)}", "crop")
    top, left = (h - ch) // 2, (w - cw) // 2
    return x[..., top:top + ch, left:left + cw]


def _prepare(gt, pred):
    gt = np.asarray(gt, np.float64)
    pred = np.asarray(pred)
    pred = (np.abs(pred) if np.iscomplexobj(pred) else pred).astype(np.float64)
    if gt.ndim == 2:
        gt = gt[None]
    if pred.ndim == 2:
        pred = pred[None]
    if gt.ndim != 3 or pred.ndim != 3 or pred.shape[0] != gt.shape[0]:
        raise InputError(f"target {gt.shape} and prediction {pred.shape} are not matching volumes", "metrics")
    pred = center_crop(pred, gt.shape[-2:])
    if not (np.isfinite(gt).all() and np.isfinite(pred).all()):
        raise InputError("NaN or Inf in target or prediction", "metrics")
    return gt, pred


def ssim(gt, pred) -> float:
    gt, pred = _prepare(gt, pred)
    dr = gt.max()
    return float(np.mean([structural_similarity(g, p, data_range=dr) for g, p in zip(gt, pred)]))


def psnr(gt, pred) -> float:
    gt, pred = _prepare(gt, pred)
    return float(peak_signal_noise_ratio(gt, pred, data_range=gt.max()))


def nmse(gt, pred) -> float:
    gt, pred = _prepare(gt, pred)
    return float(np.sum((gt - pred) ** 2) / np.sum(gt ** 2))


def evaluate(gt, pred) -> dict:
    """All three fastMRI metrics of one volume."""
    return {"ssim": ssim(gt, pred), "psnr": psnr(gt, pred), "nmse": nmse(gt, pred)}


def lesion_contrast(image, lesion, reference) -> dict:
    """Lesion analysis of one image: mean lesion L, mean reference (normal white matter) R,
    contrast ``C = (L - R) / R`` and ``CNR = (L - R) / std(reference)``.

    ``lesion`` and ``reference`` are boolean ROI masks of the image's shape.
    """
    image = np.abs(np.asarray(image, np.float64))
    lesion, reference = np.asarray(lesion, bool), np.asarray(reference, bool)
    if lesion.shape != image.shape or reference.shape != image.shape:
        raise InputError(f"ROI shapes {lesion.shape}, {reference.shape} differ from the image {image.shape}",
                         "roi")
    if not lesion.any() or not reference.any():
        raise InputError("empty lesion or reference ROI", "roi")
    big_l, big_r = image[lesion].mean(), image[reference].mean()
    sd = image[reference].std()
    return {"lesion_mean": float(big_l), "reference_mean": float(big_r),
            "contrast": float((big_l - big_r) / big_r) if big_r else float("nan"),
            "cnr": float((big_l - big_r) / sd) if sd else float("nan")}


def contrast_preservation(method_contrast: float, truth_contrast: float) -> float:
    """``C_method / C_truth``: 1 means the lesion contrast is preserved."""
    return float(method_contrast / truth_contrast) if truth_contrast else float("nan")
