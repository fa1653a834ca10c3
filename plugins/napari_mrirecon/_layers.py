"""Result layers in the viewer (napari, no Qt widgets): side-by-side grid, linked contrast, layers
updated in place on re-runs, ROI Shapes layers and their masks."""
from __future__ import annotations

import numpy as np

ROI_LAYERS = {"lesion ROI": "red", "reference ROI": "cyan"}


def grid(viewer):
    """The viewer's grid settings (``viewer.canvas.grid`` since napari 0.9, ``viewer.grid`` before)."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def put_image(viewer, name: str, data: np.ndarray, **kwargs):
    """Add an image layer, or replace the data of the existing layer of that name (in place)."""
    if name in viewer.layers:
        layer = viewer.layers[name]
        layer.data = data
        for k, v in kwargs.items():
            if k in ("contrast_limits", "colormap", "metadata"):
                setattr(layer, k, v)
        return layer
    return viewer.add_image(data, name=name, **kwargs)


def show_results(viewer, outcome, errors: bool, residuals: bool) -> dict[str, list]:
    """Reference, each method, optional |method - reference| and residual maps, in napari's grid
    with shared contrast limits per group. Returns the layers per group."""
    groups = {"images": [], "errors": [], "residuals": []}
    ref = outcome.reference
    vmax = float(np.percentile(ref if ref is not None else next(iter(outcome.results.values())).image, 99.5))
    if ref is not None:
        groups["images"].append(put_image(viewer, "reference", crop_like(ref, ref), colormap="gray",
                                          contrast_limits=(0.0, vmax)))
    for name, res in outcome.results.items():
        img = crop_like(res.image, ref)
        groups["images"].append(put_image(viewer, f"{name} ({outcome.label})", img, colormap="gray",
                                          contrast_limits=(0.0, vmax), metadata={"method": name}))
    if errors and ref is not None:
        emax = 0.25 * vmax
        for name, res in outcome.results.items():
            err = np.abs(crop_like(res.image, ref) - ref)
            groups["errors"].append(put_image(viewer, f"|{name} - reference|", err, colormap="inferno",
                                              contrast_limits=(0.0, emax), metadata={"method": name}))
    if residuals:
        rmax = max((float(np.percentile(r.residual, 99.5)) for r in outcome.results.values()
                    if r.residual is not None), default=1.0) or 1.0
        for name, res in outcome.results.items():
            if res.residual is not None:
                groups["residuals"].append(put_image(viewer, f"residual {name}", res.residual, colormap="magma",
                                                     contrast_limits=(0.0, rmax), metadata={"method": name}))
    _link(groups)
    grid(viewer).enabled = True
    viewer.reset_view()
    return groups


def crop_like(img, ref):
    if ref is None or img.shape == ref.shape:
        return img
    from mrirecon.metrics import center_crop

    return center_crop(img, ref.shape)


def _link(groups):
    try:
        from napari.experimental import link_layers
    except ImportError:  # older napari: contrast limits are already equal per group
        return
    for layers in groups.values():
        if len(layers) > 1:
            try:
                link_layers(layers, ("contrast_limits", "gamma"))
            except ValueError:  # already linked
                pass


def roi_layers(viewer, lesion_polys, reference_box):
    """The 'lesion ROI' and 'reference ROI' Shapes layers (created once, their data replaced)."""
    out = {}
    for name, color in ROI_LAYERS.items():
        shapes = lesion_polys if name == "lesion ROI" else ([reference_box] if reference_box is not None else [])
        if name in viewer.layers:
            layer = viewer.layers[name]
            if shapes:
                layer.data = shapes
        else:
            layer = viewer.add_shapes(shapes, shape_type="polygon", name=name, edge_color=color, face_color=color,
                                      opacity=0.5, edge_width=0.5)
        out[name] = layer
    return out


def roi_mask(layer, shape) -> np.ndarray:
    """Union of a Shapes layer's shapes as a boolean mask of ``shape``."""
    if layer is None or len(layer.data) == 0:
        return np.zeros(shape, bool)
    return np.asarray(layer.to_masks(mask_shape=shape)).any(axis=0)
