"""Compressed sensing baselines through sigpy: L1-wavelet (``cs-l1``) and total variation (``cs-tv``).

Both solve ``min_x 1/2 ||M F S x - y||^2 + lam R(x)`` per slice. The regularisation weight is
*relative to the data scale*: ``lam = lam_rel * s`` with ``s`` the 99th percentile of the
zero-filled SENSE image ``|A^H y|``, so results do not depend on the file's intensity units.
The defaults (``lam_rel``) were chosen by a sweep on the shared real T2 scan and the simulated
samples (see benchmarks/cs_lambda.py). ``cs-l1`` shifts the image by a random offset before each
wavelet prox, as BART does (``L1Wavelet``; shared real scan, project masks, λ 3e-3: equispaced 4x
0.9072/32.86 -> 0.9321/33.92, equispaced 8x 0.7172/25.52 -> 0.7880/26.72, gaussian2d 8x
0.9339/34.84 -> 0.9454/35.91). sigpy runs on the GPU through cupy when it is installed and
the problem's device is CUDA, on the CPU otherwise.

Pixels outside the maps' support (cropped ESPIRiT maps) are not seen by the data term, and the
wavelet / TV prior does not set them to zero: it extends the object's edge into them. The output is
set to zero there, as the model says and as CG-SENSE and the learned methods' data-consistency
step already do (then ``rss_floor`` gives the noise floor). Shared real scan, the eval_real masks,
default crop: SSIM / PSNR equispaced 4x 0.8985/32.50 -> 0.9050/32.56, 2D 8x 0.9288/34.27 ->
0.9350/34.36 (benchmarks/crop_maps.py).
"""
from __future__ import annotations

import numpy as np

from . import register
from .base import Method, Problem, Progress
from .classical import to_output, torch_problem


def data_scale(problem: Problem) -> np.ndarray:
    """Per-slice 99th percentile of the zero-filled SENSE image (the unit of ``lam_rel``); the
    same normaliser the learned methods use (``mrirecon.nn.common.data_scale``)."""
    import torch

    from ..nn.common import data_scale as scale_of

    y, sens, mask = torch_problem(problem)
    with torch.inference_mode():
        return scale_of(y, sens, mask).cpu().numpy().astype(np.float64)


def _sigpy_device(device: str):
    import sigpy as sp

    if device.startswith("cuda"):
        try:
            import cupy  # noqa: F401

            return sp.Device(int(device.split(":")[1]) if ":" in device else 0)
        except Exception:
            pass
    return sp.cpu_device


class _SigpyCS(Method):
    default_lam = 0.0
    iterations = 100

    def __init__(self, lam: float | None = None, iterations: int | None = None):
        self.lam = self.default_lam if lam is None else float(lam)
        if iterations is not None:
            self.iterations = int(iterations)

    app_name = ""  # the sigpy.mri.app class

    def _app(self, y, mps, weights, lam, device, slice_index: int):
        import sigpy.mri as mr

        return getattr(mr.app, self.app_name)(y, mps, lam, weights=weights, device=device,
                                              max_iter=self.iterations, show_pbar=False)

    def iterate(self, problem: Problem):
        import sigpy as sp
        import torch

        from .. import physics

        dev = _sigpy_device(problem.device)
        scale = data_scale(problem)
        n = problem.kspace.shape[0]
        out = np.empty((n, *problem.kspace.shape[-2:]), np.complex64)
        weights = problem.mask.astype(np.float32)
        for s in range(n):
            y = sp.to_device(problem.kspace[s] / scale[s], dev)
            mps = sp.to_device(problem.sens[s], dev)
            app = self._app(y, mps, sp.to_device(weights, dev), self.lam, dev, s)
            i = 0
            while not app.alg.done():
                yield Progress(s * self.iterations + i, n * self.iterations, f"slice {s + 1}/{n}")
                app._pre_update()
                app.alg.update()
                app._post_update()
                i += 1
            out[s] = sp.to_device(app._output(), sp.cpu_device) * scale[s]
        x = torch.from_numpy(out) * physics.support(torch.from_numpy(problem.sens))
        return to_output(self, x, problem)


@register("cs-l1")
class L1Wavelet(_SigpyCS):
    """``shifts=True`` (the default since 2026-12-03; ``False``: sigpy's ``L1WaveletRecon`` as it
    is, GUIDE §10's sigpy column): the wavelet prox of every iteration applied to the image
    circularly shifted by a random offset (0 to 2^levels - 1 pixels per axis, seeded per slice),
    then shifted back, as BART's ``pics -l1`` does: over the iterations the shifts average out the
    blocky artefacts of a wavelet basis that is not shift invariant. The same problem and solver
    (sigpy's accelerated proximal gradient) otherwise."""

    description = "compressed sensing, L1-wavelet (db4, random shifts), sigpy, 100 iterations"
    default_lam = 3e-3
    app_name = "L1WaveletRecon"

    def __init__(self, lam: float | None = None, iterations: int | None = None, shifts: bool = True):
        super().__init__(lam, iterations)
        self.shifts = bool(shifts)

    def _app(self, y, mps, weights, lam, device, slice_index: int):
        if not self.shifts:
            return super()._app(y, mps, weights, lam, device, slice_index)
        import sigpy as sp
        import sigpy.mri as mr

        # sigpy's L1WaveletRecon with the prox wrapped (its weights convention: y and A both
        # carry sqrt(weights); our weights are a 0/1 mask)
        A = mr.linop.Sense(mps, weights=weights)
        W = sp.linop.Wavelet(mps.shape[1:], wave_name="db4")
        proxg = _random_shift(sp.prox.UnitaryTransform(sp.prox.L1Reg(W.oshape, lam), W),
                              _levels(W), seed=slice_index)
        return sp.app.LinearLeastSquares(A, y * weights ** 0.5, proxg=proxg, max_iter=self.iterations,
                                         show_pbar=False)


@register("cs-tv")
class TotalVariation(_SigpyCS):
    description = "compressed sensing, total variation, sigpy, 100 iterations"
    default_lam = 1e-2
    app_name = "TotalVariationRecon"


def _levels(W) -> int:
    """The decomposition levels of a sigpy ``Wavelet`` linop (pywt's default for its shape)."""
    import pywt

    return pywt.dwt_max_level(min(W.ishape[-2:]), pywt.Wavelet(W.wave_name).dec_len)


def _random_shift(inner, levels: int, seed: int):
    """The sigpy prox ``inner`` applied to its input circularly shifted by a random offset per call
    (0 to 2^levels - 1 per axis; the same offsets for the same seed), the result shifted back."""
    import sigpy as sp

    class RandomShift(sp.prox.Prox):
        def __init__(self):
            self.rng = np.random.default_rng(seed)
            self.period = 2 ** max(levels, 0)
            super().__init__(inner.shape)

        def _prox(self, alpha, input):
            xp = sp.get_device(input).xp
            shift = tuple(int(v) for v in self.rng.integers(0, self.period, 2))
            out = inner(alpha, xp.roll(input, shift, axis=(-2, -1)))
            return xp.roll(out, (-shift[0], -shift[1]), axis=(-2, -1))

    return RandomShift()
