"""The learned methods in the registry: trained networks loaded from ``models/``."""
from __future__ import annotations

import numpy as np

from .. import weights
from ..errors import InputError
from . import register
from .base import Method, Problem, Progress

# name -> description; the networks (torch) are imported when one is loaded. Kept equal to
# mrirecon.nn.model.MODELS (tested).
LEARNED = {
    "rim": "learned: RIM with ConvGRU cells (8 steps, 64 channels)",
    "rim-mgu": "learned: RIM with minimal gated units (8 steps, 64 channels)",
    "irim": "learned: IRIM, RIM with IndRNN cells (8 steps, 64 channels)",
    "cirim": "learned: CIRIM, 5 cascades of IRIMs x 8 steps, implicit data consistency",
    "recurrentvarnet": "learned: RecurrentVarNet, 8 recurrent k-space steps from a SENSE image",
}

_CACHE: dict = {}
# bf16: the convolutional blocks in bfloat16 (Reconstructor.compute_in); int8: the convolutions in int8,
# CPU only (Reconstructor.quantize_int8)
PRECISIONS = ("fp32", "bf16", "int8")


class Learned(Method):
    learned = True
    net_name = ""

    def __init__(self, models_dir=None, precision: str = "fp32", batch_size: int = 4):
        if precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}", "precision")
        self.models_dir, self.precision, self.batch_size = models_dir, precision, batch_size

    def model(self, device: str):
        # keyed on the weights file's version: retrained or updated weights are loaded anew in a
        # long-lived process (the GUI, a batch after `train`); a missing file: weights.load raises
        version = weights.version(self.net_name, self.models_dir)
        key = (self.net_name, version, device, self.precision)
        if key not in _CACHE:
            if self.precision == "int8" and device != "cpu":
                raise InputError(f"int8 inference runs on the CPU, not {device}: use {self.net_name}-bf16 "
                                 f"or {self.net_name} there", "precision")
            net = weights.load(self.net_name, self.models_dir, device)[0]
            if self.precision == "bf16":
                import torch

                net.compute_in(torch.bfloat16)
            elif self.precision == "int8":
                from ..nn import int8

                if not int8.available():
                    raise InputError("int8 inference needs PyTorch's oneDNN int8 convolution (an x86 CPU build)",
                                     "precision")
                net.quantize_int8()
            for stale in [k for k in _CACHE if k[1][0] == version[0] and k[2:] == key[2:]]:
                del _CACHE[stale]  # the same file's earlier contents (loaded: its version is not None)
            _CACHE[key] = net
        return _CACHE[key]

    def iterate(self, problem: Problem):
        import torch

        device = "cpu" if self.precision == "int8" else problem.device  # int8 is a CPU variant, on any machine
        model = self.model(device)
        dev = torch.device(device)
        n = problem.kspace.shape[0]
        steps = model.total_steps
        batches = range(0, n, self.batch_size)
        out = np.empty((n, *problem.kspace.shape[-2:]), np.float32)
        estimate = np.empty(out.shape, np.complex64)
        mask = torch.from_numpy(problem.mask).to(dev)
        for b, start in enumerate(batches):
            sl = slice(start, min(start + self.batch_size, n))
            with torch.inference_mode():
                y = torch.from_numpy(problem.kspace[sl]).to(dev)
                sens = torch.from_numpy(problem.sens[sl]).to(dev)
                nv = torch.full((y.shape[0],), problem.noise_var, device=dev)
                scale, magnitude, gen = model.estimates(y, mask, sens, nv, problem.n_coils)
                for t, x in enumerate(gen):
                    yield Progress(b * steps + t, len(batches) * steps, f"slices {sl.start + 1}-{sl.stop}/{n}")
                scale = scale.view(-1, 1, 1)  # the last step's magnitude only, on the input's scale
                out[sl] = (magnitude(x) * scale).float().cpu().numpy()
                estimate[sl] = (x * scale).to(torch.complex64).cpu().numpy()
        self.estimate = estimate
        return out


def _make(name: str, description: str):
    cls = type(f"Learned_{name.replace('-', '_')}", (Learned,), {"net_name": name, "description": description})
    register(name)(cls)


for _name, _text in LEARNED.items():
    _make(_name, _text)
