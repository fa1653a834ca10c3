"""mrirecon: accelerated MRI reconstruction (k-space physics, CS baselines, learned solvers).

The top level stays light (numpy, h5py, scikit-image): torch and sigpy are imported on first use
of ``reconstruct``, ``methods`` or ``recon_folder``, so a GUI can import the package quickly.
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import masks, metrics  # noqa: E402  (light modules)
from .errors import InputError, WeightsError  # noqa: E402
from .io import Scan, load  # noqa: E402

_LAZY = {"reconstruct": "api", "methods": "api", "recon_folder": "batch"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'mrirecon' has no attribute {name!r}")


__all__ = ["__version__", "masks", "metrics", "methods", "reconstruct", "recon_folder", "load", "Scan",
           "InputError", "WeightsError"]
