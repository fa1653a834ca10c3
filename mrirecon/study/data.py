"""Evaluation data of the study: simulated volumes with fixed seeds that no training run draws,
the shared real scan when given, and a prospectively undersampled acquisition."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from .. import io, masks
from ..simulate import SimConfig, simulate
from ..trainset import DataConfig, subject

# Subject seeds of the study's simulated volumes: STUDY_SEED + k. Training draws its subjects'
# seeds at random from 2^31 (mrirecon.trainset.make_sample); `training_overlap` checks the shipped
# models never drew one of these.
STUDY_SEED = 20_261_128
CONTRASTS = ("t1w", "t2w", "flair")  # models are trained on t1w only


@dataclass
class StudySpec:
    size: int = 256
    slices: int = 3  # per simulated volume
    coils: int = 8
    snr: float = 30.0
    lesions: int = 5  # per T2w / FLAIR volume (T1w: none, it is the training contrast)
    masks: tuple = (("equispaced", 4.0), ("equispaced", 8.0), ("gaussian2d", 4.0), ("gaussian2d", 8.0))
    repeats: int = 3  # timing: median of this many runs per method and mask
    prospective: tuple = ("gaussian2d", 7.5)
    methods: tuple | None = None  # None: every available method
    # these learned methods also run in their precision variants (solvers.VARIANTS: "irim-bf16", "irim-int8")
    variants: tuple = ("irim",)
    bart: bool = True  # BART pics as a method when the binary is present
    bart_sweep: bool = True  # BART's lambda: best of BART_LAMBDAS per volume and mask (else per family)
    name: str = "full"

    def mask_label(self, kind: str, accel: float) -> str:
        return f"{kind} {accel:g}x"

    @property
    def mask_labels(self) -> list[str]:
        return [self.mask_label(k, a) for k, a in self.masks]


QUICK = StudySpec(size=128, slices=1, coils=8, lesions=4, masks=(("equispaced", 4.0), ("gaussian2d", 8.0)),
                  repeats=1, bart_sweep=False, name="quick")
FULL = StudySpec()


@dataclass
class Volume:
    name: str  # "sim-t1w", "real-t2", ...
    contrast: str
    scan: io.Scan
    seed: int | None = None
    info: dict = field(default_factory=dict)


def simulated_volumes(spec: StudySpec) -> list[Volume]:
    out = []
    for i, contrast in enumerate(CONTRASTS):
        seed = STUDY_SEED + i
        cfg = SimConfig(contrast=contrast, size=spec.size, coils=spec.coils, slices=spec.slices,
                        lesions=0 if contrast == "t1w" else spec.lesions, seed=seed, snr=spec.snr)
        acq = simulate(cfg)
        scan = io.Scan(path=f"sim-{contrast} (seed {seed})", kspace=acq.kspace, mask=None, target=acq.target,
                       lesion_mask=acq.lesion_mask if cfg.lesions else None, attrs=dict(acq.attrs))
        out.append(Volume(f"sim-{contrast}", contrast, scan, seed))
    return out


def real_volume(path) -> Volume:
    scan = io.load(path)
    if scan.target is None or scan.prospective:
        raise io.InputError("the real scan must be fully sampled with a reconstruction_rss reference", path)
    return Volume("real-t2", "t2 (real)", scan, None, {"path": str(path)})


def write_prospective(spec: StudySpec, path) -> dict:
    """A FLAIR slice with lesions of which only the undersampled data are ever written (with its
    ``mask``): the reconstruction sees what a prospective scan would give. Returns its facts."""
    kind, accel = spec.prospective
    seed = STUDY_SEED + 10
    cfg = SimConfig(contrast="flair", size=spec.size, coils=spec.coils, slices=1, lesions=spec.lesions,
                    seed=seed, snr=spec.snr)
    acq = simulate(cfg)
    mask = masks.create(kind, (spec.size, spec.size), accel, seed=seed)
    io.save_scan(path, acq.kspace * mask, mask=mask, attrs={"acquisition": "simulated prospective FLAIR"})
    return {"seed": seed, "mask": kind, "requested": accel, "achieved": masks.acceleration(mask),
            "pattern": mask, "lesion_mask": acq.lesion_mask, "path": str(path)}


def history(card: dict) -> list[dict]:
    """A model card and the cards of the runs it was warm-started from (``started_from``), newest first."""
    out = []
    while card:
        out.append(card)
        card = card.get("started_from")
    return out


def training_overlap(seeds, models_dir=None) -> dict:
    """For every shipped model: how many subject seeds its training drew, and which of ``seeds``
    were among them (expected: none)."""
    from ..nn.model import MODELS
    from ..weights import paths

    out = {}
    seeds = set(int(s) for s in seeds)
    for name in MODELS:
        card_path = paths(name, models_dir)[1]
        if not card_path.is_file():
            continue
        card = json.loads(card_path.read_text())
        n_subjects, drawn = 0, set()
        for run in history(card):  # this training and every run it was warm-started from
            values = run.get("training", {}).get("data", {})
            known = {f.name for f in dataclasses.fields(DataConfig)}
            cfg = DataConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in known})
            n = int(run.get("training_steps", 0)) * int(run.get("batch_size", 1)) // max(cfg.reuse, 1) + 1
            drawn |= {subject(cfg, k)[1] for k in range(n)}
            n_subjects += n
        out[name] = {"subjects": n_subjects, "overlap": sorted(seeds & drawn)}
    return out
