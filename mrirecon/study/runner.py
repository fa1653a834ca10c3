"""``mrirecon study OUTPUT_DIR [--quick]``: run the experiments, write CSVs, figures and results.md."""
from __future__ import annotations

import csv
import io as _io
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .. import __version__, roi
from ..io import atomic_text
from ..pipeline import check_output_dir
from . import data, experiments, plots
from . import report as md


def write_csv(path: Path, rows: list[dict]) -> Path:
    buf = _io.StringIO()
    fields = list(dict.fromkeys(k for r in rows for k in r))
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in fields})
    return atomic_text(path, buf.getvalue())


def environment() -> dict:
    import numpy
    import scipy
    import sigpy
    import skimage
    import torch

    from ..external import bart_version
    from ..nn.int8 import has_vnni
    from ..runtime import cpu_flags

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu, "cpus": os.cpu_count(),
            "cpu_bf16": "amx" if "amx_bf16" in flags else ("avx512_bf16" if "avx512_bf16" in flags else "none"),
            "cpu_int8": "vnni" if has_vnni(flags) else "none",  # none: int8 weights get 7 bits (nn.int8)
            "torch_threads": torch.get_num_threads(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
            "python": platform.python_version(), "mrirecon": __version__, "torch": torch.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__, "sigpy": sigpy.__version__,
            "scikit-image": skimage.__version__, "bart": bart_version()}


def run_study(out_dir, quick: bool = False, real_scan=None, device: str = "auto", methods=None, log=print) -> Path:
    """Run the study; returns the path of ``results.md``. ``methods`` restricts the method list
    (default: every available method, plus BART when installed)."""
    from ..api import resolve_device

    t_start = time.perf_counter()
    spec = data.QUICK if quick else data.FULL
    if methods:
        spec = type(spec)(**{**spec.__dict__, "methods": tuple(methods)})
    device = resolve_device(device)
    out = Path(out_dir)
    names = experiments.method_list(spec)  # bad inputs fail here, before anything is written
    real = data.real_volume(real_scan) if real_scan else None
    if real_scan:  # never write next to an input
        check_output_dir(out, Path(real_scan).parent)
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    log(f"study ({spec.name}): {', '.join(names)} on {device}")
    volumes = data.simulated_volumes(spec)
    sim_names = [v.name for v in volumes]
    if real is not None:
        volumes.append(real)
    overlap = data.training_overlap([v.seed for v in volumes if v.seed is not None] + [data.STUDY_SEED + 10])

    log("1-2. quality on every volume and mask")
    quality, images = experiments.quality(volumes, spec, names, device, log)
    log("1. timing and memory")
    timing_vol = volumes[-1] if real_scan else next(v for v in volumes if v.name == "sim-t2w")
    timing = experiments.timing(timing_vol, spec, names, device, log)
    log("3. lesions")
    lesions = experiments.lesions(volumes, images, spec, names)
    log("4. prospective acquisition")
    pfile = out / "data" / "prospective_flair.h5"
    facts = data.write_prospective(spec, pfile)
    prosp, p_images, p_res = experiments.prospective(spec, pfile, facts, names, device, log)

    for name, rows in (("quality", quality), ("timing", timing), ("lesions", lesions), ("prospective", prosp)):
        write_csv(out / f"{name}.csv", rows)
    env = environment()
    env.update({"spec": {k: v for k, v in spec.__dict__.items()}, "methods": names, "device": device,
                "training_seed_overlap": overlap, "timing_slice": timing[0]["slice"] if timing else None})

    figures, lesion_figs = {}, []
    shown = list(dict.fromkeys([spec.mask_labels[0], spec.mask_labels[-1]]))  # a 1D and a 2D mask
    for vol in volumes:
        s = _lesion_slice(vol)
        for label in shown:
            if vol.name == "sim-t1w" and label != shown[-1]:
                continue  # the training contrast: one panel is enough
            key = f"panels_{vol.name}_{label.replace(' ', '_')}"
            figures[key] = plots.panels(figs / f"{key}.png", vol.scan.target[s],
                                        {m: images[(vol.name, label, m)][s] for m in names},
                                        f"{vol.name} slice {s}, {label} (slice metrics)")
        box = roi.reference_box(vol.scan.target[s], vol.scan.lesion_mask[s]) if vol.scan.lesion_mask is not None else None
        for label in shown if box is not None else []:
            key = f"lesions_{vol.name}_{label.replace(' ', '_')}"
            imgs = {"reference": vol.scan.target[s], **{m: images[(vol.name, label, m)][s] for m in names}}
            figures[key] = plots.lesion_crops(figs / f"{key}.png", imgs, vol.scan.lesion_mask[s], box,
                                              f"{vol.name} slice {s}, {label}: lesion (red), reference WM (cyan)")
            lesion_figs.append(key)
    figures["quality_vs_time"] = plots.quality_vs_time(figs / "quality_vs_time.png",
                                                       [r for r in quality if r["data"] in sim_names], timing,
                                                       spec.mask_labels)
    figures["prospective"] = plots.prospective(
        figs / "prospective.png", facts["pattern"],
        p_images, p_res, f"prospective FLAIR, {facts['mask']} {facts['achieved']:.1f}x: no reference exists")
    env["runtime_s"] = round(time.perf_counter() - t_start, 1)
    atomic_text(out / "environment.json", json.dumps(env, indent=2, default=str) + "\n")
    text = md.compose(spec, env, names, sim_names, volumes, quality, timing, lesions, prosp, facts,
                      {k: v.relative_to(out).as_posix() for k, v in figures.items()}, lesion_figs)
    path = atomic_text(out / "results.md", text)
    log(f"wrote {path} ({env['runtime_s']:.0f} s)")
    return path


def _lesion_slice(vol) -> int:
    """The slice with the most lesion pixels (0 without lesions): the one the figures show."""
    if vol.scan.lesion_mask is None:
        return 0
    return int(np.argmax((vol.scan.lesion_mask > 0).reshape(len(vol.scan.lesion_mask), -1).sum(1)))
