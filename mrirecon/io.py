"""Reading and writing the fastMRI HDF5 layout (GUIDE §3), with validation.

``load(path)`` validates a file and returns a :class:`Scan`; every problem is an ``InputError``
naming the file. Outputs are written atomically (temporary name, then rename) and input files are
only ever opened read-only.
"""
from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError

PROSPECTIVE_MAX_FRACTION = 0.9  # zero-pattern sampling fewer points than this = undersampled data


@dataclass
class Scan:
    """One fastMRI-layout file in memory."""

    path: str
    kspace: np.ndarray  # (slices, coils, H, W) complex64; single-coil files get coils = 1
    mask: np.ndarray | None  # (H, W) bool when the data are prospectively undersampled
    target: np.ndarray | None  # (slices, h, w) float32 reference, possibly centre-cropped
    lesion_mask: np.ndarray | None  # (slices, H, W) uint8 labels
    attrs: dict = field(default_factory=dict)
    crop_size: tuple[int, int] | None = None  # from the ismrmrd header's recon matrix
    single_coil: bool = False

    @property
    def prospective(self) -> bool:
        return self.mask is not None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.kspace.shape[-2:])


def load(path) -> Scan:
    """Read and validate a fastMRI-layout HDF5 file."""
    import h5py

    path = str(path)
    src = Path(path)
    if not src.is_file():
        raise InputError("no such file", path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        kind = "not an HDF5 file" if not h5py.is_hdf5(path) else "unreadable HDF5 (truncated or corrupt?)"
        raise InputError(f"{kind} ({e.__class__.__name__})", path) from None
    try:
        with f:
            if "kspace" not in f:
                raise InputError(f"no 'kspace' dataset (keys: {', '.join(f.keys()) or 'none'})", path)
            kspace = _read(f, "kspace", path)
            mask = _read(f, "mask", path) if "mask" in f else None
            target = _read(f, "reconstruction_rss", path) if "reconstruction_rss" in f else None
            lesions = _read(f, "lesion_mask", path) if "lesion_mask" in f else None
            header = f["ismrmrd_header"][()] if "ismrmrd_header" in f else None
            attrs = {k: _plain(v) for k, v in f.attrs.items()}
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise InputError(f"unreadable HDF5 content ({e})", path) from None
    return validate(path, kspace, mask, target, lesions, attrs, header)


def validate(path, kspace, mask=None, target=None, lesions=None, attrs=None, header=None) -> Scan:
    """Check arrays read from ``path`` and build a :class:`Scan` (also used for in-memory data)."""
    kspace = check_kspace(kspace, path)
    single = kspace.ndim == 3
    if single:
        kspace = kspace[:, None]
    n, _, h, w = kspace.shape
    if mask is not None:
        mask = check_mask(mask, (h, w), path)
    else:
        mask = detect_mask(kspace)
    if target is not None:
        target = np.asarray(target)
        if target.ndim == 2:
            target = target[None]
        if target.ndim != 3 or target.shape[0] != n or target.shape[1] > h or target.shape[2] > w:
            raise InputError(f"reconstruction_rss has shape {target.shape}; expected ({n}, h <= {h}, w <= {w})",
                             path)
        target = target.astype(np.float32)
        if not np.isfinite(target).all():
            raise InputError("reconstruction_rss contains NaN or Inf", path)
    if lesions is not None:
        lesions = np.asarray(lesions)
        if lesions.shape != (n, h, w):
            raise InputError(f"lesion_mask has shape {lesions.shape}; expected {(n, h, w)}", path)
        lesions = lesions.astype(np.uint8)
    return Scan(path=str(path), kspace=kspace, mask=mask, target=target, lesion_mask=lesions,
                attrs=dict(attrs or {}), crop_size=_crop_from_header(header), single_coil=single)


def check_kspace(kspace, source="kspace") -> np.ndarray:
    kspace = np.asarray(kspace)
    if not np.iscomplexobj(kspace):
        raise InputError(f"k-space must be complex, got {kspace.dtype} (real-valued or integer data)", source)
    if kspace.ndim not in (3, 4):
        raise InputError(f"k-space must be (slices, coils, H, W) or single-coil (slices, H, W); "
                         f"got {kspace.ndim} dimensions {kspace.shape}", source)
    if 0 in kspace.shape:
        raise InputError(f"k-space has a zero-size dimension {kspace.shape}", source)
    if not np.isfinite(kspace).all():
        raise InputError("k-space contains NaN or Inf", source)
    return kspace.astype(np.complex64, copy=False)


def check_mask(mask, shape, source="mask") -> np.ndarray:
    """A mask ``(W,)`` (1D, fastMRI) or ``(H, W)`` as a boolean ``(H, W)`` array."""
    mask = np.asarray(mask)
    h, w = shape
    if mask.ndim == 1 and mask.shape[0] == w:
        mask = np.broadcast_to(mask, (h, w))
    elif mask.shape != (h, w):
        raise InputError(f"mask has shape {mask.shape}; expected ({w},) or {(h, w)} to match k-space", source)
    if not np.isfinite(mask.astype(np.float64)).all() or not np.isin(mask, (0, 1)).all():
        raise InputError("mask must contain only 0/1 (or booleans)", source)
    mask = mask.astype(bool)
    if not mask.any():
        raise InputError("mask samples nothing", source)
    return mask


def detect_mask(kspace: np.ndarray) -> np.ndarray | None:
    """The sampling pattern of prospectively undersampled data with no ``mask``: the points that
    are non-zero in any slice or coil. ``None`` when the data look fully sampled."""
    sampled = np.abs(kspace).reshape(-1, *kspace.shape[-2:]).max(0) > 0
    return sampled if sampled.mean() < PROSPECTIVE_MAX_FRACTION else None


def _read(f, key, path):
    d = f[key]
    if not hasattr(d, "shape"):
        raise InputError(f"'{key}' is not a dataset", path)
    return d[()]


def _plain(v):
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


def _crop_from_header(header) -> tuple[int, int] | None:
    """fastMRI's crop: the recon matrix ``(x, y)`` of the ISMRMRD header, applied to ``(H, W)``."""
    if header is None:
        return None
    try:
        text = header.decode() if isinstance(header, bytes) else str(header)
        root = ET.fromstring(text)
        ns = {"m": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else None
        q = "m:encoding/m:reconSpace/m:matrixSize" if ns else "encoding/reconSpace/matrixSize"
        size = root.find(q, ns)
        x = int(size.find("m:x" if ns else "x", ns).text)
        y = int(size.find("m:y" if ns else "y", ns).text)
        return (x, y)
    except (ET.ParseError, AttributeError, ValueError, TypeError):
        return None


def atomic_text(path, text: str) -> Path:
    """Write a text file atomically (temporary file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def atomic_h5(path, write) -> None:
    """Create ``path`` by calling ``write(h5py.File)`` on a temporary file and renaming it: a crash
    never leaves a file that looks complete."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_reconstruction(path, reconstruction, attrs: dict | None = None, extra: dict | None = None) -> None:
    """Write ``reconstruction (slices, H, W) float32`` in fastMRI's output layout, atomically;
    ``extra`` datasets (e.g. the sampling ``mask``) are stored beside it."""
    recon = np.asarray(reconstruction, np.float32)
    if recon.ndim == 2:
        recon = recon[None]

    def write(f):
        f.create_dataset("reconstruction", data=recon)
        for k, v in (extra or {}).items():
            f.create_dataset(k, data=v)
        for k, v in (attrs or {}).items():
            f.attrs[k] = v

    atomic_h5(path, write)


def save_scan(path, kspace, target=None, lesion_mask=None, attrs=None, mask=None,
              compress: bool = True) -> None:
    """Write an input file in the fastMRI layout (used by the simulator), atomically."""
    opts = {"compression": "gzip", "compression_opts": 4, "shuffle": True} if compress else {}

    def write(f):
        f.create_dataset("kspace", data=np.asarray(kspace, np.complex64), **opts)
        if target is not None:
            f.create_dataset("reconstruction_rss", data=np.asarray(target, np.float32), **opts)
        if lesion_mask is not None:
            f.create_dataset("lesion_mask", data=np.asarray(lesion_mask, np.uint8), **opts)
        if mask is not None:
            f.create_dataset("mask", data=np.asarray(mask, np.uint8))
        for k, v in (attrs or {}).items():
            f.attrs[k] = v

    atomic_h5(path, write)
