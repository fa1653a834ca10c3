"""The computation behind the reconstruction widget, free of Qt and napari.

One generator, two runners: :func:`reconstruct` yields an :class:`Update` between method steps
and a :class:`MethodResult` after each method, and returns an :class:`Outcome`. The widget runs it
in a napari thread worker (progress, cancel between steps); scripts and tests iterate it directly
(:func:`run_sync`). All the science comes from ``mrirecon``; torch and sigpy are imported only
when a computation starts.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Request:
    methods: list[str]
    slice: int = 0
    sampling: str = "retrospective"  # "retrospective" or "file" (the file's own sampling)
    mask: str = "equispaced"
    acceleration: float = 4.0
    center_fraction: float | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # torch threads for the computation (None: leave as is)
    virtual_coils: int | None = None  # SVD coil compression first (mrirecon.coils.compress; None: off)


@dataclass
class Update:
    method: str
    step: int
    total: int
    message: str = ""


@dataclass
class MethodResult:
    method: str
    image: np.ndarray  # (H, W) float32 magnitude on the RSS scale
    seconds: float
    residual: np.ndarray | None = None  # |F^-1 M (F S x - y)| (RSS over coils), SENSE-type methods
    scores: dict = field(default_factory=dict)  # ssim / psnr / nmse when the file has a reference


@dataclass
class Outcome:
    reference: np.ndarray | None
    mask: np.ndarray
    achieved: float
    label: str
    results: dict[str, MethodResult]


def sampling_mask(shape, request: Request, scan=None) -> tuple[np.ndarray, float, str]:
    """The mask a request uses (for the preview too): (mask, achieved acceleration, label)."""
    from mrirecon import masks

    if request.sampling == "file" and scan is not None:
        m = scan.mask if scan.prospective else np.ones(shape, bool)
        label = "prospective" if scan.prospective else "fully sampled"
        return m, masks.acceleration(m), label
    m = masks.create(request.mask, shape, request.acceleration, request.center_fraction, request.seed)
    return m, masks.acceleration(m), f"{request.mask} {masks.acceleration(m):.2f}x"


def one_slice(scan, index: int):
    """A :class:`mrirecon.Scan` holding slice ``index`` only."""
    n = scan.kspace.shape[0]
    if not 0 <= index < n:
        from mrirecon.errors import InputError

        raise InputError(f"slice {index} out of range 0..{n - 1}", scan.path)
    pick = (lambda a: None if a is None else a[index:index + 1])
    return dataclasses.replace(scan, kspace=scan.kspace[index:index + 1], target=pick(scan.target),
                               lesion_mask=pick(scan.lesion_mask))


def reconstruct(scan, request: Request):
    """Generator: Updates and MethodResults, returning the Outcome (see module docstring)."""
    import torch

    from mrirecon import solvers
    from mrirecon.api import make_problem
    from mrirecon.api import residual as api_residual
    from mrirecon.pipeline import score

    if request.threads:
        torch.set_num_threads(request.threads)
    sub = one_slice(scan, request.slice)
    mask, achieved, label = sampling_mask(sub.shape, request, sub)
    y = (sub.kspace * mask).astype(np.complex64)
    yield Update("sensitivities", 0, 1, "estimating coil sensitivities")
    need = any(solvers.get(m).needs_sens for m in request.methods)
    problem = make_problem(y, mask, device=request.device, need_sens=need, source=scan.path,
                           virtual_coils=request.virtual_coils)
    results = {}
    with torch.inference_mode():
        for name in request.methods:
            method = solvers.get(name)
            t0 = time.perf_counter()
            gen = method.iterate(problem)
            while True:
                try:
                    p = next(gen)
                except StopIteration as stop:
                    image = stop.value
                    break
                yield Update(name, p.step, p.total, p.message)
            seconds = time.perf_counter() - t0
            residual = None
            if method.estimate is not None and problem.sens is not None:
                residual = api_residual(problem, method.estimate)[0]
            res = MethodResult(name, image[0], seconds, residual, score(sub, image))
            results[name] = res
            yield res
    reference = sub.target[0] if sub.target is not None else None
    return Outcome(reference, mask, achieved, label, results)


def run_sync(scan, request: Request, on_item=None) -> Outcome:
    """The synchronous runner: drain the generator (``on_item`` sees every yielded item)."""
    from mrirecon.solvers.base import drain

    return drain(reconstruct(scan, request), on_item)
