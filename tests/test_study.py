import csv
import json

import numpy as np
import pytest

from mrirecon import io, weights
from mrirecon.study import QUICK, STUDY_SEED, data, run_study
from mrirecon.study import report as md
from mrirecon.trainset import DataConfig, subject


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _md_row(text, section, first_cell):
    """The cells of the first table row starting with ``first_cell`` after the heading ``section``."""
    part = text[text.index(section):]
    for line in part.splitlines():
        if line.startswith(f"| {first_cell} |"):
            return [c.strip() for c in line.strip("|").split("|")]
    raise AssertionError(f"no row {first_cell!r} after {section!r}")


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    methods = ["zero-filled", "cs-l1"] + (["irim"] if weights.paths("irim")[0].exists() else [])
    path = run_study(out, quick=True, device="cpu", methods=methods, log=lambda *a: None)
    return out, path, methods


@pytest.mark.slow
def test_quick_study_writes_report_csvs_and_figures(quick_study):
    out, path, methods = quick_study
    text = path.read_text()
    for heading in ("## 1. Cell efficiency", "## 2. Unseen contrasts", "## 3. Pathology", "## 4. Prospective"):
        assert heading in text
    quality = _rows(out / "quality.csv")
    ran = list(dict.fromkeys(r["method"] for r in quality))
    assert ran[:len(methods)] == methods  # (+ irim-bf16, irim-int8, + bart-pics when the binary is installed)
    assert set(ran) - set(methods) <= {"irim-bf16", "irim-int8", "bart-pics"}
    assert len(quality) == 3 * len(QUICK.masks) * len(ran)
    # the tables are the CSV's numbers: the T2w row of cs-l1 at the first mask
    label = QUICK.mask_labels[0]
    sel = [r for r in quality if r["data"] == "sim-t2w" and r["method"] == "cs-l1" and r["mask"] == label]
    cells = _md_row(text, "### sim-t2w", "cs-l1")
    assert cells[1] == f"{np.mean([float(r['ssim']) for r in sel]):.4f}"
    assert cells[2] == f"{np.mean([float(r['psnr']) for r in sel]):.2f}"
    timing = _rows(out / "timing.csv")
    assert {r["method"] for r in timing} == set(ran)
    assert all(float(r["total_s"]) >= float(r["solve_s"]) > 0 for r in timing if r["method"] != "zero-filled")
    params = {r["method"]: int(r["parameters"]) for r in timing}
    if "irim" in ran:  # a precision variant is the same network (int8 weights are buffers, not parameters)
        assert params["irim"] > 50_000 and params["irim-int8"] == params["irim-bf16"] == params["irim"]
    lesions = _rows(out / "lesions.csv")
    ref = [r for r in lesions if r["method"] == "reference"]
    assert ref and all(abs(float(r["preservation"]) - 1) < 1e-9 for r in ref)
    assert all(float(r["contrast"]) > 0 for r in ref)  # lesions are hyperintense on T2w / FLAIR
    if "irim" in ran:
        assert "reproduced in" in text and "`irim-bf16`: " in text
        env = json.loads((out / "environment.json").read_text())
        assert env["cpu_int8"] in ("vnni", "none") and "int8 dot products: " in text
        assert env["training_seed_overlap"]["irim"]["overlap"] == []
        assert env["training_seed_overlap"]["irim"]["subjects"] > 1000
    import matplotlib.image as mpimg

    pngs = sorted((out / "figures").glob("*.png"))
    assert {"quality_vs_time.png", "prospective.png"} <= {p.name for p in pngs}
    assert any(p.name.startswith("lesions_") for p in pngs) and any(p.name.startswith("panels_") for p in pngs)
    for p in pngs:
        assert f"figures/{p.name}" in text
        assert mpimg.imread(p)[..., :3].std() > 0.02, p  # not blank


@pytest.mark.slow
def test_quick_study_prospective_file_has_no_reference(quick_study):
    out, _, methods = quick_study
    scan = io.load(out / "data" / "prospective_flair.h5")
    assert scan.prospective and scan.target is None
    rows = {r["method"]: r for r in _rows(out / "prospective.csv")}
    assert set(methods) <= set(rows)
    assert float(rows["cs-l1"]["relative_residual"]) < 0.5
    assert rows["zero-filled"]["relative_residual"] in ("", "nan")  # no complex estimate


def test_training_overlap_finds_a_drawn_seed(tmp_path):
    cfg = DataConfig(seed=5, reuse=2)
    drawn = subject(cfg, 3)[1]
    (tmp_path / "irim.json").write_text(json.dumps({"training_steps": 10, "batch_size": 2,
                                                    "training": {"data": {"seed": 5, "reuse": 2}}}))
    found = data.training_overlap([drawn, STUDY_SEED], tmp_path)
    assert found["irim"]["overlap"] == [drawn] and found["irim"]["subjects"] == 11
    # a fine-tuned model: the run it started from counts too
    (tmp_path / "irim.json").write_text(json.dumps({"training_steps": 4, "batch_size": 1,
                                                    "training": {"data": {"seed": 9, "reuse": 1}},
                                                    "started_from": json.loads((tmp_path / "irim.json").read_text())}))
    found = data.training_overlap([drawn, STUDY_SEED], tmp_path)
    assert found["irim"]["overlap"] == [drawn] and found["irim"]["subjects"] == 5 + 11


def test_report_verdict_follows_the_numbers():
    quality = [{"data": "sim-t1w", "mask": "m", "method": m, "ssim": s, "psnr": p}
               for m, s, p in (("irim", 0.90, 30.0), ("cs-l1", 0.90, 30.0))]
    fast = [{"mask": "m", "method": "irim", "total_s": 0.3}, {"mask": "m", "method": "cs-l1", "total_s": 1.0}]
    assert "reproduced in 1 of 1" in md.seed_claim(quality, fast, ["m"], ["sim-t1w"])[0]
    slow = [dict(fast[0], total_s=0.5), fast[1]]
    lines = md.seed_claim(quality, slow, ["m"], ["sim-t1w"])
    assert "reproduced in 0 of 1" in lines[0] and "not ≥ 68 % faster" in lines[1]
