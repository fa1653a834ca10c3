"""Command line: parses arguments, calls the library, prints. No algorithms here.

Exit codes: 0 success, 1 some inputs failed, 2 usage errors (unknown method, unwritable output).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import InputError, WeightsError

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def _console():
    from rich.console import Console

    return Console(stderr=False, highlight=False)


def _mask_args(p):
    from .masks import KINDS

    p.add_argument("--mask", default="equispaced", choices=KINDS, help="retrospective mask kind")
    p.add_argument("--acceleration", type=float, default=4.0)
    p.add_argument("--center-fraction", type=float, default=None,
                   help="fully sampled centre (default: 0.32 / acceleration)")
    p.add_argument("--seed", type=int, default=0, help="mask seed")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--virtual-coils", type=int, default=None, metavar="N",
                   help="SVD coil compression to N coils before reconstruction (faster for many-coil data)")


def _batch_args(p):
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.add_argument("--workers", type=int, default=1, help="local processes (one file per job)")
    p.add_argument("--scheduler", default=None,
                   help="dask.distributed scheduler address, or 'local' to start a LocalCluster")


def cmd_methods(args) -> int:
    from .solvers import VARIANT_TEXT, describe

    for name, text in describe().items():
        print(f"{name:16s} {text}")
    print("learned methods also run as (see README):")
    for suffix, text in VARIANT_TEXT.items():
        print(f"  NAME{suffix:11s} {text}")
    return 0


def cmd_simulate(args) -> int:
    from .simulate import SimConfig, write

    cfg = SimConfig(contrast=args.contrast, size=args.size, coils=args.coils, slices=args.slices,
                    lesions=args.lesions, seed=args.seed, snr=args.snr)
    path = write(args.out_dir, cfg, args.name)
    print(f"wrote {path}")
    return 0


def cmd_recon(args, figures: bool = False) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from . import batch, report
    from .pipeline import MaskSpec

    console = _console()
    spec = MaskSpec(args.mask, args.acceleration, args.center_fraction, args.seed)
    methods = args.method or ["zero-filled", "sense", "cs-l1", "cs-tv"]
    batch.check_request(methods, spec, args.virtual_coils)
    _, jobs = batch.plan(args.input, methods, args.virtual_coils)
    if not jobs:
        console.print(f"no *.h5 files found in {args.input}")
        return 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("reconstructing", total=len(jobs) * len(methods))

        def on_file(recs):
            bar.advance(task, len(recs))
            for note in dict.fromkeys(r.note for r in recs if r.note):
                console.print(note, soft_wrap=True)
            for r in recs:
                if r.status == "failed":
                    console.print(f"[red]failed[/red] {r.method}: {r.error}", soft_wrap=True)

        def on_step(name, p):
            bar.update(task, description=f"{name} {p.message}")

        records = batch.run(args.input, args.output_dir, methods, spec, args.device, args.overwrite,
                            args.workers, args.scheduler, on_file=on_file, progress=on_step,
                            virtual_coils=args.virtual_coils)
    report.results_table(f"{spec.kind} {spec.acceleration:g}x", records, console)
    report.means_table(records, console)
    console.print(f"metrics: {Path(args.output_dir) / 'metrics.csv'}")
    if figures:
        report.figures(records, Path(args.output_dir), console)
    return report.failures(records, console)


def cmd_evaluate(args) -> int:
    from . import batch, report

    console = _console()
    records = batch.evaluate(args.pred_dir, args.target_dir)
    if not records:
        console.print(f"no *.h5 predictions found in {args.pred_dir}")
        return 0
    report.results_table("evaluation", records, console)
    report.means_table(records, console)
    console.print(f"metrics: {Path(args.pred_dir) / 'metrics.csv'}")
    return report.failures(records, console)


def cmd_train(args) -> int:
    from .runs import export_checkpoint
    from .training import load_config, train
    from .weights import MODELS_DIR

    if args.export_checkpoint:
        out = args.out or f"runs/{args.method}"
        card = export_checkpoint(args.method, out, args.models_dir or MODELS_DIR,
                                 load_config(args.config) if args.config else None)
        print(f"exported {args.method} at step {card['training_steps']} from {out} to {args.models_dir or MODELS_DIR}")
        return 0
    cfg = load_config(args.config, steps=args.steps, batch_size=args.batch_size, workers=args.workers,
                      precision=args.precision)
    real = None
    if args.real_scan:
        from .io import load

        real = load(args.real_scan)
    out = args.out or f"runs/{args.method}"
    where = args.models_dir or MODELS_DIR
    card = train(args.method, cfg, out, resume=args.resume, device=args.device, models_dir=where, real_scan=real)
    if card:
        print(f"trained {args.method}: {card.get('training_steps')} steps, weights in {where}")
    else:
        print(f"trained {args.method}: no validated step was exported; {where} is unchanged")
    return 0


def cmd_view(args) -> int:
    try:
        import napari
    except ImportError:
        raise InputError("the GUI needs napari: pip install 'mrirecon[gui]'", "view") from None
    from napari_mrirecon._widget import ReconstructionWidget

    viewer = napari.Viewer(title="mrirecon")
    widget = ReconstructionWidget(viewer)
    viewer.window.add_dock_widget(widget, name="MRI reconstruction", area="right")
    if args.file:
        viewer.open(args.file, plugin="mrirecon")
        widget.load(args.file)
    napari.run()
    return 0


def cmd_demo(args) -> int:
    args.input = args.data
    args.output_dir = args.out
    return cmd_recon(args, figures=True)


def cmd_study(args) -> int:
    from .study import run_study

    path = run_study(args.output_dir, quick=args.quick, real_scan=args.real_scan, device=args.device,
                     methods=args.method)
    print(f"results: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mrirecon", description="Accelerated MRI reconstruction")
    ap.add_argument("--version", action="version", version=f"mrirecon {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("methods", help="list the registered methods")
    p.set_defaults(func=cmd_methods)

    from .simulate import CONTRASTS

    p = sub.add_parser("simulate", help="simulate a multi-coil brain acquisition (fastMRI layout)")
    p.add_argument("out_dir")
    p.add_argument("--contrast", choices=CONTRASTS, default="t1w")
    p.add_argument("--lesions", type=int, default=0)
    p.add_argument("--coils", type=int, default=8)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--slices", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snr", type=float, default=30.0)
    p.add_argument("--name", default=None, help="file name without .h5")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("recon", help="reconstruct a file or a folder of fastMRI-layout HDF5 files")
    p.add_argument("input")
    p.add_argument("output_dir")
    p.add_argument("--method", action="append", help="method name (repeatable; see `mrirecon methods`)")
    _mask_args(p)
    _batch_args(p)
    p.set_defaults(func=cmd_recon)

    p = sub.add_parser("evaluate", help="metrics of existing predictions against fully sampled references")
    p.add_argument("pred_dir")
    p.add_argument("target_dir")
    p.set_defaults(func=cmd_evaluate)

    from .nn.model import MODELS

    p = sub.add_parser("train", help="train a learned method on simulated T1w data")
    p.add_argument("method", choices=list(MODELS))
    p.add_argument("--config", help="JSON training config (see mrirecon.training.TrainConfig)")
    p.add_argument("--out", help="run folder for checkpoint.pt and log.jsonl (default runs/METHOD)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--workers", type=int, help="data-loading processes")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"])
    p.add_argument("--models-dir", help="where the weights and model card go (default models/)")
    p.add_argument("--real-scan", help="a fully sampled fastMRI-layout file to validate on")
    p.add_argument("--export-checkpoint", action="store_true",
                   help="train nothing: export OUT/checkpoint.pt (the last step) instead of the best validated step "
                        "(with --config FILE, the run's config, also from a run that exported nothing)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("view", help="open napari with a file and the reconstruction widget")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=cmd_view)

    p = sub.add_parser("demo", help="reconstruct the bundled sample data with every method, with figures")
    p.add_argument("--data", default=str(SAMPLE_DATA))
    p.add_argument("--out", default="demo_out")
    p.add_argument("--method", action="append")
    _mask_args(p)
    _batch_args(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("study", help="reproduce the seed study (simulated data, fixed seeds): results.md + figures")
    p.add_argument("output_dir")
    p.add_argument("--quick", action="store_true",
                   help="small version: 128², one slice per contrast, two masks (a few minutes)")
    p.add_argument("--real-scan", help="also score a fully sampled fastMRI-layout file (e.g. the shared real T2)")
    p.add_argument("--method", action="append", help="restrict to these methods (repeatable)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.set_defaults(func=cmd_study)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if getattr(args, "command", None) == "demo" and not args.method:
        from .solvers import available

        args.method = available()
    try:
        return args.func(args)
    except (InputError, WeightsError) as e:
        print(f"mrirecon: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
