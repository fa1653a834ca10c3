#!/usr/bin/env python3
"""Regenerate docs/napari_screenshot.png: the FLAIR-with-lesions sample, equispaced 4x, zero-filled
vs cs-l1 vs the shipped learned models, in the reconstruction widget. Needs a display (or
`xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot.py`)."""
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication
from skimage.io import imsave

from mrirecon.solvers import available
from napari_mrirecon._widget import ReconstructionWidget

ROOT = Path(__file__).resolve().parent.parent

viewer = napari.Viewer(show=True)
w = ReconstructionWidget(viewer)
viewer.window.add_dock_widget(w, name="MRI reconstruction")
w.load(ROOT / "sample_data" / "flair_lesions_256_8coil.h5")
w.errors_box.setChecked(True)
methods = [m for m in ("zero-filled", "cs-l1", "irim", "cirim") if m in available()]
w.run(methods, mask="equispaced", acceleration=4, wait=True)
viewer.window._qt_window.resize(1600, 1000)
for _ in range(30):
    QApplication.processEvents()
viewer.reset_view()
imsave(ROOT / "docs" / "napari_screenshot.png", viewer.screenshot(canvas_only=False, flash=False),
       check_contrast=False)
print("wrote docs/napari_screenshot.png", methods)
