"""Comparison figures (PNG): reference, each method, and error maps on one shared colour scale."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def comparison(path, reference: np.ndarray | None, images: dict[str, np.ndarray], scores: dict | None = None,
               title: str = "") -> Path:
    """Save a 2-row panel for one slice: images on top, ``|method - reference|`` below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import center_crop

    panels = ([("reference", reference)] if reference is not None else []) + list(images.items())
    shape = reference.shape if reference is not None else None
    if shape is not None:
        panels = [(n, center_crop(im, shape)) for n, im in panels]
    vmax = float(np.percentile(reference if reference is not None else panels[0][1], 99.5))
    n = len(panels)
    rows = 2 if reference is not None else 1
    fig, axes = plt.subplots(rows, n, figsize=(2.6 * n, 2.8 * rows), squeeze=False)
    err_max = 0.25 * vmax
    for j, (name, im) in enumerate(panels):
        ax = axes[0, j]
        ax.imshow(im, cmap="gray", vmin=0, vmax=vmax)
        label = name
        if scores and name in scores and scores[name]:
            s = scores[name]
            label += f"\nSSIM {s['ssim']:.3f}  PSNR {s['psnr']:.1f}"
        ax.set_title(label, fontsize=8)
        ax.axis("off")
        if rows == 2:
            ax = axes[1, j]
            if name == "reference":
                ax.axis("off")
                ax.text(0.5, 0.5, f"error maps\n|method - reference|\n0 .. {err_max:.3g}", ha="center",
                        va="center", fontsize=8, transform=ax.transAxes)
                continue
            ax.imshow(np.abs(im - reference), cmap="inferno", vmin=0, vmax=err_max)
            ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return save(fig, path)


def save(fig, path, dpi: int = 80, colors: int = 192) -> Path:
    """Save a figure as a palette PNG (``colors`` colours, about a third of the RGBA size: grey
    images with noise compress poorly) and close it."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    plt.close(fig)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.open(buf).convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    tmp = path.with_name(f".{path.name}.tmp")
    img.save(tmp, format="png", optimize=True)
    tmp.replace(path)
    return path
