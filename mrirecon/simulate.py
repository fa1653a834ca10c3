"""Simulated multi-coil brain acquisitions in the fastMRI layout.

Tissue fractions from real anatomy (:mod:`mrirecon.anatomy`) -> a tissue-based T1w, T2w or FLAIR
contrast with per-tissue intensity jitter, fine anatomical texture and a smooth bias field ->
optional white-matter lesions (hypointense on T1w, hyperintense on T2w/FLAIR) -> smooth random
phase -> birdcage coil sensitivities with random variation (and, with ``coil_phase``, a smooth
phase field per coil) -> centred orthonormal FFT -> complex Gaussian noise at a chosen SNR ->
k-space quantised like a digitiser (see ``quantise``). The reference ``reconstruction_rss`` is the
RSS of the noisy, fully sampled coil images, as in fastMRI. Every draw comes from generators
seeded by ``seed``: same arguments, same file, bit for bit.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from . import __version__, anatomy
from .coils import rss
from .errors import InputError
from .fft import fft2c, ifft2c

CONTRASTS = ("t1w", "t2w", "flair")
ACQUISITION = {"t1w": "AXT1", "t2w": "AXT2", "flair": "AXFLAIR"}
# relative signal of grey matter, white matter, CSF, lesion, and a factor on the T1 template's
# non-brain tissue (skull, scalp, fat)
TISSUE = {
    "t1w": {"gm": 0.62, "wm": 0.95, "csf": 0.18, "lesion": 0.55, "scalp": 0.9, "skull": 0.04, "detail": 1.0},
    "t2w": {"gm": 0.62, "wm": 0.42, "csf": 1.0, "lesion": 0.85, "scalp": 0.75, "skull": 0.04, "detail": -0.8},
    "flair": {"gm": 0.72, "wm": 0.52, "csf": 0.07, "lesion": 1.0, "scalp": 0.7, "skull": 0.04, "detail": -0.6},
}
SCALPS = ("bands", "layers")  # SimConfig.scalp
TEXTURES = ("grass", "gravel", "brick", "moon", "camera", "cell", "coffee", "astronaut", "retina")


@dataclass
class SimConfig:
    contrast: str = "t1w"
    size: int = 256
    coils: int = 8
    slices: int = 4
    lesions: int = 0
    seed: int = 0
    snr: float = 30.0  # mean brain signal / noise std of a SENSE-combined image
    gap_mm: float = 5.0
    deform: bool = True
    fov_mm: float = 240.0  # square field of view; the head (about 165 x 200 mm with scalp) fills more of a smaller one
    # unsharp masking of the tissue maps (and as much more template texture): the MNI template is an
    # average of many brains, with 4-36x less power than a real scan at 0.35-1.0 of the k-space
    # radius; 2-3 brings that within 0.7-2x (benchmarks/sim_spectrum.py). 0: the template as it is
    sharpen: float = 0.0
    # peak (rad) of an extra smooth phase field per coil. Birdcage maps have little phase diversity
    # between coils, so SENSE unfolds them badly: at 4 coils and equispaced 4x their g-factor is 12-28
    # (mean over the head, per subject) against 5 for the maps of the shared real 4-coil scan, whose
    # phases differ by up to a wrap; 4 rad brings it to 5 (benchmarks/coil_geometry.py). 0: birdcage only
    coil_phase: float = 0.0
    # what lies between the brain and the air: "bands", one dark skull and one bright scalp band of
    # 4-8 mm with soft edges; "layers", the thin sharp layers of a real head (CSF, inner table,
    # diploe, outer table, muscle, fat, skin; see head_layers), whose aliases cost networks trained
    # on bands a fifth of their SSIM margin over CS at equispaced 4x (benchmarks/scalp_layers.py)
    scalp: str = "bands"

    def check(self) -> "SimConfig":
        if self.contrast not in CONTRASTS:
            raise InputError(f"unknown contrast {self.contrast!r}; choose one of {', '.join(CONTRASTS)}",
                             "simulate")
        for name, lo in (("size", 32), ("coils", 1), ("slices", 1), ("lesions", 0)):
            if int(getattr(self, name)) < lo:
                raise InputError(f"{name} must be >= {lo}, got {getattr(self, name)}", "simulate")
        if not self.snr > 0:
            raise InputError(f"snr must be > 0, got {self.snr}", "simulate")
        if not 150 <= self.fov_mm <= 400:
            raise InputError(f"fov_mm must be within 150-400 mm, got {self.fov_mm}", "simulate")
        if not 0 <= self.sharpen <= 10:
            raise InputError(f"sharpen must be within 0-10, got {self.sharpen}", "simulate")
        if not 0 <= self.coil_phase <= 2 * np.pi:
            raise InputError(f"coil_phase must be within 0-2pi rad, got {self.coil_phase}", "simulate")
        if self.scalp not in SCALPS:
            raise InputError(f"scalp must be one of {', '.join(SCALPS)}, got {self.scalp!r}", "simulate")
        return self


@dataclass
class Acquisition:
    kspace: np.ndarray  # (K, C, S, S) complex64
    target: np.ndarray  # (K, S, S) float32, RSS of the fully sampled noisy coil images
    lesion_mask: np.ndarray  # (K, S, S) uint8
    sens: np.ndarray  # (K, C, S, S) complex64, the true coil sensitivities
    image: np.ndarray  # (K, S, S) complex64, the noiseless object (with phase)
    noise_std: float  # complex noise std per k-space sample
    attrs: dict


def simulate(cfg: SimConfig) -> Acquisition:
    """One simulated volume (K slices) for ``cfg``."""
    cfg.check()
    rng = np.random.default_rng(cfg.seed)
    slab = anatomy.slab(cfg.slices, cfg.size, rng, gap_mm=cfg.gap_mm, fov_mm=cfg.fov_mm, lesions=cfg.lesions,
                        deform=cfg.deform)
    # the layers draw from a stream of their own, so that the rest of a subject is the same either way
    magnitude = contrast_image(slab, cfg.contrast, rng, cfg.sharpen, cfg.scalp, np.random.default_rng([cfg.seed, 9]))
    image = (magnitude * np.exp(1j * smooth_phase(magnitude.shape, rng))).astype(np.complex64)
    sens = coil_maps(cfg.coils, cfg.size, rng, cfg.coil_phase, np.random.default_rng([cfg.seed, 7]))
    sens = sens[None].repeat(cfg.slices, 0)
    coil_images = sens * image[:, None]
    brain = (slab.channels["gm"] + slab.channels["wm"]) > 0.5
    signal = float(np.abs(image)[brain].mean()) if brain.any() else float(np.abs(image).mean())
    sens_rss = float(rss(sens).mean())
    noise_std = signal * sens_rss / cfg.snr
    k = fft2c(coil_images)
    noise = rng.standard_normal((2, *k.shape), dtype=np.float32) * (noise_std / np.sqrt(2))
    k = quantise((k + noise[0] + 1j * noise[1]).astype(np.complex64), noise_std)
    target = rss(ifft2c(k)).astype(np.float32)
    attrs = {
        "max": float(target.max()), "norm": float(np.linalg.norm(target)),
        "acquisition": ACQUISITION[cfg.contrast], "patient_id": f"sim-{cfg.contrast}-{cfg.seed}",
        "simulator": f"mrirecon {__version__}", "sim_config": repr(asdict(cfg)),
        "slice_z_mm": np.asarray(slab.z_mm, np.float32), "voxel_mm": slab.voxel_mm,
        "noise_std": noise_std, "n_lesions": int(slab.lesions.max()),
    }
    return Acquisition(kspace=k, target=target, lesion_mask=slab.lesions, sens=sens.astype(np.complex64),
                       image=image, noise_std=noise_std, attrs=attrs)


SHARPEN_SIGMA = 1.5  # pixels: the scale of the unsharp masking (SimConfig.sharpen)


def contrast_image(slab: "anatomy.Slab", contrast: str, rng, sharpen: float = 0.0, scalp: str = "bands",
                   scalp_rng=None) -> np.ndarray:
    """Magnitude image (K, S, S) from tissue fractions, with jitter, skull and scalp, texture and
    bias field; ``sharpen`` > 0 sharpens the tissue boundaries (see ``SimConfig.sharpen``); ``scalp``
    (``SimConfig.scalp``) "layers" draws the head's layers with ``scalp_rng``."""
    ch = sharpened(slab.channels, sharpen) if sharpen else slab.channels
    tissue = {k: v * rng.uniform(0.9, 1.1) for k, v in TISSUE[contrast].items()}
    brain = ch["gm"] + ch["wm"]
    img = tissue["gm"] * ch["gm"] + tissue["wm"] * ch["wm"] + tissue["csf"] * ch["csf"]
    img = img + tissue["detail"] * ch["detail"] * brain
    bands = head_bands(ch["dist"], tissue, slab.voxel_mm, rng)  # drawn either way: same texture, bias field
    img = img + (head_layers(ch["dist"], tissue, slab.voxel_mm, scalp_rng) if scalp == "layers" else bands)
    lesion = slab.lesions > 0
    if lesion.any():
        soft = ndimage.gaussian_filter(lesion.astype(np.float32), (0, 0.6, 0.6))
        img = img * (1 - soft) + tissue["lesion"] * soft
    shape = img.shape[1:]
    texture = ndimage.gaussian_filter(rng.standard_normal(shape), 1.0)
    img = img * (1 + 0.03 * texture / max(texture.std(), 1e-9))
    img = img * (1 + rng.uniform(0.0, 0.08) * natural_texture(shape, rng) * np.clip(brain, 0, 1))
    return np.clip(img * bias_field(shape, rng), 0, None).astype(np.float32)


def sharpened(channels: dict, amount: float) -> dict:
    """Tissue fractions with unsharp-masked boundaries (clipped to [0, 1]) and ``1 + amount`` times
    the template's own fine texture; the other channels as they are."""
    out = dict(channels)
    blur = (0, SHARPEN_SIGMA, SHARPEN_SIGMA)
    for name in ("gm", "wm", "csf"):
        v = channels[name]
        out[name] = np.clip(v + amount * (v - ndimage.gaussian_filter(v, blur)), 0, 1)
    out["detail"] = channels["detail"] * (1 + amount)
    return out


def head_bands(dist: np.ndarray, tissue: dict, voxel_mm: float, rng) -> np.ndarray:
    """Skull (dark) and scalp (fat, bright) as bands at a distance outside the brain, with a
    thickness that varies smoothly around the head."""
    shape = dist.shape[1:]
    vary = 1 + 0.3 * anatomy.smooth_field(shape, rng, cells=4)
    inner = rng.uniform(1.5, 3.0)
    skull = rng.uniform(4.0, 7.0) * vary
    scalp = rng.uniform(4.0, 8.0) * vary
    edge = max(voxel_mm / 2, 0.5)

    def band(a, b):
        return 1 / (1 + np.exp(-(dist - a) / edge)) - 1 / (1 + np.exp(-(dist - b) / edge))

    return tissue["skull"] * band(inner, inner + skull) + tissue["scalp"] * band(inner + skull, inner + skull + scalp)


# the layers of a head from the brain's surface outward: (name, thickness range in mm, the tissue of
# TISSUE whose signal it takes, range of a random factor on that signal); each thickness also varies
# smoothly around the head (+-40 %)
HEAD_LAYERS = (
    ("csf", (1.0, 3.0), "csf", (1.0, 1.0)),  # subarachnoid CSF
    ("inner table", (0.8, 2.0), "skull", (1.0, 1.0)),
    ("diploe", (0.5, 4.0), "scalp", (0.3, 0.8)),  # fatty marrow between the tables
    ("outer table", (0.8, 2.0), "skull", (1.0, 1.0)),
    ("muscle", (0.5, 3.0), "scalp", (0.25, 0.55)),  # galea, temporal muscle
    ("fat", (2.0, 6.0), "scalp", (1.0, 1.0)),  # subcutaneous fat, the brightest layer
    ("skin", (0.8, 2.0), "scalp", (0.5, 0.8)),
)


def head_layers(dist: np.ndarray, tissue: dict, voxel_mm: float, rng) -> np.ndarray:
    """The layers of a real head (``HEAD_LAYERS``) at a distance ``dist`` (mm) outside the brain,
    with edges of a fifth of a pixel: on the shared real T2 scan they show as several thin, sharp
    rings, where ``head_bands`` draws one soft bright band. Their aliases are what a network trained on
    bands does not expect: on simulated T2w at equispaced 4x they cost ``rim`` 0.009 of its SSIM
    margin of 0.047 over ``cs-l1`` (benchmarks/scalp_layers.py)."""
    shape = dist.shape[1:]
    edge = 0.2 * voxel_mm

    def outside(a):
        return 1 / (1 + np.exp(-np.clip((dist - a) / edge, -50, 50)))

    out = np.zeros_like(dist)
    inner = 0.5  # dist is 0 in the brain and 1 one template voxel outside it
    for _, (lo, hi), base, (f_lo, f_hi) in HEAD_LAYERS:
        value = tissue[base] * rng.uniform(f_lo, f_hi)
        outer = inner + rng.uniform(lo, hi) * (1 + 0.4 * anatomy.smooth_field(shape, rng, cells=4))
        out += value * (outside(inner) - outside(outer))
        inner = outer
    return out * np.clip(dist, 0, 1)  # nothing in the brain (dist 0), whatever the edge width


def natural_texture(shape, rng) -> np.ndarray:
    """Fine texture (zero mean, unit std) from a random crop of one of the natural images that
    scikit-image ships (GUIDE §7): widens the training distribution beyond the smooth template."""
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.transform import resize

    img = getattr(skimage.data, TEXTURES[rng.integers(len(TEXTURES))])()
    img = rgb2gray(img) if img.ndim == 3 else img.astype(np.float64) / 255.0
    h, w = shape
    scale = rng.uniform(0.5, 1.5)
    ch, cw = min(img.shape[0], max(int(h * scale), 8)), min(img.shape[1], max(int(w * scale), 8))
    top, left = rng.integers(0, img.shape[0] - ch + 1), rng.integers(0, img.shape[1] - cw + 1)
    patch = resize(img[top:top + ch, left:left + cw], shape, anti_aliasing=True)
    patch = np.rot90(patch, rng.integers(4))
    patch = patch - ndimage.gaussian_filter(patch, 3.0)
    return patch / max(patch.std(), 1e-9)


def bias_field(shape, rng, strength: float = 0.15) -> np.ndarray:
    """Smooth multiplicative intensity non-uniformity around 1."""
    return 1 + strength * anatomy.smooth_field(shape, rng, cells=5)


def smooth_phase(shape, rng, max_rad: float = np.pi / 2) -> np.ndarray:
    """Smooth random phase: a random linear ramp plus a low-frequency random field."""
    k, h, w = shape
    yy, xx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    field = anatomy.smooth_field((h, w), rng, cells=6)
    a, b, c = rng.uniform(-1, 1, 3)
    phase = max_rad * (0.5 * a * yy + 0.5 * b * xx + c * field)
    return np.broadcast_to(phase, shape)


def coil_maps(n_coils: int, size: int, rng, phase: float = 0.0, phase_rng=None) -> np.ndarray:
    """Birdcage sensitivities (sigpy) with a random radius, rotation and smooth perturbation; with
    ``phase`` > 0 also a smooth phase field per coil peaking at ``phase`` rad, drawn from
    ``phase_rng`` (its own stream: the other draws stay as they are without it)."""
    import sigpy.mri as mr

    if n_coils == 1:
        return np.ones((1, size, size), np.complex64)
    maps = mr.birdcage_maps((n_coils, size, size), r=rng.uniform(1.1, 1.6), nzz=n_coils)
    angle = rng.uniform(0, 360)
    maps = ndimage.rotate(maps.real, angle, axes=(1, 2), reshape=False, mode="nearest") + \
        1j * ndimage.rotate(maps.imag, angle, axes=(1, 2), reshape=False, mode="nearest")
    pert = anatomy.smooth_field((2, n_coils, size, size), rng, cells=6)
    maps = maps * (1 + 0.2 * (pert[0] + 1j * pert[1]))
    if phase > 0:
        field = anatomy.smooth_field((n_coils, size, size), rng if phase_rng is None else phase_rng, cells=3)
        maps = maps * np.exp(1j * phase * field)
    return (maps / np.abs(maps).max()).astype(np.complex64)


def quantise(k: np.ndarray, noise_std: float) -> np.ndarray:
    """Round k-space to a step of ``noise_std / 8`` (a power of two), like an ADC.

    The quantisation error (step / sqrt(12)) is ~3 % of the thermal noise, and because the step
    is a power of two the float32 mantissas end in zeros, so HDF5's gzip+shuffle stores the
    sample files in a fraction of their raw size.
    """
    if noise_std <= 0:
        return k
    step = np.float32(2.0 ** np.floor(np.log2(noise_std / 8)))
    return (np.round(k.real / step) * step + 1j * (np.round(k.imag / step) * step)).astype(np.complex64)


def write(out_dir, cfg: SimConfig, name: str | None = None) -> Path:
    """Simulate and write ``OUT_DIR/<name>.h5`` (fastMRI layout with ``lesion_mask``)."""
    from .io import save_scan

    acq = simulate(cfg)
    name = name or f"sim_{cfg.contrast}_{cfg.size}_c{cfg.coils}_l{cfg.lesions}_s{cfg.seed}"
    path = Path(out_dir) / f"{name}.h5"
    save_scan(path, acq.kspace, target=acq.target,
              lesion_mask=acq.lesion_mask if cfg.lesions > 0 else None, attrs=acq.attrs)
    return path
