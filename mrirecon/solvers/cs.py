"""Compressed sensing baselines in torch: L1-wavelet (``cs-l1``) and total variation (``cs-tv``).

Both solve ``min_x 1/2 ||M F S x - y||^2 + lam R(x)`` per slice. The regularisation weight is
*relative to the data scale*: ``lam = lam_rel * s`` with ``s`` the 99th percentile of the
zero-filled SENSE image ``|A^H y|``, so results do not depend on the file's intensity units.
The defaults (``lam_rel``) were chosen by a sweep on the shared real T2 scan and the simulated
samples (see benchmarks/cs_lambda.py). ``cs-l1`` shifts the image by a random offset before each
wavelet prox, as BART does (``L1Wavelet``; shared real scan, project masks, λ 3e-3: equispaced 4x
0.9072/32.86 -> 0.9321/33.92, equispaced 8x 0.7172/25.52 -> 0.7880/26.72, gaussian2d 8x
0.9339/34.84 -> 0.9454/35.91). It runs FISTA on the shared physics with ``mrirecon.wavelets`` in
torch, on the problem's device (CPU or CUDA), slices in batches; ``backend="sigpy"`` runs the same
problem through sigpy (the same SSIM / PSNR on the real slice at 5-6x the time on the 2-core CPU,
``benchmarks/cs_backends.py``); ``cs-tv`` likewise (PDHG, as sigpy's ``TotalVariationRecon``).
The sigpy backend runs on the GPU through cupy when it is installed and the problem's device is
CUDA, on the CPU otherwise.

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
from ..errors import InputError
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


class _CS(Method):
    """A CS problem solved in torch (``backend="torch"``, the default: ``_steps`` on the shared
    physics, slices in batches) or by its sigpy app (``backend="sigpy"``, one slice at a time)."""

    default_lam = 0.0
    iterations = 100
    app_name = ""  # the sigpy.mri.app class
    BACKENDS = ("torch", "sigpy")

    def __init__(self, lam: float | None = None, iterations: int | None = None, backend: str = "torch",
                 batch_size: int = 8):
        self.lam = self.default_lam if lam is None else float(lam)
        if iterations is not None:
            self.iterations = int(iterations)
        if self.iterations < 1:
            raise InputError(f"iterations must be >= 1, got {self.iterations}", "iterations")
        if backend not in self.BACKENDS:
            raise InputError(f"backend must be one of {', '.join(self.BACKENDS)}, got {backend!r}", "backend")
        self.backend, self.batch_size = backend, max(1, int(batch_size))

    def iterate(self, problem: Problem):
        if self.backend == "sigpy":
            return (yield from self._sigpy(problem))
        return (yield from self._torch(problem))

    def _steps(self, op, data):  # pragma: no cover - interface
        """A generator of the estimates, one per iteration, for ``physics.Sense`` ``op`` and frame
        k-space ``data`` scaled to the unit of ``lam``."""
        raise NotImplementedError

    def _torch(self, problem: Problem):
        import torch

        from .. import physics

        y, sens, mask = torch_problem(problem)
        scale = torch.from_numpy(data_scale(problem)).to(y.device, torch.float32)
        n = y.shape[0]
        batches = range(0, n, self.batch_size)
        total = len(batches) * self.iterations
        out = torch.empty((n, *y.shape[-2:]), dtype=y.dtype, device=y.device)
        for b, start in enumerate(batches):
            sl = slice(start, min(start + self.batch_size, n))
            with torch.inference_mode():
                op = physics.Sense(sens[sl], mask)
                data = op.to_frame(y[sl]) / scale[sl, None, None, None]
            steps = self._steps(op, data)
            for i in range(self.iterations):
                yield Progress(b * self.iterations + i, total, f"slices {sl.start + 1}-{sl.stop}/{n}")
                x = next(steps)
            out[sl] = x * scale[sl, None, None]
        return to_output(self, out * physics.support(sens), problem)

    def _app(self, y, mps, weights, lam, device, slice_index: int):
        import sigpy.mri as mr

        return getattr(mr.app, self.app_name)(y, mps, lam, weights=weights, device=device,
                                              max_iter=self.iterations, show_pbar=False)

    def _sigpy(self, problem: Problem):
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
class L1Wavelet(_CS):
    """L1-wavelet CS by accelerated proximal gradient (FISTA): ``x <- prox(z - alpha A^H (A z - y))``
    with momentum, ``alpha = 1 / ||A^H A||`` (power iteration), from zero, ``iterations`` steps.

    ``backend="torch"`` (the default since 2026-12-03): the shared physics (``physics.Sense``) and
    the wavelets of ``mrirecon.wavelets`` (db4, zero-extended, as sigpy's) in torch, slices in
    batches, on the problem's device. ``shifts=True`` (the default): every iteration's wavelet prox
    is applied to the image circularly shifted by a random offset (0 to 2^levels - 1 pixels per axis;
    the same sequence for every slice and run) and shifted back, as BART's ``pics -l1`` does: over
    the iterations the shifts average out the blocky artefacts of a wavelet basis that is not shift
    invariant. ``backend="sigpy"``: the same problem through sigpy (with ``shifts=False`` sigpy's
    ``L1WaveletRecon`` as it is, GUIDE §10's sigpy column; the default until 2026-12-03), the same
    SSIM / PSNR at 5-9x the time on the 2-core CPU (``benchmarks/cs_backends.py``)."""

    description = "compressed sensing, L1-wavelet (db4, random shifts), FISTA in torch, 100 iterations"
    default_lam = 3e-3
    app_name = "L1WaveletRecon"

    def __init__(self, lam: float | None = None, iterations: int | None = None, shifts: bool = True,
                 backend: str = "torch", wavelet: str = "db4", batch_size: int = 8):
        super().__init__(lam, iterations, backend, batch_size)
        self.shifts, self.wavelet = bool(shifts), wavelet

    def _steps(self, op, data):
        return fista_l1_wavelet(op, data, self.lam, self.iterations, self.shifts, self.wavelet)

    def _app(self, y, mps, weights, lam, device, slice_index: int):
        if not self.shifts:
            return super()._app(y, mps, weights, lam, device, slice_index)
        import sigpy as sp
        import sigpy.mri as mr

        # sigpy's L1WaveletRecon with the prox wrapped (its weights convention: y and A both
        # carry sqrt(weights); our weights are a 0/1 mask)
        A = mr.linop.Sense(mps, weights=weights)
        W = sp.linop.Wavelet(mps.shape[1:], wave_name=self.wavelet)
        proxg = _random_shift(sp.prox.UnitaryTransform(sp.prox.L1Reg(W.oshape, lam), W),
                              _levels(W), seed=slice_index)
        return sp.app.LinearLeastSquares(A, y * weights ** 0.5, proxg=proxg, max_iter=self.iterations,
                                         show_pbar=False)


@register("cs-tv")
class TotalVariation(_CS):
    """Anisotropic total variation (circular finite differences along H and W, the complex
    magnitude of each) by primal-dual hybrid gradient (Chambolle-Pock), as sigpy's
    ``TotalVariationRecon``: ``tau = 1 / ||A^H A + G^H G||``, ``sigma = 1``, extrapolation 1, from
    zero. ``backend="torch"`` (the default since 2026-12-03) on the shared physics, slices in
    batches; ``backend="sigpy"`` that app itself (``benchmarks/cs_backends.py``)."""

    description = "compressed sensing, total variation, primal-dual in torch, 100 iterations"
    default_lam = 1e-2
    app_name = "TotalVariationRecon"

    def _steps(self, op, data):
        return pdhg_tv(op, data, self.lam, self.iterations)


def fista_l1_wavelet(op, data, lam: float, iterations: int, shifts: bool = True, wavelet: str = "db4",
                     mode: str = "zero"):
    """FISTA for ``min_x 1/2 ||A x - y||^2 + lam ||W x||_1``, ``A = op`` (``physics.Sense``), ``y =
    data`` in the operator's frame, from ``x = 0``, step ``1 / max eig(A^H A)`` (power iteration): a
    generator of the estimates (B, H, W), one per iteration, computed in inference mode
    (``physics.l1_wavelet_fista``, which the learned methods' final sparse step shares).
    ``shifts``: each prox on a randomly shifted wavelet grid (the same sequence every call, so
    batching slices together changes nothing). ``wavelet``, ``mode``: ``mrirecon.wavelets``
    (``"zero"``, the default, as sigpy; ``"periodization"``: orthonormal, the exact prox)."""
    import torch

    from .. import physics

    with torch.inference_mode():
        step = (1 / _max_eig(op.normal, op.adjoint(data)))[:, None, None]
        steps = physics.l1_wavelet_fista(op, data, lam, step, iterations, shifts, wavelet, mode)
    for _ in range(iterations):
        with torch.inference_mode():
            x = next(steps)
        yield x


def _grad(x):
    """Circular finite differences ``(x - x shifted by one)`` along H and W: (2, B, H, W)."""
    import torch

    return torch.stack([x - torch.roll(x, 1, -2), x - torch.roll(x, 1, -1)])


def _grad_adjoint(d):
    import torch

    return (d[0] - torch.roll(d[0], -1, -2)) + (d[1] - torch.roll(d[1], -1, -1))


def pdhg_tv(op, data, lam: float, iterations: int):
    """Primal-dual hybrid gradient for ``min_x 1/2 ||A x - y||^2 + lam ||G x||_1`` (``G``: circular
    finite differences, anisotropic, complex magnitudes), ``A = op``, ``y = data`` in its frame, from
    zero: a generator of the estimates (B, H, W), one per iteration. The dual of the data term has
    the prox ``(u - sigma y) / (1 + sigma)``, the dual of the TV term is projected onto ``|u| <= lam``."""
    import torch

    with torch.inference_mode():
        aty = op.adjoint(data)
        tau = (1 / _max_eig(lambda v: op.normal(v) + _grad_adjoint(_grad(v)), aty))[:, None, None]
        sigma = 1.0
        x = torch.zeros_like(aty)
        extrapolated = x
        dual_data = torch.zeros_like(data)
        dual_tv = _grad(x)
    for _ in range(iterations):
        with torch.inference_mode():
            dual_data = (dual_data + sigma * op.forward(extrapolated) - sigma * data) / (1 + sigma)
            dual_tv = dual_tv + sigma * _grad(extrapolated)
            dual_tv = dual_tv * torch.clamp(lam / dual_tv.abs().clamp_min(1e-30), max=1)
            previous = x
            x = x - tau * (op.adjoint(dual_data) + _grad_adjoint(dual_tv))
            extrapolated = 2 * x - previous
        yield x


def _max_eig(normal, like, iterations: int = 30):
    """Per-slice largest eigenvalue of the operator ``normal`` (``A^H A``, or with a regulariser's
    ``G^H G``) by power iteration from a seeded random start (repeatable; ~1 for ``A^H A`` with maps
    of unit RSS and a mask with its centre)."""
    import torch

    g = torch.Generator().manual_seed(0)  # one start for every slice: batching changes nothing
    v = torch.randn((1, *like.shape[1:]), dtype=like.dtype, generator=g).to(like.device).expand_as(like)
    norm = torch.ones(like.shape[0], device=like.device)
    for _ in range(iterations):
        v = normal(v)
        norm = v.flatten(1).norm(dim=1).clamp_min(1e-30)
        v = v / norm[:, None, None]
    return norm


def _levels(W) -> int:
    """The decomposition levels of a sigpy ``Wavelet`` linop (pywt's default for its shape)."""
    from .. import wavelets

    return wavelets.levels_for(tuple(W.ishape[-2:]), W.wave_name)


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
