"""The study's figures (matplotlib, PNG): side-by-side panels with error maps, quality versus time,
zoomed lesion ROIs and the prospective acquisition with its data-consistency residuals."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import metrics
from ..figures import comparison, save


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    return save(fig, path)


def panels(path, reference: np.ndarray, images: dict[str, np.ndarray], title: str) -> Path:
    """One slice: reference and every method, error maps below; labels give the slice's metrics."""
    scores = {m: metrics.evaluate(reference[None], im[None]) for m, im in images.items()}
    return comparison(path, reference, images, scores, title)


def quality_vs_time(path, quality_rows: list[dict], timing_rows: list[dict], mask_labels: list[str]) -> Path:
    """One point per method: mean SSIM (top) and PSNR (bottom) over the evaluation volumes against
    the median end-to-end seconds per slice (log axis), one column per mask."""
    plt = _plt()
    fig, axes = plt.subplots(2, len(mask_labels), figsize=(4.2 * len(mask_labels), 6.4), squeeze=False)
    for j, label in enumerate(mask_labels):
        times = {r["method"]: r["total_s"] for r in timing_rows if r["mask"] == label}
        for i, key in enumerate(("ssim", "psnr")):
            ax = axes[i, j]
            for method, t in times.items():
                vals = [r[key] for r in quality_rows if r["mask"] == label and r["method"] == method]
                if not vals or not t > 0:
                    continue
                y = float(np.mean(vals))
                ax.scatter([t], [y], s=28)
                ax.annotate(method, (t, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
            ax.set_xscale("log")
            ax.set_xlabel("seconds per slice (maps + solver)", fontsize=8)
            ax.set_ylabel(f"mean {key.upper()}", fontsize=8)
            ax.set_title(label, fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def lesion_crops(path, images: dict[str, np.ndarray], labels: np.ndarray, box: np.ndarray, title: str,
                 half: int | None = None) -> Path:
    """Zoomed crops around the largest lesion: the lesion outline (red) and the reference box of
    normal white matter (cyan) over the reference and every method, one grey scale."""
    from scipy import ndimage

    plt = _plt()
    sizes = ndimage.sum(labels > 0, labels, index=np.arange(1, labels.max() + 1))
    big = int(np.argmax(sizes)) + 1
    r, c = (int(v) for v in ndimage.center_of_mass(labels == big))
    h, w = labels.shape
    half = half or max(h // 8, 12)
    # a square window around the lesion that also holds the reference box
    lo = np.minimum([r - half, c - half], box.min(0) - 3)
    hi = np.maximum([r + half, c + half], box.max(0) + 3)
    side = int(min(max(hi - lo), h, w))
    r0 = int(np.clip((lo[0] + hi[0]) / 2 - side / 2, 0, h - side))
    c0 = int(np.clip((lo[1] + hi[1]) / 2 - side / 2, 0, w - side))
    win = (slice(r0, r0 + side), slice(c0, c0 + side))
    ref = images["reference"]
    vmax = float(np.percentile(ref[win], 99.5))
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.5), squeeze=False)
    for ax, (name, im) in zip(axes[0], images.items()):
        ax.imshow(im[win], cmap="gray", vmin=0, vmax=vmax)
        ax.contour((labels > 0)[win].astype(float), levels=[0.5], colors="red", linewidths=0.8)
        rows_, cols_ = box[:, 0] - r0, box[:, 1] - c0
        ax.plot(np.r_[cols_, cols_[:1]], np.r_[rows_, rows_[:1]], color="cyan", linewidth=0.8)
        ax.set_xlim(-0.5, side - 0.5)
        ax.set_ylim(side - 0.5, -0.5)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def prospective(path, mask: np.ndarray, images: dict[str, np.ndarray], residuals: dict[str, np.ndarray],
                title: str) -> Path:
    """Top: the sampling mask and every reconstruction; bottom: residual maps on one shared scale."""
    plt = _plt()
    names = list(images)
    n = len(names) + 1
    fig, axes = plt.subplots(2, n, figsize=(2.3 * n, 4.9), squeeze=False)
    axes[0, 0].imshow(mask, cmap="gray")
    axes[0, 0].set_title(f"mask ({mask.size / mask.sum():.1f}x)", fontsize=8)
    axes[1, 0].text(0.5, 0.5, "data-consistency\nresidual\n|F⁻¹M(FSx − y)|", ha="center", va="center",
                    fontsize=8, transform=axes[1, 0].transAxes)
    vmax = float(np.percentile(np.stack(list(images.values())), 99.5))
    rmax = max([float(np.percentile(r, 99.5)) for r in residuals.values()] or [1.0]) or 1.0
    for j, name in enumerate(names, start=1):
        axes[0, j].imshow(images[name], cmap="gray", vmin=0, vmax=vmax)
        axes[0, j].set_title(name, fontsize=8)
        if name in residuals:
            axes[1, j].imshow(residuals[name], cmap="inferno", vmin=0, vmax=rmax)
        else:
            axes[1, j].text(0.5, 0.5, "no complex\nestimate", ha="center", va="center", fontsize=8,
                            transform=axes[1, j].transAxes)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)
