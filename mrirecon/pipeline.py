"""Reconstructing one scan: undersampling, running registered methods, scoring, output attributes,
input discovery and output-folder checks. ``mrirecon.batch`` runs these over files and folders."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__, masks, metrics
from . import solvers
from .api import make_problem
from .errors import InputError
from .io import Scan
from .solvers.base import drain


@dataclass
class MaskSpec:
    kind: str = "equispaced"
    acceleration: float = 4.0
    center_fraction: float | None = None
    seed: int = 0


@dataclass
class Sampling:
    kspace: np.ndarray  # (S, C, H, W) masked
    mask: np.ndarray  # (H, W) bool
    kind: str  # mask kind, or "prospective"
    requested: float | None
    achieved: float
    notice: str = ""


@dataclass
class Result:
    file: str
    method: str
    image: np.ndarray  # (S, H, W) float32
    seconds: float
    scores: dict = field(default_factory=dict)  # ssim / psnr / nmse when a reference exists


def undersample(scan: Scan, spec: MaskSpec) -> Sampling:
    """Retrospective undersampling of fully sampled data; prospective data keep their sampling."""
    if scan.prospective:
        notice = ""
        if spec is not None:
            notice = f"{scan.path}: prospectively undersampled; the requested {spec.kind} mask is ignored"
        # (the notice is a note on every record of the file and printed once by the CLI)
        return Sampling(scan.kspace * scan.mask, scan.mask, "prospective", None,
                        masks.acceleration(scan.mask), notice)
    mask = masks.create(spec.kind, scan.shape, spec.acceleration, spec.center_fraction, spec.seed)
    return Sampling((scan.kspace * mask).astype(np.complex64), mask, spec.kind, spec.acceleration,
                    masks.acceleration(mask))


def score(scan: Scan, image: np.ndarray) -> dict:
    """fastMRI metrics against the file's reference (cropped as the file says), or {}."""
    if scan.target is None:
        return {}
    pred = image
    if scan.crop_size is not None:
        pred = metrics.center_crop(pred, scan.crop_size)
    try:
        return metrics.evaluate(scan.target, pred)
    except InputError as e:
        raise InputError(e.problem, scan.path) from None


def reconstruct_scan(scan: Scan, sampling: Sampling, method_names, device: str = "auto",
                     progress=None, virtual_coils: int | None = None) -> list[Result]:
    """Run each method on one undersampled scan; sensitivity maps are estimated once and shared
    (their time is added to every method that uses them). ``virtual_coils``: SVD coil compression
    first (``coils.compress``)."""
    methods = [(name, solvers.get(name)) for name in method_names]
    t0 = time.perf_counter()  # one problem for all (one compression, one set of maps when any method needs them)
    problem = make_problem(sampling.kspace, sampling.mask, device=device, source=scan.path,
                           need_sens=any(m.needs_sens for _, m in methods), virtual_coils=virtual_coils)
    sens_seconds = time.perf_counter() - t0 if problem.sens is not None else 0.0
    out = []
    for name, method in methods:
        t1 = time.perf_counter()
        report = None if progress is None else (lambda p, name=name: progress(name, p))
        image = drain(method.iterate(problem), report)
        seconds = time.perf_counter() - t1 + (sens_seconds if method.needs_sens else 0.0)
        out.append(Result(scan.path, name, image, seconds, score(scan, image)))
    return out


def output_attrs(result: Result, sampling: Sampling, spec: MaskSpec | None,
                 virtual_coils: int | None = None) -> dict:
    return {
        "method": result.method, "mask": sampling.kind,
        "acceleration_requested": float(sampling.requested or 0.0),
        "acceleration_achieved": float(sampling.achieved),
        "center_fraction": float(spec.center_fraction) if spec and spec.center_fraction else 0.0,
        "seed": int(spec.seed) if spec else 0, "virtual_coils": int(virtual_coils or 0),  # 0: not compressed
        "seconds": float(result.seconds),
        "mrirecon_version": __version__, "input": str(result.file),
    }


def find_inputs(input_path) -> tuple[Path, list[Path]]:
    """The input root and its ``*.h5`` files (one file, or a folder searched recursively)."""
    p = Path(input_path)
    if p.is_file():
        return p.parent, [p]
    if p.is_dir():
        return p, sorted(q for q in p.rglob("*.h5") if q.is_file())
    raise InputError("no such file or folder", str(input_path))


def check_output_dir(out_dir, input_root: Path) -> Path:
    """Refuse an output folder inside the input folder or one that cannot be written."""
    out = Path(out_dir).resolve()
    root = input_root.resolve()
    if out == root or root in out.parents:
        raise InputError("the output folder lies inside the input folder; inputs are never written to",
                         str(out_dir))
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".mrirecon-write-test"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise InputError(f"cannot write to the output folder ({e.strerror})", str(out_dir)) from None
    return out
