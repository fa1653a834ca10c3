"""The Python API: ``reconstruct`` any registered method on k-space arrays."""
from __future__ import annotations

import numpy as np

from . import coils, solvers
from .errors import InputError
from .io import check_kspace, check_mask
from .runtime import tune_malloc
from .solvers.base import Problem


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is usable, else ``cpu``; explicit names are checked."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no GPU is available", "device")
    if device != "cpu" and not device.startswith("cuda"):
        raise InputError(f"unknown device {device!r}; use auto, cpu or cuda", "device")
    return device


def make_problem(kspace, mask=None, sens=None, device: str = "auto", need_sens: bool = True,
                 estimator: str = "espirit", source: str = "kspace", virtual_coils: int | None = None) -> Problem:
    """Validate inputs and build the :class:`Problem` a method runs on.

    ``kspace`` is ``(slices, coils, H, W)`` complex; ``mask`` ``(H, W)``/``(W,)`` or ``None`` (then
    the sampled points are the non-zeros of the data). ``virtual_coils``: compress the coils to this
    many first (``coils.compress``; given maps are compressed with them). Sensitivities are
    estimated when needed and not given.
    """
    tune_malloc()
    k = check_kspace(kspace, source)
    if k.ndim == 3:
        raise InputError(f"expected (slices, coils, H, W), got {k.shape}", source)
    if mask is None:
        mask = np.abs(k).reshape(-1, *k.shape[-2:]).max(0) > 0
    mask = check_mask(mask, k.shape[-2:], source)
    k = np.where(mask, k, 0).astype(np.complex64)
    acquired, noise_var = k.shape[-3], coils.noise_variance(k, mask)  # per coil: the same for virtual coils
    if sens is not None:
        sens = np.asarray(sens, np.complex64)
        if sens.shape[-3:] != k.shape[-3:]:
            raise InputError(f"sensitivity maps {sens.shape} do not match k-space {k.shape}", source)
        sens = np.broadcast_to(sens, k.shape)
    if virtual_coils is not None:
        compression = coils.compress(k, virtual_coils, source)
        k = compression.kspace
        if sens is not None:
            sens = coils.compress_maps(sens, compression.matrix)
    if sens is not None:
        sens = np.array(sens, np.complex64)  # the problem's own writable copy
    elif need_sens:
        sens = coils.estimate(k, mask, estimator)
    return Problem(kspace=k, mask=mask, sens=sens, noise_var=noise_var, device=resolve_device(device),
                   acquired_coils=acquired)


def residual(problem: Problem, estimate: np.ndarray) -> np.ndarray:
    """Data-consistency residual ``RSS_c(F^-1 M (F S x - y))`` ``(S, H, W)`` of a method's complex
    estimate ``x`` (``Method.estimate``) on ``problem``: the trust signal when no reference exists."""
    import torch

    from . import physics

    dev = torch.device(problem.device)
    with torch.inference_mode():
        r = physics.residual_image(*(torch.from_numpy(np.ascontiguousarray(a)).to(dev) for a in
                                     (estimate, problem.kspace, problem.sens, problem.mask)))
    return r.float().cpu().numpy()


def reconstruct(kspace, mask=None, method: str = "sense", sens=None, device: str = "auto",
                virtual_coils: int | None = None, **options) -> np.ndarray:
    """Reconstruct k-space ``(slices, coils, H, W)`` or ``(coils, H, W)`` with a registered method.

    Returns float32 magnitude images on the RSS scale of the input, with the same leading shape
    (``(slices, H, W)`` or ``(H, W)``). ``virtual_coils``: SVD coil compression to this many coils
    before anything else (faster maps and physics for many-coil data; ``coils.compress``).
    ``options`` go to the method (e.g. ``lam`` for CS).
    """
    arr = np.asarray(kspace)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
        if sens is not None:
            sens = np.asarray(sens)[None]
    m = solvers.get(method, **options)
    problem = make_problem(arr, mask, sens, device, need_sens=m.needs_sens, virtual_coils=virtual_coils)
    out = m.run(problem)
    return out[0] if single else out


def methods() -> list[str]:
    """Names of every registered method."""
    return solvers.names()
