"""napari reader for fastMRI-layout HDF5 files: the reference image or, failing that, the
zero-filled RSS image, with the file's metadata. Returns None for files it cannot read."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def get_reader(path):
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    path = str(path)
    if not path.lower().endswith((".h5", ".hdf5")):
        return None
    try:
        import h5py

        if not h5py.is_hdf5(path):
            return None
        with h5py.File(path, "r") as f:
            if "kspace" not in f and "reconstruction_rss" not in f:
                return None
    except (OSError, ValueError):
        return None
    return read


def layer_data(path) -> tuple[np.ndarray, dict]:
    """(image volume, layer keyword arguments) of one file; raises ``InputError`` when invalid."""
    import mrirecon
    from mrirecon.coils import rss_from_kspace

    scan = mrirecon.load(path)
    if scan.target is not None:
        data, kind = scan.target, "reference"
    else:
        data = rss_from_kspace(scan.kspace * scan.mask if scan.prospective else scan.kspace)
        kind = "zero-filled RSS" if scan.prospective else "RSS"
    meta = {"path": str(path), "kind": kind, "attrs": scan.attrs, "prospective": scan.prospective,
            "shape": scan.kspace.shape, "has_lesions": scan.lesion_mask is not None}
    hi = float(np.percentile(data, 99.5)) or 1.0
    return data.astype(np.float32), {"name": f"{Path(path).stem} ({kind})", "metadata": meta,
                                      "contrast_limits": (0.0, hi), "colormap": "gray"}


def read(path):
    """napari's reader function: a list with one image layer, or None when unreadable."""
    if isinstance(path, list):
        path = path[0]
    try:
        data, kwargs = layer_data(path)
    except Exception:  # a reader never raises; napari then tries other readers
        return None
    return [(data, kwargs, "image")]
