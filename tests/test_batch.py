import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from mrirecon import batch
from mrirecon.cli import main
from mrirecon.pipeline import MaskSpec
from mrirecon.simulate import SimConfig, write

FAST = ["zero-filled", "sense"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("study")
    write(d, SimConfig(contrast="t2w", size=64, coils=4, slices=2, lesions=1, seed=1), "a")
    write(d / "sub", SimConfig(contrast="flair", size=64, coils=4, slices=1, seed=2), "b")
    write(d / "sub", SimConfig(contrast="t1w", size=64, coils=4, slices=1, seed=3), "c")
    return d


def _mtimes(out):
    return {p: p.stat().st_mtime_ns for p in out.rglob("*.h5")}


def _rows(out):
    import csv

    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_outputs_csv_and_resume_redoes_nothing(folder, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["recon", str(folder), str(out), "--method", "zero-filled", "--method", "sense", "--mask", "poisson2d",
            "--acceleration", "4", "--seed", "3"]
    assert main(argv) == 0
    rows = _rows(out)
    assert len(rows) == 6 and all(r["status"] == "done" and float(r["ssim"]) > 0 for r in rows)
    with h5py.File(out / "sense" / "sub" / "b.h5") as f:
        assert f["reconstruction"].shape == (1, 64, 64) and f["mask"].shape == (64, 64)
        assert f.attrs["mask"] == "poisson2d" and f.attrs["seed"] == 3
        assert f.attrs["acceleration_requested"] == 4 and abs(f.attrs["acceleration_achieved"] - 4) < 0.2
        assert "mrirecon_version" in f.attrs and "weights_sha256" in f.attrs and f.attrs["seconds"] > 0
    before = _mtimes(out)
    capsys.readouterr()
    assert main(argv) == 0
    assert _mtimes(out) == before  # nothing redone
    again = _rows(out)
    assert [r["status"] for r in again] == ["skipped"] * 6
    assert [r["ssim"] for r in again] == [r["ssim"] for r in rows]
    assert "means per method" in capsys.readouterr().out
    assert main(argv + ["--overwrite"]) == 0
    assert all(_mtimes(out)[p] != t for p, t in before.items())
    # another sampling is not "complete": it is redone
    assert main(argv[:-1] + ["4"]) == 0  # seed 4 instead of 3
    assert [r["status"] for r in _rows(out)] == ["done"] * 6


def test_outputs_of_other_weights_are_redone(folder, tmp_path, monkeypatch):
    """A learned method's output made from another weights file (retrained, or an update of the
    shipped models) is stale, not complete: it is redone; from the same weights it is skipped."""
    import torch

    from mrirecon import weights
    from tiny_nets import tiny

    models = tmp_path / "models"
    monkeypatch.setattr(weights, "MODELS_DIR", models)
    out = tmp_path / "out"
    argv = ["recon", str(folder / "sub"), str(out), "--method", "irim", "--method", "sense"]

    def run(seed):  # (re)write the weights from this seed, run the batch: each method's statuses
        torch.manual_seed(seed)
        weights.save(tiny("irim"), {}, models)
        assert main(argv) == 0
        return {m: {r["status"] for r in _rows(out) if r["method"] == m} for m in ("irim", "sense")}

    assert run(0) == {"irim": {"done"}, "sense": {"done"}}
    assert run(0) == {"irim": {"skipped"}, "sense": {"skipped"}}  # rewritten, same bytes
    with h5py.File(out / "irim" / "b.h5") as f:
        before = f["reconstruction"][()]
    assert run(1) == {"irim": {"done"}, "sense": {"skipped"}}
    with h5py.File(out / "irim" / "b.h5") as f:
        assert f.attrs["weights_sha256"] == batch.weights_hash("irim")
        assert not np.array_equal(f["reconstruction"][()], before)  # from the new weights, not a cached model


def test_two_local_workers_give_the_same_results(folder, tmp_path):
    spec = MaskSpec("gaussian2d", 4, None, 0)
    one = batch.run(folder, tmp_path / "one", FAST, spec, device="cpu")
    two = batch.run(folder, tmp_path / "two", FAST, spec, device="cpu", workers=2)
    key = lambda r: (r.file, r.method)  # noqa: E731
    for a, b in zip(sorted(one, key=key), sorted(two, key=key)):
        assert (a.file, a.method, a.status) == (b.file, b.method, b.status)
        assert a.ssim == pytest.approx(b.ssim, abs=1e-6)


def test_dask_local_cluster(folder, tmp_path):
    pytest.importorskip("distributed")
    recs = batch.run(folder, tmp_path / "dask", ["zero-filled"], MaskSpec("random", 4, None, 0), device="cpu",
                     scheduler="local")
    assert [r.status for r in recs] == ["done"] * 3
    assert (tmp_path / "dask" / "zero-filled" / "sub" / "c.h5").exists()


def _bad_files(d, good):
    k = h5py.File(good)["kspace"][()]
    specs = {
        "truncated.h5": None,
        "nokspace.h5": {"foo": np.zeros(3)},
        "real.h5": {"kspace": k.real},
        "integer.h5": {"kspace": k.real.astype(np.int16)},
        "ndim.h5": {"kspace": k[0, 0, 0]},
        "zerosize.h5": {"kspace": k[:0]},
        "nan.h5": {"kspace": np.where(np.arange(64) == 3, np.nan, k)},
        "maskshape.h5": {"kspace": k, "mask": np.ones(7)},
        "refshape.h5": {"kspace": k, "reconstruction_rss": np.ones((2, 80, 80), np.float32)},
    }
    for name, datasets in specs.items():
        if datasets is None:
            (d / name).write_bytes(good.read_bytes()[:5000])
            continue
        with h5py.File(d / name, "w") as f:
            for key, v in datasets.items():
                f.create_dataset(key, data=v)
    (d / "text.h5").write_text("not hdf5")
    return ["truncated.h5", "text.h5"] + [n for n in specs if n != "truncated.h5"]


def test_bad_inputs_are_reported_and_the_batch_goes_on(folder, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = inputs / "good.h5"
    good.write_bytes((folder / "a.h5").read_bytes())
    names = _bad_files(inputs, good)
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    out = tmp_path / "out"
    assert main(["recon", str(inputs), str(out), "--method", "zero-filled"]) == 1
    text = capsys.readouterr().out
    for name in names:
        assert name in text, name
        assert not (out / "zero-filled" / name).exists()
    assert (out / "zero-filled" / "good.h5").exists()
    for needle in ("not an HDF5 file", "no 'kspace'", "must be complex", "dimensions", "zero-size", "NaN or Inf",
                   "mask has shape", "reconstruction_rss"):
        assert needle in text, needle
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before  # inputs untouched


def test_missing_weights_is_a_usage_error(folder, tmp_path, capsys, monkeypatch):
    from mrirecon import weights

    monkeypatch.setattr(weights, "MODELS_DIR", tmp_path / "nomodels")
    assert main(["recon", str(folder), str(tmp_path / "o"), "--method", "cirim"]) == 2
    err = capsys.readouterr().err
    assert "cirim.safetensors" in err and "mrirecon train cirim" in err
    assert not (tmp_path / "o").exists()


def test_kill_9_leaves_no_complete_looking_file(folder, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mrirecon.cli", "recon", str(folder), str(out), "--method", "cs-l1",
           "--method", "cs-tv", "--device", "cpu"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not list(out.rglob("*.h5")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = list(out.rglob("*.h5"))
    assert 0 < len(done) < 6, "kill came too late to test anything"
    for p in done:  # whatever looks complete is complete
        with h5py.File(p) as f:
            assert f["reconstruction"].shape[-2:] == (64, 64)
    stamps = {p: p.stat().st_mtime_ns for p in done}
    assert main(cmd[3:]) == 0
    assert len(list(out.rglob("*.h5"))) == 6
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # finished work is not redone


def test_evaluate_recomputes_metrics_also_for_other_tools(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["recon", str(folder), str(out), "--method", "zero-filled"]) == 0
    original = {r["file"]: r["ssim"] for r in _rows(out)}
    assert main(["evaluate", str(out), str(folder)]) == 0
    evaluated = {r["file"]: r["ssim"] for r in _rows(out)}
    assert {k: float(v) for k, v in evaluated.items()} == pytest.approx({k: float(v) for k, v in original.items()})
    flat = tmp_path / "othertool"
    (flat / "sub").mkdir(parents=True)
    with h5py.File(folder / "sub" / "b.h5") as f, h5py.File(flat / "sub" / "b.h5", "w") as g:
        g["reconstruction"] = f["reconstruction_rss"][()]
    assert main(["evaluate", str(flat), str(folder)]) == 0
    row = _rows(flat)[0]
    assert row["method"] == "prediction" and float(row["ssim"]) == pytest.approx(1.0)


def test_recon_folder_api(folder, tmp_path):
    table = batch.recon_folder(folder, tmp_path / "api", methods=["zero-filled"], mask="gaussian1d",
                               acceleration=4, device="cpu")
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    assert len(rows) == 3 and {r["method"] for r in rows} == {"zero-filled"}
    assert all(r["psnr"] > 10 for r in rows)


def test_prospective_input_keeps_its_sampling_with_a_notice(folder, tmp_path, capsys):
    from mrirecon import masks

    src = folder / "a.h5"
    inputs = tmp_path / "in"
    inputs.mkdir()
    m = masks.create("poisson2d", (64, 64), 3, seed=9)
    with h5py.File(src) as f, h5py.File(inputs / "p.h5", "w") as g:
        g["kspace"] = f["kspace"][()] * m  # zeros outside the pattern, no mask dataset
        g["reconstruction_rss"] = f["reconstruction_rss"][()]
    out = tmp_path / "out"
    assert main(["recon", str(inputs), str(out), "--method", "zero-filled", "--mask", "equispaced"]) == 0
    assert "prospectively undersampled; the requested equispaced mask is ignored" in capsys.readouterr().out
    with h5py.File(out / "zero-filled" / "p.h5") as f:
        assert f.attrs["mask"] == "prospective" and np.array_equal(f["mask"][()].astype(bool), m)


def test_virtual_coils_are_recorded_and_a_file_with_fewer_coils_fails_alone(folder, tmp_path, capsys):
    """``--virtual-coils``: compressed outputs carry the count (and are redone without it); a file
    with fewer coils than asked for fails with its name while the others are done."""
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    (inputs / "a.h5").write_bytes((folder / "a.h5").read_bytes())  # 4 coils
    write(inputs / "sub", SimConfig(contrast="t1w", size=64, coils=2, slices=1, seed=5), "two")
    out = tmp_path / "out"
    argv = ["recon", str(inputs), str(out), "--method", "zero-filled", "--method", "sense", "--virtual-coils", "3"]
    assert main(argv) == 1  # one file failed
    text = capsys.readouterr().out
    assert "two.h5" in text and "virtual coils must be a whole number from 1 to the data's 2 coils" in text
    rows = {(Path(r["file"]).name, r["method"]): r for r in _rows(out)}
    assert rows[("a.h5", "sense")]["status"] == "done" and float(rows[("a.h5", "sense")]["ssim"]) > 0.5
    assert rows[("two.h5", "sense")]["status"] == "failed"
    with h5py.File(out / "sense" / "a.h5") as f:
        assert f.attrs["virtual_coils"] == 3
        compressed = f["reconstruction"][()]
    assert main(argv) == 1
    assert _rows(out)[0]["status"] == "skipped"
    assert main(argv[:-2]) == 0  # without compression: redone (and two.h5 succeeds)
    with h5py.File(out / "sense" / "a.h5") as f:
        assert f.attrs["virtual_coils"] == 0
        assert not np.array_equal(f["reconstruction"][()], compressed)
    capsys.readouterr()
    assert main(argv[:-1] + ["0"]) == 2  # a usage error before any work
    assert "virtual coils: must be a whole number of at least 1, got 0" in capsys.readouterr().err


def test_one_problem_per_scan_whatever_the_method_order(folder, monkeypatch):
    # a method without maps first must not cost a second problem (a second compression, and maps
    # estimated after all): one make_problem call, with maps when some method needs them
    from mrirecon import io, pipeline

    calls = []
    real = pipeline.make_problem
    monkeypatch.setattr(pipeline, "make_problem", lambda *a, **k: calls.append(k) or real(*a, **k))
    scan = io.load(folder / "a.h5")
    sampling = pipeline.undersample(scan, MaskSpec("equispaced", 4.0))
    results = pipeline.reconstruct_scan(scan, sampling, FAST, device="cpu", virtual_coils=3)
    assert len(calls) == 1 and calls[0]["need_sens"] and calls[0]["virtual_coils"] == 3
    assert [r.method for r in results] == FAST and all(r.image.shape == (2, 64, 64) for r in results)
    calls.clear()
    pipeline.reconstruct_scan(scan, sampling, ["zero-filled"], device="cpu")
    assert len(calls) == 1 and not calls[0]["need_sens"]
