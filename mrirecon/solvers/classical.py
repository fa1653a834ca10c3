"""Direct and linear reconstructions: zero-filled RSS and CG-SENSE."""
from __future__ import annotations

import numpy as np

from .. import coils
from ..fft import ifft2c
from . import register
from .base import Method, Problem, Progress

# torch (and the physics built on it) is imported when a method runs: listing the registry stays
# light for the GUI.


def torch_problem(problem: Problem):
    """Tensors ``(y, sens, mask)`` of a problem on its device."""
    import torch

    dev = torch.device(problem.device)
    y = torch.from_numpy(problem.kspace).to(dev)
    sens = torch.from_numpy(problem.sens).to(dev)
    mask = torch.from_numpy(problem.mask).to(dev)
    return y, sens, mask


def to_output(method: Method, x, problem: Problem) -> np.ndarray:
    """Complex SENSE image (torch) -> float32 magnitude on the RSS scale (noise floor included);
    the complex estimate is kept on the method (``Method.estimate``)."""
    import torch

    method.estimate = x.detach().to(torch.complex64).cpu().numpy()
    return coils.rss_floor(x, problem.noise_var, problem.n_coils).float().cpu().numpy()


@register("zero-filled")
class ZeroFilled(Method):
    description = "RSS of the zero-filled coil images (the baseline)"
    needs_sens = False

    def iterate(self, problem: Problem):
        yield Progress(0, 1, "inverse FFT")
        image = coils.rss(ifft2c(problem.kspace))
        dropped = problem.n_coils - problem.kspace.shape[-3]  # compressed: put back the dropped coils'
        if dropped > 0:  # noise power (per pixel of a zero-filled coil image: its variance x the sampled share)
            image = np.sqrt(image ** 2 + dropped * problem.noise_var * problem.mask.mean())
        return image.astype(np.float32)


@register("sense")
class CGSense(Method):
    """Least-squares SENSE, ``min ||A x - y||^2 + lam ||x||^2``, by conjugate gradients.

    CG is stopped early (6 iterations by default): at 4x the noise amplification grows with every
    further iteration (shared real scan, equispaced 4x, cropped ESPIRiT maps: SSIM 0.824 at 6 and
    10 iterations, 0.770 at 20, 0.715 at 40; with uncropped maps 0.71 at 5 and 0.60 at 20).
    """

    description = "CG-SENSE (least squares, Tikhonov 1e-3, early-stopped CG: 6 iterations)"

    def __init__(self, iterations: int = 6, lam: float = 1e-3, tol: float = 1e-6):
        self.iterations, self.lam, self.tol = iterations, lam, tol

    def iterate(self, problem: Problem):
        import torch

        from .. import physics

        y, sens, mask = torch_problem(problem)
        with torch.inference_mode():
            x = torch.zeros(y.shape[:-3] + y.shape[-2:], dtype=y.dtype, device=y.device)
            yield Progress(0, self.iterations, "CG")
            for i, x in enumerate(physics.tikhonov_cg(y, sens, mask, self.lam, iterations=self.iterations,
                                                      tol=self.tol)):
                if i + 1 < self.iterations:
                    yield Progress(i + 1, self.iterations, "CG")
        return to_output(self, x, problem)
