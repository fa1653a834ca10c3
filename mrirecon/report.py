"""Console output of batch results: rich tables of records and per-method means, failures,
comparison figures from written outputs. Presentation only."""
from __future__ import annotations

from pathlib import Path


def _fmt(v, spec):
    return "" if v is None else format(v, spec)


def results_table(title, records, console):
    from rich.table import Table

    t = Table(title=title)
    for col in ("file", "method", "SSIM", "PSNR", "NMSE", "seconds", "status"):
        t.add_column(col, justify="left" if col in ("file", "method", "status") else "right")
    for r in records:
        t.add_row(Path(r.file).name, r.method, _fmt(r.ssim, ".4f"), _fmt(r.psnr, ".2f"), _fmt(r.nmse, ".5f"),
                  _fmt(r.seconds, ".2f"), r.status)
    console.print(t)


def means_table(records, console):
    from rich.table import Table

    from .batch import means

    t = Table(title="means per method")
    for col in ("method", "files", "failed", "SSIM", "PSNR", "NMSE", "seconds"):
        t.add_column(col, justify="left" if col == "method" else "right")
    for m in means(records):
        t.add_row(m["method"], str(m["files"]), str(m["failed"]), _fmt(m["ssim"], ".4f"), _fmt(m["psnr"], ".2f"),
                  _fmt(m["nmse"], ".5f"), _fmt(m["seconds"], ".2f"))
    console.print(t)


def failures(records, console) -> int:
    """Print the failures; the exit code (1 when anything failed)."""
    failed = [r for r in records if r.status == "failed"]
    if not failed:
        return 0
    console.print(f"[red]{len(failed)} job(s) failed[/red]")
    for msg in dict.fromkeys(r.error for r in failed):
        console.print(f"  {msg}", soft_wrap=True)
    return 1


def figures(records, out_dir: Path, console):
    """One comparison PNG per input file (middle slice) from the written outputs."""
    import h5py

    from .figures import comparison
    from .io import load

    by_file = {}
    for r in records:
        if r.status != "failed":
            by_file.setdefault(r.file, []).append(r)
    for file, recs in by_file.items():
        scan = load(file)
        s = scan.kspace.shape[0] // 2
        ref = scan.target[s] if scan.target is not None else None
        images, attrs = {}, {}
        for r in recs:
            with h5py.File(r.output, "r") as f:
                images[r.method] = f["reconstruction"][s]
                attrs = dict(f.attrs)
        scores = {r.method: ({"ssim": r.ssim, "psnr": r.psnr} if r.ssim is not None else {}) for r in recs}
        title = f"{Path(file).name}  slice {s}  {attrs.get('mask', '')} {float(attrs.get('acceleration_achieved', 0)):.2f}x"
        path = comparison(out_dir / "figures" / f"{Path(file).stem}.png", ref, images, scores, title)
        console.print(f"figure: {path}")
