"""The study's experiments. Each returns plain rows (dicts) that go unchanged into the CSVs, the
tables and the figures: quality per volume/mask/method, timing and memory on one slice, lesion
contrast, and a prospectively undersampled acquisition with data-consistency residuals."""
from __future__ import annotations

import statistics
import time

import numpy as np

from .. import coils, io, masks, pipeline, roi, solvers
from ..api import make_problem, residual
from ..external import bart_available, bart_pics, peak_memory_mb, reset_peak_memory
from .data import StudySpec, Volume

BART = "bart-pics"
# BART's regularisation (pics -l1 -r, on BART's own data scaling). With a reference: the best SSIM of
# BART_LAMBDAS per volume and mask (oracle tuning, as GUIDE §10 did: it favours BART); without one
# (timing, prospective): the per-family value that was best on the shared real scan.
BART_LAMBDAS = (1e-3, 3e-3, 1e-2)
BART_LAMBDA = {"1d": 1e-2, "2d": 1e-3}


def method_list(spec: StudySpec) -> list[str]:
    names = list(spec.methods) if spec.methods else solvers.available()
    for name in names:
        if name != BART:
            solvers.check(name)  # a named but untrained method fails here, before any work
    names += [n + suffix for suffix in solvers.VARIANTS for n in spec.variants
              if n in names and n + suffix not in names and n + suffix in solvers.available(variants=True)]
    if spec.bart and bart_available() and BART not in names:
        names.append(BART)
    return [n for n in names if n != BART or bart_available()]


def _bart_lambda(kind: str) -> float:
    return BART_LAMBDA["1d" if kind in masks.KINDS_1D else "2d"]


def bart_volume(kspace: np.ndarray, lam: float, noise_var: float) -> np.ndarray:
    """BART per slice, its magnitude put on the RSS scale with the noise floor (``coils.rss_floor``),
    the output convention of every SENSE-type method here (GUIDE §2, §9)."""
    img = np.stack([bart_pics(k, lam)[0] for k in kspace])
    return coils.rss_floor(img, noise_var, kspace.shape[1])


def _bart_best(scan, sampling, lambdas) -> tuple[pipeline.Result, float]:
    nv = coils.noise_variance(sampling.kspace, sampling.mask)
    best = None
    for lam in lambdas:
        t0 = time.perf_counter()
        img = bart_volume(sampling.kspace, lam, nv)
        res = pipeline.Result(scan.path, BART, img, time.perf_counter() - t0, pipeline.score(scan, img))
        if best is None or res.scores["ssim"] > best[0].scores["ssim"]:
            best = (res, lam)
    return best


def quality(volumes: list[Volume], spec: StudySpec, methods: list[str], device: str, log=print):
    """Every method on every volume and mask. Returns (rows, images) with images keyed by
    (volume name, mask label, method)."""
    rows, images = [], {}
    ours = [m for m in methods if m != BART]
    for vol in volumes:
        for kind, accel in spec.masks:
            label = spec.mask_label(kind, accel)
            sampling = pipeline.undersample(vol.scan, pipeline.MaskSpec(kind, accel, None, seed=0))
            results = pipeline.reconstruct_scan(vol.scan, sampling, ours, device)
            lam = {}
            if BART in methods:
                lambdas = BART_LAMBDAS if spec.bart_sweep else (_bart_lambda(kind),)
                res, lam[BART] = _bart_best(vol.scan, sampling, lambdas)
                results.append(res)
            n = vol.scan.kspace.shape[0]
            for r in results:
                images[(vol.name, label, r.method)] = r.image
                rows.append({"data": vol.name, "contrast": vol.contrast, "mask": label,
                             "acceleration": round(sampling.achieved, 3), "method": r.method,
                             **{k: r.scores[k] for k in ("ssim", "psnr", "nmse")},
                             "seconds_per_slice": r.seconds / n, "bart_lambda": lam.get(r.method, "")})
            log(f"  {vol.name} {label}: " + ", ".join(f"{r.method} {r.scores['ssim']:.3f}" for r in results))
    return rows, images


def parameter_count(name: str, device: str = "cpu") -> int:
    """Learned parameters of the network behind ``name``: the same for each of its precision
    variants (counted on the float32 model; int8 convolutions hold theirs as packed buffers)."""
    method = None if name == BART else solvers.get(solvers.base_name(name))
    if method is None or not method.learned:
        return 0
    return sum(p.numel() for p in method.model(device).parameters())


def timing(volume: Volume, spec: StudySpec, methods: list[str], device: str, log=print) -> list[dict]:
    """Seconds per slice on the first slice of ``volume``, end to end (sensitivity maps + solver),
    median of ``spec.repeats`` runs per method and mask, after one untimed warm-up run of each
    learned method (weights loaded); peak memory = growth of the peak resident set during a run."""
    import torch

    rows = []
    for kind, accel in spec.masks:
        label = spec.mask_label(kind, accel)
        sampling = pipeline.undersample(volume.scan, pipeline.MaskSpec(kind, accel, None, seed=0))
        k1 = sampling.kspace[:1]
        maps_t = []
        for _ in range(spec.repeats):
            t0 = time.perf_counter()
            problem = make_problem(k1, sampling.mask, device=device)
            maps_t.append(time.perf_counter() - t0)
        t_maps = statistics.median(maps_t)
        for name in methods:
            solve_t, cal_t, peak = [], [], 0.0
            if name == BART:
                for _ in range(spec.repeats):
                    _, t_cal, t_pics = bart_pics(k1[0], _bart_lambda(kind))
                    cal_t.append(t_cal)
                    solve_t.append(t_pics)
                maps, peak = statistics.median(cal_t), float("nan")  # a child process: not measured
            else:
                method = solvers.get(name)
                if method.learned:
                    method.run(problem)
                for _ in range(spec.repeats):
                    base = reset_peak_memory()
                    t0 = time.perf_counter()
                    method.run(problem)
                    solve_t.append(time.perf_counter() - t0)
                    peak = max(peak, peak_memory_mb() - base)
                maps = t_maps if method.needs_sens else 0.0
            solve = statistics.median(solve_t)
            rows.append({"mask": label, "method": name, "maps_s": maps, "solve_s": solve, "total_s": maps + solve,
                         "peak_mb": peak, "parameters": parameter_count(name, device), "repeats": spec.repeats,
                         "threads": torch.get_num_threads(), "slice": f"{volume.name} slice 0"})
        log(f"  timing {label}: " + ", ".join(f"{r['method']} {r['total_s']:.2f}s" for r in rows if r["mask"] == label))
    return rows


def lesions(volumes: list[Volume], images: dict, spec: StudySpec, methods: list[str]) -> list[dict]:
    """Lesion contrast (L - R)/R, CNR and contrast preservation against the fully sampled reference,
    per slice with lesions; R is a 7x7 box of normal-appearing white matter next to the lesions
    (``mrirecon.roi.reference_box`` on the reference)."""
    rows = []
    for vol in volumes:
        labels_all = vol.scan.lesion_mask
        if labels_all is None:
            continue
        for s, labels in enumerate(labels_all):
            box = roi.reference_box(vol.scan.target[s], labels)
            if box is None:
                continue
            lesion, ref = labels > 0, roi.box_mask(box, labels.shape)
            for label in spec.mask_labels:
                imgs = {"reference": vol.scan.target[s], **{m: images[(vol.name, label, m)][s] for m in methods}}
                for r in roi.contrast_table(imgs, lesion, ref, truth="reference"):
                    rows.append({"data": vol.name, "slice": s, "mask": label, "method": r.pop("image"), **r,
                                 "lesion_pixels": int(lesion.sum())})
    return rows


def prospective(spec: StudySpec, path, facts: dict, methods: list[str], device: str, log=print):
    """Reconstruct the prospectively undersampled file: no reference exists, so the trust signal is
    the data-consistency residual |F^-1 M (F S x - y)| (RSS over coils) of each method's complex
    estimate. Returns (rows, images, residual maps)."""
    scan = io.load(path)
    sampling = pipeline.undersample(scan, None)
    t0 = time.perf_counter()
    problem = make_problem(sampling.kspace, sampling.mask, device=device, source=str(path))
    t_maps = time.perf_counter() - t0
    norm_y = float(np.linalg.norm(problem.kspace))
    rows, images, residuals = [], {}, {}
    for name in methods:
        t0 = time.perf_counter()
        if name == BART:
            image = bart_volume(problem.kspace, _bart_lambda(facts["mask"]), problem.noise_var)
            estimate = None
        else:
            method = solvers.get(name)
            image = method.run(problem)
            estimate = method.estimate
        seconds = time.perf_counter() - t0  # BART estimates its own maps inside
        if name != BART and method.needs_sens:
            seconds += t_maps
        rel = float("nan")
        if estimate is not None:
            r = residual(problem, estimate)
            residuals[name] = r[0]
            rel = float(np.linalg.norm(r)) / norm_y
        images[name] = image[0]
        rows.append({"method": name, "seconds": seconds, "relative_residual": rel,
                     "mask": facts["mask"], "acceleration": round(facts["achieved"], 3)})
    log("  prospective: " + ", ".join(f"{r['method']} {r['relative_residual']:.3g}" for r in rows))
    return rows, images, residuals
