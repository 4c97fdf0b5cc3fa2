"""The Steps dock: a training run over its steps.

Three curves share the step axis (loss, on a log axis while it is positive; global gradient
norm, log; learning rate), and an image shows every parameterised module (rows) at every step
(columns): log10 of its gradient norm or of its update-to-weight ratio, switchable. Steps with a
NaN/Inf are marked in red. Clicking a step whose full record was kept asks the window to show
it (``sig_step_selected``). Everything is read from the record's StepHistory; the plot items are
made once and updated with setData/setImage.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.recording.record import RunRecord
from .plot_export import install_export_menu
from .plots import settle

IMAGE_CHOICES = (("log10 gradient norm", "grad_norm"),
                 ("log10 update / weight", "update_ratio"))

# One curve per param group (several optimizers or groups), up to this many.
LR_PENS = ("#2a8a2a", "#c05a00", "#1f5fbf", "#a02080", "#607000", "#008080")


class StepsPanel(QWidget):
    sig_step_selected = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.record: Optional[RunRecord] = None
        self._shown_steps = -1
        self.summary = QLabel("No training steps yet: run a script (torchlens-gui run SCRIPT) "
                              "or Debug > Run N Steps on a model file with optimizer().")
        self.summary.setWordWrap(True)
        self.image_choice = QComboBox()
        for text, key in IMAGE_CHOICES:
            self.image_choice.addItem(text, key)
        self.image_choice.setToolTip("What the module x step image shows")
        self.image_choice.currentIndexChanged.connect(lambda _i: self.refresh(force=True))
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("Image:"))
        top.addWidget(self.image_choice)

        self.graphics = pg.GraphicsLayoutWidget()
        install_export_menu(self.graphics, "training_steps")  # the four charts in one picture
        self.graphics.setMinimumHeight(260)
        self.loss_plot = self._plot("loss", row=0, col=0)
        self.grad_plot = self._plot("global gradient norm", row=0, col=1)
        self.lr_plot = self._plot("learning rate", row=1, col=0)
        self.image_plot = self._plot("modules x steps", row=1, col=1)
        for plot in (self.grad_plot, self.lr_plot, self.image_plot):
            plot.setXLink(self.loss_plot)
        pen = pg.mkPen("#1f5fbf", width=1.5)
        self.loss_curve = self.loss_plot.plot(pen=pen)
        self.grad_curve = self.grad_plot.plot(pen=pg.mkPen("#7a3fbf", width=1.5))
        self.lr_curves: list = []  # one per param group (made as groups appear)
        self.bad_marks = self.loss_plot.plot(pen=None, symbol="x", symbolSize=9,
                                             symbolPen=pg.mkPen("#d00000", width=2))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image_cmap = pg.colormap.get("viridis")
        self.image_plot.addItem(self.image)
        self.image_plot.getAxis("left").setStyle(showValues=False)
        self.cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen("#d08000", width=1))
                        for _ in range(4)]
        for plot, cursor in zip((self.loss_plot, self.grad_plot, self.lr_plot, self.image_plot),
                                self.cursors):
            plot.addItem(cursor, ignoreBounds=True)
            cursor.hide()
        self.graphics.scene().sigMouseClicked.connect(self._on_scene_clicked)
        grid = self.graphics.ci.layout
        for column in (0, 1):
            grid.setColumnStretchFactor(column, 1)
            grid.setColumnPreferredWidth(column, 300)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)

    def _plot(self, title: str, row: int, col: int) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=row, col=col)
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setTitle(title, size="9pt")
        plot.getAxis("left").setWidth(52)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setStyle(maxTickLevel=1)
        return plot

    # ---- data -------------------------------------------------------------------------------

    def set_record(self, record: RunRecord) -> None:
        self.record = record
        self._shown_steps = -1
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Redraw from the record's steps (nothing to do when no step was added)."""
        record = self.record
        steps = record.steps if record is not None else None
        count = len(steps) if steps is not None else 0
        if not force and count == self._shown_steps:
            return
        self._shown_steps = count
        if count == 0:
            for curve in (self.loss_curve, self.grad_curve, self.bad_marks, *self.lr_curves):
                curve.setData([], [])
            self.image.clear()
            return
        x = np.arange(1, count + 1, dtype=float)
        loss = np.array(steps.series("loss"), dtype=float)
        finite = loss[np.isfinite(loss)]
        log_loss = finite.size > 0 and bool((finite > 0).all())
        self.loss_plot.setLogMode(False, log_loss)
        _log_ticks(self.loss_plot, finite if log_loss else None)
        self.loss_plot.setTitle("loss (log axis)" if log_loss else "loss", size="9pt")
        self.loss_curve.setData(x, loss, connect="finite")
        bad = [f.step for f in steps if f.nonfinite]
        top = float(finite.max()) if finite.size else 1.0
        self.bad_marks.setData(bad, [top] * len(bad))  # on the top edge: NaN/Inf steps
        grad = np.array(steps.series("grad_norm"), dtype=float)
        grad_ok = grad[np.isfinite(grad)]
        log_grad = grad_ok.size > 0 and bool((grad_ok > 0).all())
        self.grad_plot.setLogMode(False, log_grad)
        _log_ticks(self.grad_plot, grad_ok if log_grad else None)
        self.grad_curve.setData(x, grad, connect="finite")
        groups = steps.lr_groups()[:len(LR_PENS)]
        while len(self.lr_curves) < len(groups):
            pen = pg.mkPen(LR_PENS[len(self.lr_curves)], width=1.5)
            self.lr_curves.append(self.lr_plot.plot(pen=pen))
        for index, curve in enumerate(self.lr_curves):
            curve.setData(x, np.array(groups[index], dtype=float) if index < len(groups)
                          else [], connect="finite")
        lr = np.array([v for group in groups for v in group], dtype=float)
        self._draw_image()
        last = steps.last
        kept = len(steps.kept)
        self.summary.setText(
            f"{count} step{'s' if count != 1 else ''}; last loss "
            f"{_fmt(last.loss)}, grad norm {_fmt(last.grad_norm)}"
            + (f", lr {', '.join(_fmt(v) for v in last.lr[:len(LR_PENS)])}" if last.lr
               else "")
            + (f"; NaN/Inf at step {bad[0]}" if bad else "")
            + f". Click a step to show it ({kept} kept with their module calls).")
        for plot in (self.loss_plot, self.grad_plot, self.lr_plot, self.image_plot):
            plot.enableAutoRange()
        rates = lr[np.isfinite(lr)]
        if rates.size and rates.min() == rates.max() > 0:
            # One rate throughout: pyqtgraph would centre it in a ±0.5 band, where 0.02 looks
            # like 0; show it between 0 and twice itself instead.
            self.lr_plot.setYRange(0, 2 * float(rates[0]), padding=0)
        settle(self.graphics)

    def _draw_image(self) -> None:
        key = self.image_choice.currentData()
        modules, rows = self.record.steps.module_matrix(key)
        if not modules:
            self.image.clear()
            return
        missing = np.array([[v is None for v in row] for row in rows], dtype=bool).T \
            if any(None in row for row in rows) else np.zeros((len(modules), len(rows)), bool)
        raw = np.array(rows, dtype=float).T  # modules x steps (None: NaN, told apart above)
        with np.errstate(divide="ignore", invalid="ignore"):
            data = np.log10(raw)
        ok = data[np.isfinite(data)]
        low = float(ok.min()) if ok.size else 0.0
        high = float(ok.max()) if ok.size and ok.max() > low else low + 1.0
        levels = (low, high)
        # Colours made here so NaN/Inf gets its own (red) and no data its own (grey).
        lut = self.image_cmap.getLookupTable(nPts=256, alpha=True)
        scaled = np.nan_to_num(data, nan=low, posinf=high, neginf=low)
        index = np.clip((scaled - low) / (high - low) * 255, 0, 255)
        rgba = lut[index.astype(np.int64)]
        rgba[~np.isfinite(raw)] = (215, 25, 28, 255)
        rgba[missing] = (160, 160, 160, 255)  # the module had no figure at that step
        self.image.setImage(rgba)
        # Pixel (0, 0) covers step 1 and the first module.
        self.image.setRect(0.5, 0, len(rows), len(modules))
        axis = self.image_plot.getAxis("left")
        axis.setStyle(showValues=True)
        if len(modules) <= 40:
            axis.setTicks([[(i + 0.5, name.rsplit(".", 1)[-1] if len(name) > 8 else name)
                            for i, name in enumerate(modules)]])
        else:
            axis.setTicks(None)
        self.image_plot.setTitle(f"{self.image_choice.currentText()}: {levels[0]:.2g} (dark) "
                                 f"to {levels[1]:.2g} (yellow)", size="9pt")
        self.image_plot.setToolTip("Rows: modules with parameters; columns: steps. Red: "
                                   "NaN/Inf; grey: no figure at that step; the colour runs "
                                   "over log10 of the figure.")

    # ---- clicks -----------------------------------------------------------------------------

    def show_step(self, step: Optional[int]) -> None:
        """Mark ``step`` on every plot (None: no mark)."""
        for cursor in self.cursors:
            cursor.setVisible(step is not None)
            if step is not None:
                cursor.setValue(step)

    def step_at(self, scene_pos) -> Optional[int]:
        for plot in (self.loss_plot, self.grad_plot, self.lr_plot, self.image_plot):
            if plot.sceneBoundingRect().contains(scene_pos):
                x = plot.vb.mapSceneToView(scene_pos).x()
                count = len(self.record.steps) if self.record is not None else 0
                step = int(round(x))
                return step if 1 <= step <= count else None
        return None

    def _on_scene_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        step = self.step_at(event.scenePos())
        if step is not None:
            self.show_step(step)
            self.sig_step_selected.emit(step)


def _log_ticks(plot: pg.PlotItem, values: Optional[np.ndarray]) -> None:
    """Labels of a log axis at powers of ten (with 2x and 5x within less than two decades, and
    a few rounded values within one): pyqtgraph labels every minor tick of a short log range,
    and they overlap."""
    axis = plot.getAxis("left")
    if values is None:
        axis.setTicks(None)
        return
    vmin, vmax = float(values.min()), float(values.max())
    low, high = math.floor(math.log10(vmin)), math.ceil(math.log10(vmax))
    steps = (1, 2, 5) if high - low <= 2 else (1,)
    decades = range(low, high + 1, max(1, (high - low) // 3))  # at most ~4 labels
    marks = [m * 10.0 ** k for k in decades for m in steps]
    if sum(vmin <= v <= vmax for v in marks) < 2:  # a range within one step of those
        digits = 2 + max(0, math.ceil(-math.log10(max((vmax - vmin) / vmax, 1e-6))))
        marks = sorted({float(f"{v:.{digits}g}") for v in np.linspace(vmin, vmax, 4)})
    axis.setTicks([[(math.log10(v), _fmt(v)) for v in marks if v > 0], []])


def _fmt(value: Optional[float]) -> str:
    if value is None or not math.isfinite(value):
        return str(value) if value is not None else "-"
    return f"{value:.4g}"
