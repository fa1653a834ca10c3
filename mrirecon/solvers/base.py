"""The interface every reconstruction method implements.

A method gets a :class:`Problem` (masked k-space of a stack of slices, the mask, sensitivity maps,
the noise level) and returns magnitude images on the RSS scale of its input. ``iterate`` is a
generator that yields :class:`Progress` between steps (so a GUI can show progress and cancel) and
returns the result; ``run`` drains it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


@dataclass
class Problem:
    kspace: np.ndarray  # (S, C, H, W) complex64, zero where not sampled
    mask: np.ndarray  # (H, W) bool
    sens: np.ndarray | None  # (S, C, H, W) complex64, RSS-normalised, or None
    noise_var: float = 0.0  # complex noise variance per k-space sample (coils.noise_variance)
    device: str = "cpu"  # "cpu" or "cuda[:N]"
    acquired_coils: int = 0  # the acquisition's coils when ``kspace`` holds fewer virtual ones (0: the same)

    @property
    def n_coils(self) -> int:
        """The coils whose RSS sets the outputs' scale and noise floor (``coils.rss_floor``): the
        acquisition's, also after coil compression."""
        return self.acquired_coils or self.kspace.shape[-3]


@dataclass
class Progress:
    step: int
    total: int
    message: str = ""


def drain(gen, on_item=None):
    """Run a generator to its end, passing every yielded item to ``on_item``; its return value."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_item is not None:
            on_item(item)


class Method:
    """Base class: subclasses set ``name``/``description`` and implement ``iterate``."""

    name: str = ""
    description: str = ""
    learned: bool = False
    needs_sens: bool = True
    # after a run, SENSE-type methods leave their complex image estimate (S, H, W) here, on the
    # input's scale: what a data-consistency residual needs (the output is a magnitude)
    estimate = None

    def iterate(self, problem: Problem) -> Iterator[Progress]:  # pragma: no cover - interface
        raise NotImplementedError
        yield

    def run(self, problem: Problem) -> np.ndarray:
        return drain(self.iterate(problem))

    def __repr__(self) -> str:
        return f"<method {self.name}>"
