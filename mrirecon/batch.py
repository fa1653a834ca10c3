"""Batch reconstruction of files and folders: resumable, fault tolerant, in one process, in N local
processes or on a dask.distributed cluster, with one engine for all three.

The unit of work is one input file: it is loaded and undersampled once (the same mask for every
method, stored with each output), sensitivity maps are estimated once, then each pending method
runs and its output is written atomically. An output that already exists with the same sampling
(and, for a learned method, from the same weights file) is complete (``--overwrite`` redoes it):
its metrics are recomputed from the file, nothing is reconstructed again. A bad input file yields
one failed record per method and the batch goes on.
"""
from __future__ import annotations

import csv
import hashlib
import io as _io
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from . import masks, solvers
from .errors import InputError
from .io import atomic_text
from .pipeline import (MaskSpec, Result, check_output_dir, find_inputs, output_attrs, reconstruct_scan, score,
                       undersample)

CSV_FIELDS = ("file", "method", "slices", "ssim", "psnr", "nmse", "seconds", "status", "error", "note", "output")


@dataclass
class Record:
    file: str
    method: str
    slices: int = 0
    ssim: float | None = None
    psnr: float | None = None
    nmse: float | None = None
    seconds: float | None = None
    status: str = "done"  # done | skipped (already complete) | failed
    error: str = ""
    note: str = ""  # e.g. "prospectively undersampled; the requested mask is ignored"
    output: str = ""


@dataclass
class FileJob:
    path: str
    relative: str
    methods: list[str]
    virtual_coils: int | None = None  # SVD coil compression before reconstruction (None: off)


_HASHES: dict = {}  # weights.version -> sha256: each file is read once per version, not per input file


def weights_hash(name: str) -> str:
    """sha256 of a learned method's weights file ('' for classical methods)."""
    from .weights import paths, version

    method = solvers.get(name)
    if not method.learned:
        return ""
    directory = getattr(method, "models_dir", None)
    key = version(method.name, directory)
    if key not in _HASHES:  # a missing file (key None) raises FileNotFoundError here
        _HASHES[key] = hashlib.sha256(paths(method.name, directory)[0].read_bytes()).hexdigest()
    return _HASHES[key]


def _current_weights(name: str) -> dict:
    """``{"weights_sha256": ...}`` of a learned method whose weights file is there, else ``{}``: an
    output made from other weights is stale (a missing file fails when the method runs, not here)."""
    try:
        digest = weights_hash(name)
    except OSError:
        return {}
    return {"weights_sha256": digest} if digest else {}


def _existing(path: Path, sampling_attrs: dict) -> np.ndarray | None:
    """The reconstruction in ``path`` if it is complete and made with the same sampling (and the
    same weights, when ``sampling_attrs`` holds their hash)."""
    import h5py

    if not path.is_file():
        return None
    try:
        with h5py.File(path, "r") as f:
            same = all(_same(f.attrs.get(k), v) for k, v in sampling_attrs.items())
            return f["reconstruction"][()] if same else None
    except (OSError, KeyError):
        return None


def _same(a, b) -> bool:
    if isinstance(b, float):
        return a is not None and abs(float(a) - b) < 1e-9
    return (a.decode() if isinstance(a, bytes) else a) == b


def process_file(job: FileJob, out_dir: str, spec: MaskSpec, device: str = "auto", overwrite: bool = False,
                 threads: int | None = None, progress=None) -> list[Record]:
    """Reconstruct one input file with its methods; never raises for bad input (failed records)."""
    from .io import load, save_reconstruction

    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        scan = load(job.path)
        sampling = undersample(scan, spec)
    except InputError as e:
        return [Record(job.path, m, status="failed", error=str(e)) for m in job.methods]
    records, pending = [], []
    for name in job.methods:
        out = Path(out_dir) / name / job.relative
        ref = output_attrs(Result(job.path, name, None, 0.0), sampling, spec, job.virtual_coils)
        sampling_attrs = {k: ref[k] for k in ("mask", "acceleration_achieved", "seed", "virtual_coils")}
        image = None if overwrite else _existing(out, {**sampling_attrs, **_current_weights(name)})
        if image is None:
            pending.append(name)
            continue
        try:
            import h5py

            with h5py.File(out, "r") as f:
                seconds = float(f.attrs.get("seconds", np.nan))
            records.append(Record(job.path, name, scan.kspace.shape[0], seconds=seconds, status="skipped",
                                  output=str(out), **score(scan, image)))
        except InputError as e:
            records.append(Record(job.path, name, status="failed", error=str(e), output=str(out)))
    for r in records:
        r.note = sampling.notice
    if not pending:
        return records
    if progress is not None:
        name, inner = Path(job.path).name, progress
        progress = lambda method, p: inner(f"{name} {method}", p)  # noqa: E731
    try:
        results = reconstruct_scan(scan, sampling, pending, device, progress, job.virtual_coils)
    except InputError as e:
        return records + [Record(job.path, m, status="failed", error=str(e)) for m in pending]
    for r in results:
        out = Path(out_dir) / r.method / job.relative
        attrs = {**output_attrs(r, sampling, spec, job.virtual_coils), "weights_sha256": weights_hash(r.method)}
        save_reconstruction(out, r.image, attrs, extra={"mask": sampling.mask.astype(np.uint8)})
        records.append(Record(job.path, r.method, r.image.shape[0], seconds=r.seconds, output=str(out),
                              note=sampling.notice, **r.scores))
    return records


def plan(input_path, methods, virtual_coils: int | None = None) -> tuple[Path, list[FileJob]]:
    root, files = find_inputs(input_path)
    return root, [FileJob(str(p), str(p.relative_to(root)), list(methods), virtual_coils) for p in files]


def check_request(methods, spec: MaskSpec, virtual_coils: int | None = None) -> None:
    """Usage errors before any work: unknown method, missing weights, bad mask parameters, a
    number of virtual coils below 1 (one above a file's coil count fails that file only)."""
    if not methods:
        raise InputError("no method given", "method")
    for name in methods:
        solvers.check(name)
    masks.check(spec.kind, spec.acceleration, spec.center_fraction)
    if virtual_coils is not None and (isinstance(virtual_coils, bool) or not isinstance(virtual_coils, int)
                                      or virtual_coils < 1):
        raise InputError(f"must be a whole number of at least 1, got {virtual_coils!r}", "virtual coils")


def run(input_path, out_dir, methods, spec: MaskSpec, device: str = "auto", overwrite: bool = False,
        workers: int = 1, scheduler: str | None = None, on_file=None, progress=None,
        virtual_coils: int | None = None) -> list[Record]:
    """The batch: every (file, method) job, in this process, ``workers`` processes or on dask.

    ``on_file(records)`` is called as each file finishes (progress display). ``virtual_coils``: SVD
    coil compression of every file first. Writes ``OUT_DIR/metrics.csv`` and returns the records.
    """
    check_request(methods, spec, virtual_coils)
    root, jobs = plan(input_path, methods, virtual_coils)
    out = check_output_dir(out_dir, root)
    records: list[Record] = []

    def collect(recs):
        records.extend(recs)
        if on_file:
            on_file(recs)

    if scheduler:
        _run_dask(jobs, str(out), spec, device, overwrite, scheduler, collect)
    elif workers > 1:
        _run_processes(jobs, str(out), spec, device, overwrite, workers, collect)
    else:
        for job in jobs:
            collect(process_file(job, str(out), spec, device, overwrite, progress=progress))
    order = {(j.path, m): i for i, j in enumerate(jobs) for m in j.methods}
    records.sort(key=lambda r: order.get((r.file, r.method), 0))
    if jobs:
        write_csv(out / "metrics.csv", records)
    return records


def _threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def _run_processes(jobs, out, spec, device, overwrite, workers, collect):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = _threads_per_worker(workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(process_file, j, out, spec, device, overwrite, threads): j for j in jobs}
        for fut in as_completed(futures):
            collect(_result_or_failure(fut, futures[fut]))


def _run_dask(jobs, out, spec, device, overwrite, scheduler, collect):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError("--scheduler needs dask.distributed: pip install 'mrirecon[batch]'", "scheduler") from None
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=max(1, min(len(jobs), os.cpu_count() or 1)), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler, timeout="20s")
    try:
        futures = [client.submit(process_file, j, out, spec, device, overwrite, 1, pure=False) for j in jobs]
        by_future = dict(zip(futures, jobs))
        for fut in as_completed(futures):
            collect(_result_or_failure(fut, by_future[fut]))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _result_or_failure(fut, job) -> list[Record]:
    try:
        return fut.result()
    except Exception as e:  # a worker died or raised: report the file, keep going
        return [Record(job.path, m, status="failed", error=f"{job.path}: worker error: {e!r}") for m in job.methods]


def write_csv(path: Path, records: list[Record]) -> None:
    """``metrics.csv``, atomically (temporary file + rename)."""
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for r in records:
        row = asdict(r)
        w.writerow({k: ("" if row[k] is None else row[k]) for k in CSV_FIELDS})
    atomic_text(path, buf.getvalue())


def means(records: list[Record]) -> list[dict]:
    """Per-method means of the metrics and seconds over the successful records."""
    out = []
    for method in dict.fromkeys(r.method for r in records):
        ok = [r for r in records if r.method == method and r.status != "failed"]
        row = {"method": method, "files": len(ok), "failed": sum(r.method == method and r.status == "failed"
                                                                 for r in records)}
        for k in ("ssim", "psnr", "nmse", "seconds"):
            vals = [getattr(r, k) for r in ok if getattr(r, k) is not None]
            row[k] = float(np.mean(vals)) if vals else None
        out.append(row)
    return out


def as_table(records: list[Record]):
    """Records as a pandas DataFrame when pandas is installed, else a list of dicts."""
    rows = [asdict(r) for r in records]
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows, columns=[f.name for f in fields(Record)])


def recon_folder(input_path, out_dir, methods=("zero-filled", "cs-l1"), mask: str = "equispaced",
                 acceleration: float = 4.0, center_fraction: float | None = None, seed: int = 0,
                 device: str = "auto", overwrite: bool = False, workers: int = 1, scheduler: str | None = None,
                 virtual_coils: int | None = None):
    """Python API over the batch engine (the same as ``mrirecon recon``): returns the metrics as a
    pandas DataFrame when pandas is installed, else as a list of records."""
    spec = MaskSpec(mask, acceleration, center_fraction, seed)
    return as_table(run(input_path, out_dir, list(methods), spec, device, overwrite, workers, scheduler,
                        virtual_coils=virtual_coils))


def evaluate(pred_dir, target_dir) -> list[Record]:
    """Metrics of existing predictions (fastMRI layout, dataset ``reconstruction``) against the
    references (``reconstruction_rss``) of the same relative paths under ``target_dir``.

    ``pred_dir`` is either ``<method>/<relative>.h5`` (mrirecon's layout) or flat ``<relative>.h5``
    (other tools); records are written to ``pred_dir/metrics.csv``.
    """
    import h5py

    from .io import load

    pred_dir, target_dir = Path(pred_dir), Path(target_dir)
    if not pred_dir.is_dir():
        raise InputError("no such folder", str(pred_dir))
    if not target_dir.is_dir():
        raise InputError("no such folder", str(target_dir))
    records = []
    for pred in sorted(p for p in pred_dir.rglob("*.h5") if p.is_file()):
        rel = pred.relative_to(pred_dir)
        method, target = "prediction", target_dir / rel
        if not target.exists() and len(rel.parts) > 1:
            method, target = rel.parts[0], target_dir / Path(*rel.parts[1:])
        try:
            with h5py.File(pred, "r") as f:
                if "reconstruction" not in f:
                    raise InputError("no 'reconstruction' dataset", str(pred))
                image = f["reconstruction"][()]
                method = str(f.attrs.get("method", method))
                seconds = float(f.attrs["seconds"]) if "seconds" in f.attrs else None
            if not target.exists():
                raise InputError(f"no reference file {target}", str(pred))
            scan = load(target)
            if scan.target is None:
                raise InputError("no 'reconstruction_rss' reference", str(target))
            s = score(scan, image)
            records.append(Record(str(target), method, image.shape[0], status="done", output=str(pred),
                                  seconds=seconds, **s))
        except (InputError, OSError) as e:
            records.append(Record(str(target), method, status="failed", error=str(e), output=str(pred)))
    write_csv(pred_dir / "metrics.csv", records)
    return records
