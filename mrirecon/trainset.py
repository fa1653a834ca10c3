"""Training and validation data for the learned solvers, simulated on the fly.

Training follows the seed's protocol: **T1-weighted brain only**; every sample is a new simulated
subject (random deformation, bias field, tissue jitter), with a random coil count, SNR, crop,
mask kind and acceleration. Sample ``i`` depends only on ``(seed, i)``, so a resumed run sees
exactly the data it would have seen (bit-for-bit resume) and ranks of a distributed run take
disjoint indices. Sensitivities come from the same estimator used at test time (ESPIRiT,
uncropped; GUIDE §9).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from . import coils, masks
from .fft import fft2c, ifft2c
from .simulate import SimConfig, simulate


@dataclass
class DataConfig:
    contrast: str = "t1w"
    size: int = 256  # simulated matrix
    crop: int = 128  # square training patch in image space (0: whole image)
    coils: tuple[int, int] = (4, 16)
    accelerations: tuple[float, float] = (4.0, 10.0)
    mask_kinds: tuple[str, ...] = masks.KINDS
    snr: tuple[float, float] = (15.0, 60.0)
    lesions: tuple[int, int] = (0, 0)
    estimator: str = "espirit"
    seed: int = 0
    coil_group: int = 1  # consecutive samples sharing a coil count (= batch size, so batches stack)
    reuse: int = 1  # consecutive samples drawn (other crop, mask) from one simulated subject
    # field of view (mm) per subject, uniform in the range: below 240 the head fills more of the
    # image, as in tight clinical FOVs (the shared real scan: the head spans its whole height)
    fov_mm: tuple[float, float] = (240.0, 240.0)
    sharpen: tuple[float, float] = (0.0, 0.0)  # SimConfig.sharpen per subject, uniform in the range
    coil_phase: tuple[float, float] = (0.0, 0.0)  # SimConfig.coil_phase (rad) per subject, uniform
    scalp: tuple[str, ...] = ("bands",)  # SimConfig.scalp per subject, drawn uniformly from these


@dataclass
class Sample:
    kspace: np.ndarray  # (C, h, w) complex64, masked
    mask: np.ndarray  # (h, w) bool
    sens: np.ndarray  # (C, h, w) complex64
    target: np.ndarray  # (h, w) float32, RSS of the fully sampled noisy patch
    noise_var: float
    info: dict = field(default_factory=dict)


def make_sample(cfg: DataConfig, index: int, contrast: str | None = None, crop: int | None = None,
                n_coils: int | None = None, mask_kind: str | None = None,
                acceleration: float | None = None) -> Sample:
    """Sample ``index`` of the stream ``cfg`` (keyword overrides fix one factor, for validation)."""
    rng = np.random.default_rng([cfg.seed, index])
    reuse = max(cfg.reuse, 1)
    group_rng = np.random.default_rng([cfg.seed, index // max(cfg.coil_group, reuse, 1), 1])
    c = n_coils or int(group_rng.integers(cfg.coils[0], cfg.coils[1] + 1))
    sub = subject(cfg, index // reuse)
    sim = SimConfig(contrast=contrast or cfg.contrast, size=cfg.size, coils=c, slices=1, lesions=sub.lesions,
                    seed=sub.seed, snr=sub.snr, fov_mm=sub.fov_mm, sharpen=sub.sharpen, coil_phase=sub.coil_phase,
                    scalp=sub.scalp)
    acq = _simulate_cached(sim)
    images = ifft2c(acq.kspace[0])  # noisy coil images (C, S, S)
    crop = cfg.crop if crop is None else crop
    if crop and crop < cfg.size:
        top, left = (int(v) for v in rng.integers(cfg.size // 8, cfg.size - crop - cfg.size // 8 + 1, 2))
        images = images[:, top:top + crop, left:left + crop]
    k_full = fft2c(images).astype(np.complex64)
    kind = mask_kind or str(rng.choice(cfg.mask_kinds))
    accel = acceleration or float(rng.uniform(*cfg.accelerations))
    mask = masks.create(kind, k_full.shape[-2:], accel, seed=int(rng.integers(2 ** 31)))
    k = (k_full * mask).astype(np.complex64)
    sens = coils.estimate(k, mask, cfg.estimator)
    return Sample(kspace=k, mask=mask, sens=sens, target=coils.rss(images).astype(np.float32),
                  noise_var=coils.noise_variance(k, mask),
                  info={"coils": c, "mask": kind, "acceleration": accel, **sub._asdict()})


class Subject(NamedTuple):
    """The draws of one simulated subject of a stream (see :func:`subject`)."""
    lesions: int
    seed: int  # the simulator's
    snr: float
    fov_mm: float
    sharpen: float
    coil_phase: float
    scalp: str


def subject(cfg: DataConfig, k: int) -> Subject:
    """Simulated subject ``k`` of the stream. The ranged factors added later (FOV, sharpening, coil
    phase, scalp) each draw from a stream of their own, so a fixed value leaves the other draws as they were."""
    rng = np.random.default_rng([cfg.seed, k, 2])
    lesions = int(rng.integers(cfg.lesions[0], cfg.lesions[1] + 1))
    seed, snr = int(rng.integers(2 ** 31)), float(rng.uniform(*cfg.snr))

    def ranged(bounds, stream):
        lo, hi = bounds
        return lo if lo == hi else float(np.random.default_rng([cfg.seed, k, stream]).uniform(lo, hi))

    scalp = str(np.random.default_rng([cfg.seed, k, 6]).choice(cfg.scalp))
    return Subject(lesions, seed, snr, ranged(cfg.fov_mm, 3), ranged(cfg.sharpen, 4), ranged(cfg.coil_phase, 5),
                   scalp)


_LAST: dict = {}


def _simulate_cached(sim: SimConfig):
    """The last simulated subject of this process is kept for the samples that reuse it."""
    key = repr(sim)
    if key not in _LAST:
        _LAST.clear()
        _LAST[key] = simulate(sim)
    return _LAST[key]


class SimulatedSlices(torch.utils.data.Dataset):
    """Map-style view of the infinite stream: item ``i`` is sample ``i``."""

    def __init__(self, cfg: DataConfig, length: int = 2 ** 40):
        self.cfg, self.length = cfg, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        s = make_sample(self.cfg, int(index))
        return {"kspace": torch.from_numpy(s.kspace), "mask": torch.from_numpy(s.mask),
                "sens": torch.from_numpy(s.sens), "target": torch.from_numpy(s.target),
                "noise_var": torch.tensor(s.noise_var, dtype=torch.float32)}


class IndexStream(torch.utils.data.Sampler):
    """Indices ``start*world + rank, ... `` step ``world``: disjoint per rank, resumable."""

    def __init__(self, start: int, rank: int = 0, world: int = 1, stop: int = 2 ** 40):
        self.start, self.rank, self.world, self.stop = start, rank, world, stop

    def __iter__(self):
        return iter(range(self.start * self.world + self.rank, self.stop, self.world))

    def __len__(self) -> int:
        return max(0, (self.stop - self.start * self.world - self.rank) // self.world)


def collate(items: list[dict]) -> dict:
    """Stack samples (a batch shares its coil count, see ``DataConfig.coil_group``)."""
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
