"""The reconstruction dock widget (Qt through qtpy). It holds no algorithms: the computation is
``_engine.reconstruct`` (run in a napari thread worker), ROI statistics are ``_roi``, layers are
``_layers``; all science comes from ``mrirecon``.

Programmatic surface (scripts, tests): ``load(path)``, ``run(methods, mask=..., acceleration=...,
wait=False)`` returning the worker, ``metrics_table()`` and ``roi_table()`` (lists of dicts).
"""
from __future__ import annotations

import csv
import io
import os
import weakref
from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import (QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                            QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QPushButton,
                            QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from mrirecon import roi

from . import _engine, _layers, _roi

METRIC_COLUMNS = ("method", "ssim", "psnr", "nmse", "seconds")
ROI_COLUMNS = ("image", "lesion_mean", "reference_mean", "contrast", "cnr", "preservation")
DEFAULT_METHODS = ("zero-filled", "cs-l1")


class ReconstructionWidget(QWidget):
    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        from mrirecon import masks, solvers

        self.viewer = napari_viewer
        self.scan = None
        self.outcome = None
        self.worker = None
        self._pbar = None
        self._running = False
        self._alive = True
        self._roi_callback = None
        self.destroyed.connect(self._mark_dead)
        self._roi_rows: list[dict] = []
        self._metric_rows: list[dict] = []

        self.path_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        from_layer = QPushButton("Active layer")
        from_layer.clicked.connect(self._from_active_layer)
        file_row = QHBoxLayout()
        for w in (self.path_edit, browse, from_layer):
            file_row.addWidget(w)
        self.path_edit.returnPressed.connect(lambda: self.load(self.path_edit.text()))

        self.slice_spin = QSpinBox()
        self.sampling = QComboBox()
        self.sampling.addItems(["retrospective", "file"])
        self.mask_kind = QComboBox()
        self.mask_kind.addItems(list(masks.KINDS))
        self.accel = QDoubleSpinBox(minimum=1.0, maximum=32.0, value=4.0, singleStep=0.5)
        self.center = QDoubleSpinBox(minimum=0.0, maximum=0.5, value=0.0, singleStep=0.01, decimals=3)
        self.center.setSpecialValueText("default")
        self.seed = QSpinBox(minimum=0, maximum=2 ** 31 - 1)
        self.virtual_coils = QSpinBox(minimum=0, maximum=64)  # the file's coil count once loaded
        self.virtual_coils.setSpecialValueText("all (no compression)")
        self.virtual_coils.setToolTip("SVD coil compression to this many virtual coils before reconstruction")
        self.preview = QLabel()
        self.preview.setFixedSize(96, 96)
        self.achieved = QLabel("")
        for w in (self.sampling, self.mask_kind, self.accel, self.center, self.seed):
            (w.currentIndexChanged if isinstance(w, QComboBox) else w.valueChanged).connect(self._update_preview)

        self.methods = QListWidget()
        available = set(solvers.available(variants=True))
        for name in solvers.names(variants=True):
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if name in DEFAULT_METHODS else Qt.Unchecked)
            if name not in available:
                item.setFlags(item.flags() & ~Qt.ItemIsEnabled)
                base = solvers.base_name(name)
                item.setToolTip(f"no weights: make them with `mrirecon train {base}`" if base not in available
                                else "not available with this PyTorch build")
            elif name != solvers.base_name(name):
                item.setToolTip(solvers.VARIANT_TEXT[name.removeprefix(solvers.base_name(name))]
                                + "; quality within about 0.001 SSIM of float32")
            self.methods.addItem(item)
        self.errors_box = QCheckBox("error maps |method − reference|")
        self.errors_box.setChecked(True)
        self.residual_box = QCheckBox("data-consistency residual maps")
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(lambda: self.run(self.checked_methods()))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.status = QLabel("open a fastMRI-layout HDF5 file")
        self.status.setWordWrap(True)

        self.metrics = QTableWidget(0, len(METRIC_COLUMNS))
        self.metrics.setHorizontalHeaderLabels([c.upper() if c != "method" else c for c in METRIC_COLUMNS])
        self.rois = QTableWidget(0, len(ROI_COLUMNS))
        self.rois.setHorizontalHeaderLabels(list(ROI_COLUMNS))

        form = QFormLayout()
        form.addRow("file", file_row)
        form.addRow("slice", self.slice_spin)
        form.addRow("sampling", self.sampling)
        form.addRow("mask", self.mask_kind)
        form.addRow("acceleration", self.accel)
        form.addRow("centre fraction", self.center)
        form.addRow("seed", self.seed)
        form.addRow("virtual coils", self.virtual_coils)
        prev = QHBoxLayout()
        prev.addWidget(self.preview)
        prev.addWidget(self.achieved)
        form.addRow("mask preview", prev)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("methods"))
        layout.addWidget(self.methods)
        for w in (self.errors_box, self.residual_box):
            layout.addWidget(w)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("metrics (fastMRI protocol)"))
        layout.addWidget(self.metrics)
        layout.addLayout(self._table_buttons(self.metrics_table, "metrics"))
        layout.addWidget(QLabel("lesion ROIs (edit the 'lesion ROI' / 'reference ROI' shapes)"))
        layout.addWidget(self.rois)
        layout.addLayout(self._table_buttons(self.roi_table, "rois"))

    # --- programmatic surface ---------------------------------------------------------------

    def load(self, path) -> None:
        """Open a file (validated by mrirecon; bad files are reported in the status line)."""
        import mrirecon

        try:
            self.scan = mrirecon.load(path)
        except mrirecon.InputError as e:
            self.scan = None
            self.status.setText(str(e))
            return
        self.path_edit.setText(str(path))
        n = self.scan.kspace.shape[0]
        self.slice_spin.setRange(0, n - 1)
        self.virtual_coils.setRange(0, self.scan.kspace.shape[1])  # 0: all
        lesions = self.scan.lesion_mask
        # start on the slice with the most lesion, else the middle one
        best = int((lesions > 0).sum(axis=(1, 2)).argmax()) if lesions is not None and lesions.any() else n // 2
        self.slice_spin.setValue(best)
        self.sampling.setCurrentText("file" if self.scan.prospective else "retrospective")
        self.status.setText(f"{Path(path).name}: {n} slices, {self.scan.kspace.shape[1]} coils, "
                            f"{'prospectively undersampled' if self.scan.prospective else 'fully sampled'}")
        self._update_preview()

    def checked_methods(self) -> list[str]:
        items = (self.methods.item(i) for i in range(self.methods.count()))
        return [it.text() for it in items if it.checkState() == Qt.Checked and it.flags() & Qt.ItemIsEnabled]

    def request(self, methods, **kw) -> _engine.Request:
        cf = self.center.value() or None
        return _engine.Request(
            methods=list(methods), slice=kw.get("slice", self.slice_spin.value()),
            sampling=kw.get("sampling", self.sampling.currentText()), mask=kw.get("mask", self.mask_kind.currentText()),
            acceleration=kw.get("acceleration", self.accel.value()), center_fraction=kw.get("center_fraction", cf),
            seed=kw.get("seed", self.seed.value()), device=kw.get("device", "auto"),
            threads=kw.get("threads", max(1, (os.cpu_count() or 2) - 1)),
            virtual_coils=kw.get("virtual_coils", self.virtual_coils.value() or None))

    def run(self, methods, wait: bool = False, **kw):
        """Start the reconstruction in a thread worker and return it (``wait`` blocks until done)."""
        from napari.qt.threading import create_worker
        from napari.utils import progress

        if self.scan is None:
            self.status.setText("no file loaded")
            return None
        for key, widget in (("mask", self.mask_kind), ("sampling", self.sampling)):
            if key in kw:
                widget.setCurrentText(kw[key])
        if "acceleration" in kw:
            self.accel.setValue(kw["acceleration"])
        req = self.request(methods, **kw)
        self.worker = create_worker(_engine.reconstruct, self.scan, req, _start_thread=False)
        self._pbar = progress(total=0, desc="reconstructing")
        self.worker.yielded.connect(self._on_item)
        self.worker.returned.connect(self._on_done)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.outcome = None
        self._running = True
        self.worker.start()
        if wait:
            self.wait()
        return self.worker

    def wait(self, timeout_s: float = 600.0) -> None:
        """Process Qt events until the current worker has finished."""
        import time

        t0 = time.time()
        while self._running and time.time() - t0 < timeout_s:
            QApplication.processEvents()
            time.sleep(0.01)
        QApplication.processEvents()

    def cancel(self) -> None:
        """Stop the running worker between two method steps."""
        if self.worker is not None:
            self.worker.quit()
            self.status.setText("cancelling…")

    def metrics_table(self) -> list[dict]:
        return [dict(r) for r in self._metric_rows]

    def roi_table(self) -> list[dict]:
        return [dict(r) for r in self._roi_rows]

    # --- worker callbacks -------------------------------------------------------------------

    def _on_item(self, item):
        if isinstance(item, _engine.Update):
            self.status.setText(f"{item.method}: step {item.step + 1}/{item.total} {item.message}")
            pbar = self._pbar  # None once the worker has finished (queued items may still arrive)
            if pbar is not None:
                pbar.set_description(f"{item.method} {item.step + 1}/{item.total}")
                pbar.update(1)
        else:
            self.status.setText(f"{item.method} done in {item.seconds:.2f} s")

    def _on_done(self, outcome):
        self.outcome = outcome
        _layers.show_results(self.viewer, outcome, self.errors_box.isChecked(), self.residual_box.isChecked())
        self._metric_rows = [{"method": m, **r.scores, "seconds": r.seconds} for m, r in outcome.results.items()]
        self._fill(self.metrics, METRIC_COLUMNS, self._metric_rows)
        self._setup_rois()
        self.viewer.reset_view()
        self.status.setText(f"done: {', '.join(outcome.results)} at {outcome.label}")

    def _on_error(self, exc):
        self.status.setText(f"error: {exc}")

    def _on_finished(self):
        self._running = False
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        if self.worker is not None and self.worker.abort_requested:
            self.status.setText("cancelled")

    # --- ROIs -------------------------------------------------------------------------------

    def _mark_dead(self, *_):
        self._alive = False

    def _setup_rois(self):
        out = self.outcome
        if out.reference is None:
            return
        labels = None
        if self.scan.lesion_mask is not None:
            labels = self.scan.lesion_mask[self.slice_spin.value()]
        polys = _roi.lesion_polygons(labels) if labels is not None else []
        box = roi.reference_box(out.reference, labels) if labels is not None else None
        layers = _layers.roi_layers(self.viewer, polys, box)
        if self._roi_callback is None:
            # layers outlive the widget: they hold a weak reference to it, never the widget itself
            ref = weakref.ref(self)

            def on_edit(event=None):
                widget = ref()
                if widget is not None and widget._alive:
                    widget._update_rois()

            self._roi_callback = on_edit
        for layer in layers.values():
            layer.events.data.disconnect(self._roi_callback)
            layer.events.data.connect(self._roi_callback)
        self._update_rois()

    def _update_rois(self, event=None):
        out = self.outcome
        if out is None or out.reference is None or "lesion ROI" not in self.viewer.layers:
            return
        shape = out.reference.shape
        lesion = _layers.roi_mask(self.viewer.layers["lesion ROI"], shape)
        ref = _layers.roi_mask(self.viewer.layers["reference ROI"], shape)
        if not lesion.any() or not ref.any():
            self._roi_rows = []
        else:
            images = {"reference": out.reference, **{m: _layers.crop_like(r.image, out.reference)
                                                     for m, r in out.results.items()}}
            self._roi_rows = roi.contrast_table(images, lesion, ref)
        self._fill(self.rois, ROI_COLUMNS, self._roi_rows)

    # --- tables -----------------------------------------------------------------------------

    @staticmethod
    def _fill(table, columns, rows):
        table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, col in enumerate(columns):
                v = row.get(col, "")
                table.setItem(i, j, QTableWidgetItem(f"{v:.4g}" if isinstance(v, float) else str(v)))
        table.resizeColumnsToContents()

    def _table_buttons(self, rows_fn, name):
        copy, save = QPushButton("Copy"), QPushButton("Save CSV…")
        copy.clicked.connect(lambda: QApplication.clipboard().setText(to_csv(rows_fn())))
        save.clicked.connect(lambda: self._save_csv(rows_fn(), name))
        row = QHBoxLayout()
        row.addWidget(copy)
        row.addWidget(save)
        return row

    def _save_csv(self, rows, name):
        path, _ = QFileDialog.getSaveFileName(self, f"Save {name}", f"{name}.csv", "CSV (*.csv)")
        if path:
            Path(path).write_text(to_csv(rows))

    # --- inputs -----------------------------------------------------------------------------

    def _browse(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open", "", "HDF5 (*.h5 *.hdf5)")
        if path:
            self.load(path)

    def _from_active_layer(self):
        layer = self.viewer.layers.selection.active
        path = (layer.metadata or {}).get("path") if layer is not None else None
        if path is None and layer is not None and layer.source.path:
            path = layer.source.path
        if path:
            self.load(path)
        else:
            self.status.setText("the active layer has no source file")

    def _update_preview(self, *_):
        if self.scan is None:
            return
        try:
            mask, achieved, label = _engine.sampling_mask(self.scan.shape, self.request([]), self.scan)
        except Exception as e:  # bad parameters: say so, keep the old preview
            self.achieved.setText(str(e))
            return
        img = np.ascontiguousarray((mask * 255).astype(np.uint8))
        q = QImage(img.data, img.shape[1], img.shape[0], img.shape[1], QImage.Format_Grayscale8).copy()
        self.preview.setPixmap(QPixmap.fromImage(q).scaled(96, 96, Qt.KeepAspectRatio))
        self.achieved.setText(f"{label}\nachieved {achieved:.2f}x")


def to_csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
