"""mrirecon: accelerated MRI reconstruction (k-space physics, CS baselines, learned solvers)."""
from __future__ import annotations

__version__ = "0.1.0"

from . import masks, metrics  # noqa: E402  (light modules)
from .api import methods, reconstruct  # noqa: E402
from .errors import InputError, WeightsError  # noqa: E402
from .io import Scan, load  # noqa: E402


def recon_folder(*args, **kwargs):
    """Batch-reconstruct a file or folder (see :func:`mrirecon.batch.recon_folder`)."""
    from .batch import recon_folder as _recon_folder

    return _recon_folder(*args, **kwargs)


__all__ = ["__version__", "masks", "metrics", "methods", "reconstruct", "recon_folder", "load", "Scan",
           "InputError", "WeightsError"]
