"""The learned methods by name, with their typed configs, and the wrapper that makes a network a
reconstructor: it normalises the data (99th percentile of the zero-filled SENSE image), runs the
network step by step and returns magnitudes on the input's RSS scale (noise floor included, see
``coils.rss_floor``)."""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

import torch
from torch import nn

from ..coils import rss_floor
from .common import data_scale
from .rim import RIM, RIMConfig
from .varnet import RecurrentVarNet, VarNetConfig

ARCHITECTURES = {"rim": (RIMConfig, RIM), "recurrentvarnet": (VarNetConfig, RecurrentVarNet)}

# method name -> (architecture, default config)
MODELS = {
    "rim": ("rim", RIMConfig(cell="gru")),
    "rim-mgu": ("rim", RIMConfig(cell="mgu")),
    "irim": ("rim", RIMConfig(cell="indrnn")),
    "cirim": ("rim", RIMConfig(cell="indrnn", cascades=5, steps=8)),
    "recurrentvarnet": ("recurrentvarnet", VarNetConfig(init_cg=8)),  # SENSE start (VarNetConfig's 0: A^H y)
}


def default_config(name: str):
    return dataclasses.replace(MODELS[name][1])


def config_from_dict(arch: str, values: dict):
    cls = ARCHITECTURES[arch][0]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {arch} config keys: {', '.join(sorted(unknown))}")
    return cls(**values)


class Reconstructor(nn.Module):
    def __init__(self, name: str, config=None):
        super().__init__()
        if name not in MODELS:
            raise ValueError(f"unknown learned method {name!r}")
        self.name = name
        self.arch = MODELS[name][0]
        self.config = config if config is not None else default_config(name)
        self.net = ARCHITECTURES[self.arch][1](self.config)

    @property
    def total_steps(self) -> int:
        return self.net.total_steps

    def compute_in(self, dtype: torch.dtype) -> "Reconstructor":
        """Cast the convolutional parts (weights, hence activations and recurrent states) to
        ``dtype`` for inference, in place; physics, data consistency and the running estimate stay
        in float32. bfloat16 halves the memory traffic of every elementwise step and uses the CPU's
        or GPU's bf16 units without autocast's per-call casts (``benchmarks/inference_precision.py``)."""
        for part in self.net.COMPUTE:
            getattr(self.net, part).to(dtype)
        return self

    def quantize_int8(self) -> "Reconstructor":
        """Replace the convolutions of the convolutional parts by int8 ones for CPU inference, in
        place (``mrirecon.nn.int8``: int8 weights, inputs quantized per call, float32 outputs); the
        cells' arithmetic, physics, data consistency and the running estimate stay float32."""
        from . import int8

        for part in self.net.COMPUTE:
            int8.quantize_convs(getattr(self.net, part))
        return self.eval()

    def estimates(self, y, mask, sens, noise_var=None, n_coils: int | None = None
                  ) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor], Iterator[torch.Tensor]]:
        """(scale (B,), ``magnitude``, generator of the complex estimates / scale after each step);
        ``magnitude(x)`` is one estimate's magnitude / scale with the RSS noise floor. Inference
        that keeps only the last step (``solvers.Learned``) takes the magnitude of that one alone
        (with the rescaled complex estimate, 0.4 ms per intermediate step at 256² on 2 threads).
        ``n_coils``: the coils of the RSS scale's noise floor (default: ``y``'s; more after coil
        compression)."""
        scale = data_scale(y, sens, mask)
        yn = y / scale.view(-1, 1, 1, 1)
        nv = None if noise_var is None else noise_var / scale ** 2
        n_coils = n_coils or y.shape[-3]

        def magnitude(x):
            return x.abs() if nv is None else rss_floor(x, nv, n_coils)

        return scale, magnitude, self.net.steps(yn, mask, sens, nv)

    def normalised_steps(self, y, mask, sens, noise_var=None, n_coils: int | None = None
                         ) -> tuple[torch.Tensor, Iterator[torch.Tensor]]:
        """(scale (B,), generator of magnitudes / scale after each step): what training's loss
        over the steps needs (:meth:`estimates`)."""
        scale, magnitude, steps = self.estimates(y, mask, sens, noise_var, n_coils)
        return scale, (magnitude(x) for x in steps)

    def iterate(self, y, mask, sens, noise_var=None, n_coils: int | None = None) -> Iterator[torch.Tensor]:
        """Magnitude ``(B, H, W)`` on the input's scale after every step."""
        scale, gen = self.normalised_steps(y, mask, sens, noise_var, n_coils)
        for m in gen:
            yield m * scale.view(-1, 1, 1)

    def forward(self, y, mask, sens, noise_var=None) -> torch.Tensor:
        out = None
        for out in self.iterate(y, mask, sens, noise_var):
            pass
        return out
