"""napari plugin: manifest, reader, engine, widget (thread worker, grid, tables, ROIs, cancel,
screenshot). Needs the gui extra and an X server (pytest-xvfb + Debian's xvfb)."""
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

napari = pytest.importorskip("napari")
pytestmark = pytest.mark.gui

from mrirecon import metrics, weights  # noqa: E402
from mrirecon.nn.model import Reconstructor, config_from_dict, default_config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FLAIR = ROOT / "sample_data" / "flair_lesions_256_8coil.h5"


@pytest.fixture
def tiny_models(tmp_path, monkeypatch):
    """Small untrained IRIM/CIRIM weights in a temporary models folder (fast; the shipped weights
    are exercised in test_learned)."""
    torch.manual_seed(0)
    for name, extra in (("irim", {}), ("cirim", {"cascades": 2})):
        cfg = config_from_dict("rim", {**default_config(name).__dict__, "channels": 8, "steps": 4, **extra})
        weights.save(Reconstructor(name, cfg), {"training_steps": 0}, tmp_path)
    monkeypatch.setattr(weights, "MODELS_DIR", tmp_path)
    from mrirecon.solvers import learned

    learned._CACHE.clear()
    return tmp_path


def test_manifest_valid_and_every_python_name_imports():
    from npe2 import PluginManifest

    pm = PluginManifest.from_file(ROOT / "plugins" / "napari_mrirecon" / "napari.yaml")
    assert pm.name == "mrirecon"
    for cmd in pm.contributions.commands:
        module, attr = cmd.python_name.split(":")
        assert callable(getattr(importlib.import_module(module), attr)), cmd.python_name


def test_reader(tmp_path, real_scan):
    from napari_mrirecon._reader import get_reader

    layers = get_reader(str(FLAIR))(str(FLAIR))
    data, kwargs, kind = layers[0]
    assert kind == "image" and data.shape == (3, 256, 256) and kwargs["metadata"]["kind"] == "reference"
    real = get_reader(real_scan.path)(real_scan.path)
    assert real[0][0].shape == (1, 256, 256)
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    assert get_reader(str(text)) is None
    assert get_reader(str(tmp_path / "x.txt")) is None


def test_engine_scores_equal_mrirecon_metrics():
    import mrirecon
    from napari_mrirecon import _engine

    scan = mrirecon.load(FLAIR)
    out = _engine.run_sync(scan, _engine.Request(["zero-filled", "sense"], slice=1, mask="gaussian2d",
                                                 acceleration=4, device="cpu"))
    assert set(out.results) == {"zero-filled", "sense"} and abs(out.achieved - 4) < 0.1
    for r in out.results.values():
        assert r.scores == metrics.evaluate(scan.target[1:2], r.image[None])
    assert out.results["sense"].residual is not None and out.results["zero-filled"].residual is None
    few = _engine.run_sync(scan, _engine.Request(["sense"], slice=1, mask="gaussian2d", acceleration=4,
                                                 device="cpu", virtual_coils=4))  # of 8
    assert few.results["sense"].scores["ssim"] > out.results["sense"].scores["ssim"] - 0.02
    assert not np.array_equal(few.results["sense"].image, out.results["sense"].image)


def test_widget_runs_methods_in_a_thread(make_napari_viewer, tiny_models, tmp_path):
    from qtpy.QtWidgets import QApplication

    from napari_mrirecon._widget import ReconstructionWidget

    viewer = make_napari_viewer(show=True)
    w = ReconstructionWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.load(FLAIR)
    assert w.virtual_coils.maximum() == w.scan.kspace.shape[1] and w.request(["sense"]).virtual_coils is None
    w.virtual_coils.setValue(6)
    assert w.request(["sense"]).virtual_coils == 6
    w.virtual_coils.setValue(0)
    w.errors_box.setChecked(True)
    w.residual_box.setChecked(True)
    worker = w.run(["zero-filled", "cs-l1", "irim"], mask="equispaced", acceleration=4)
    assert worker is not None
    w.wait()
    out = w.outcome
    assert out is not None, w.status.text()
    assert set(out.results) == {"zero-filled", "cs-l1", "irim"}
    from napari_mrirecon._layers import grid

    assert grid(viewer).enabled
    names = [layer.name for layer in viewer.layers]
    for m in ("zero-filled", "cs-l1", "irim"):
        assert f"{m} ({out.label})" in names and f"|{m} - reference|" in names
    assert "residual cs-l1" in names and "reference" in names
    rows = w.metrics_table()
    assert [r["method"] for r in rows] == ["zero-filled", "cs-l1", "irim"]
    for r in rows:
        layer = viewer.layers[f"{r['method']} ({out.label})"]
        expected = metrics.evaluate(out.reference[None], layer.data[None])
        assert r["ssim"] == pytest.approx(expected["ssim"]) and r["psnr"] == pytest.approx(expected["psnr"])
    # a second run replaces the layers in place
    n_layers = len(viewer.layers)
    first = viewer.layers[f"cs-l1 ({out.label})"]
    w.run(["zero-filled", "cs-l1", "irim"], mask="equispaced", acceleration=4, wait=True)
    assert len(viewer.layers) == n_layers and viewer.layers[f"cs-l1 ({out.label})"] is first

    # ROI table on the lesion sample: the reference image's contrast against numpy
    roi = {r["image"]: r for r in w.roi_table()}
    assert set(roi) == {"reference", "zero-filled", "cs-l1", "irim"}
    lesion = w.scan.lesion_mask[w.slice_spin.value()] > 0
    ref_mask = np.asarray(viewer.layers["reference ROI"].to_masks(mask_shape=out.reference.shape)).any(0)
    img = out.reference.astype(np.float64)
    big_l, big_r = img[lesion].mean(), img[ref_mask].mean()
    assert roi["reference"]["contrast"] == pytest.approx((big_l - big_r) / big_r, rel=0.01)
    assert roi["reference"]["preservation"] == pytest.approx(1.0)
    # editing a ROI updates the table
    box = viewer.layers["reference ROI"].data[0] + np.array([2.0, -2.0])
    viewer.layers["reference ROI"].data = [box]
    QApplication.processEvents()
    moved = {r["image"]: r for r in w.roi_table()}
    ref_mask2 = np.asarray(viewer.layers["reference ROI"].to_masks(mask_shape=out.reference.shape)).any(0)
    assert not np.array_equal(ref_mask2, ref_mask)
    r2 = img[ref_mask2].mean()
    assert moved["reference"]["reference_mean"] == pytest.approx(r2, rel=1e-6)
    assert moved["reference"]["contrast"] == pytest.approx((big_l - r2) / r2, rel=0.01)

    # the screenshot has real content in every grid cell; keep one for the README
    viewer.window._qt_window.resize(1600, 1000)
    for _ in range(20):
        QApplication.processEvents()
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    layers = list(viewer.layers)
    rows_, cols_ = grid(viewer).actual_shape(layers)
    h, w_ = shot.shape[0] // rows_, shot.shape[1] // cols_
    for i, layer in enumerate(layers):
        r, c = grid(viewer).position(i, layers)
        cell = shot[r * h:(r + 1) * h, c * w_:(c + 1) * w_, :3].astype(float)
        assert cell.std() > 2, f"grid cell of {layer.name} looks empty"


def test_cancel_stops_a_rim_between_steps(make_napari_viewer, tiny_models):
    from qtpy.QtCore import QThreadPool
    from qtpy.QtWidgets import QApplication

    from napari_mrirecon._engine import Update
    from napari_mrirecon._widget import ReconstructionWidget

    torch.manual_seed(0)
    weights.save(Reconstructor("cirim"), {"training_steps": 0}, tiny_models)  # full size: 5 x 8 steps
    viewer = make_napari_viewer()
    w = ReconstructionWidget(viewer)
    w.load(FLAIR)
    seen = []

    def on_item(item):  # main thread, as the Cancel button: cancel after the first CIRIM step
        if isinstance(item, Update) and item.method == "cirim":
            seen.append(item.step)
            w.cancel()

    worker = w.run(["cirim"], device="cpu")
    worker.yielded.connect(on_item)
    w.wait()
    QThreadPool.globalInstance().waitForDone()
    QApplication.processEvents()
    assert seen and len(seen) < 40  # stopped between steps, long before the 40th
    assert w.outcome is None and "cirim" not in " ".join(layer.name for layer in viewer.layers)
    assert w.status.text() == "cancelled"


def test_plugin_imports_are_light():
    """Reader, samples and widget modules import without torch or sigpy (heavy imports wait for a
    computation)."""
    import subprocess
    import sys

    code = ("import sys; import napari_mrirecon._reader, napari_mrirecon._sample, napari_mrirecon._widget, "
            "napari_mrirecon._engine, napari_mrirecon._roi, napari_mrirecon._layers; "
            "from napari_mrirecon._reader import read; read(sys.argv[1]); "
            "heavy = [m for m in ('torch', 'sigpy') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code, str(FLAIR)], check=True)
