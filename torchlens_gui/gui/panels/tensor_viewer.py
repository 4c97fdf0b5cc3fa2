"""Tensor viewer: the actual values of a kept input, output or gradient of the selected call.

A heatmap of a 2-D slice (choose the two dims and an index for each other dim) with a colour
scale, a grid of feature maps for 4-D conv activations, and a value table with NaN, Inf and zero
cells highlighted. Tensors are kept by the session at pauses, at problems and at breakpoints, or
come from a snapshot saved with tensors (tensor_slicing.py: nothing is copied whole).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QSpinBox, QTableView,
                               QTabWidget, QVBoxLayout, QWidget)

from ...core.recording.record import CallRecord, RunRecord
from .. import style
from .plot_export import install_export_menu
from .plots import make_plot
from .tensor_slicing import (SliceSpec, cell_kind, default_spec, feature_maps, finite_range,
                             is_feature_maps, picture, slice_2d)

COLOR_MAP = "viridis"
CELL_COLORS = {"nan": QColor(255, 150, 150), "inf": QColor(255, 200, 120),
               "zero": QColor(225, 225, 225)}
MAX_MARKS = 2000  # NaN/Inf marks drawn over the heatmap
ROLE_ORDER = {"input": 0, "output": 1, "grad": 2}
ROLE_TEXT = {"input": "input", "output": "output", "grad": "gradient"}
NOTHING_KEPT = ("No tensor values kept for this call. Values are kept where the session "
                "pauses (step with F10/F11), at NaN/Inf and other problems, and at breakpoints "
                "(F9); a snapshot holds them when saved with --save-tensors.")

Key = tuple[str, int, str, str]


def key_label(key: Key) -> str:
    _path, _call, role, name = key
    return f"{ROLE_TEXT.get(role, role)} {name}".strip()


class ValueTableModel(QAbstractTableModel):
    """The cells of a 2-D view, read one by one as the table paints them (never converted
    whole)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.view: Optional[torch.Tensor] = None

    def set_view(self, view: Optional[torch.Tensor]) -> None:
        self.beginResetModel()
        self.view = view
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if self.view is None or parent.isValid() else int(self.view.shape[0])

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if self.view is None or parent.isValid() else int(self.view.shape[1])

    def value(self, row: int, column: int) -> float:
        item = self.view[row, column]
        return float(item.abs() if item.is_complex() else item)

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if self.view is None or not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return style.format_number(self.value(index.row(), index.column()))
        if role == Qt.ItemDataRole.BackgroundRole:
            kind = cell_kind(self.value(index.row(), index.column()))
            return QBrush(CELL_COLORS[kind]) if kind else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"[{index.row()}, {index.column()}] = {self.value(index.row(), index.column())!r}"
        return None

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole) -> Any:
        return str(section) if role == Qt.ItemDataRole.DisplayRole else None


class SliceControls(QWidget):
    """Two dim pickers and an index box for each other dim."""

    def __init__(self, on_changed, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.on_changed = on_changed
        self.rows, self.cols = QComboBox(self), QComboBox(self)
        self.rows.setToolTip("Dim shown down the rows")
        self.cols.setToolTip("Dim shown across the columns")
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        for text, combo in (("rows: dim", self.rows), ("cols: dim", self.cols)):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            self.layout_.addWidget(QLabel(text, self))
            self.layout_.addWidget(combo)
            combo.activated.connect(lambda _i: self.on_changed())
        self.indices: list[QSpinBox] = []
        self.layout_.addStretch(1)

    def set_shape(self, shape: tuple[int, ...]) -> None:
        spec = default_spec(shape)
        for combo, value in ((self.rows, spec.rows), (self.cols, spec.cols)):
            combo.clear()
            combo.addItems([f"{d} (size {n})" for d, n in enumerate(shape)])
            combo.setCurrentIndex(value)
            combo.setEnabled(len(shape) > 2)
        for box in self.indices:
            self.layout_.removeWidget(box)
            box.deleteLater()
        self.indices = []
        for dim, size in enumerate(shape):
            box = QSpinBox(self)
            box.setPrefix(f"dim {dim} = ")
            box.setRange(0, max(size - 1, 0))
            box.setToolTip(f"Index into dim {dim} (size {size})")
            box.valueChanged.connect(lambda _v: self.on_changed())
            self.layout_.insertWidget(self.layout_.count() - 1, box)
            self.indices.append(box)
        self._enable_indices()

    def spec(self) -> SliceSpec:
        rows, cols = self.rows.currentIndex(), self.cols.currentIndex()
        if rows == cols and len(self.indices) > 1:  # the same dim twice: take the next one
            cols = (rows + 1) % len(self.indices)
            self.cols.setCurrentIndex(cols)
        self._enable_indices()
        return SliceSpec(rows, cols, tuple(box.value() for box in self.indices))

    def _enable_indices(self) -> None:
        chosen = {self.rows.currentIndex(), self.cols.currentIndex()}
        for dim, box in enumerate(self.indices):
            box.setVisible(dim not in chosen)


class TensorViewer(QWidget):
    """The viewer dock's panel: pick a kept tensor of the selected call, then look at it."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.record: Optional[RunRecord] = None
        self.keys: list[Key] = []
        self.tensor: Optional[torch.Tensor] = None
        self.view: Optional[torch.Tensor] = None  # the current 2-D slice (a view)
        self.title = QLabel("Select a module call", self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.tensor_combo = QComboBox(self)
        self.tensor_combo.setToolTip("The kept inputs, outputs and gradients of this call")
        self.tensor_combo.activated.connect(lambda i: self.show_tensor(self.keys[i]))
        self.slices = SliceControls(self._on_slice_changed, self)
        self.tabs = QTabWidget(self)
        self._build_heatmap()
        self._build_maps()
        self.table_model = ValueTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.table_model)
        self.table.horizontalHeader().setDefaultSectionSize(72)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.tabs.addTab(self.table, "Values")
        self.tabs.currentChanged.connect(lambda _i: self._refresh_view())
        top = QHBoxLayout()
        top.addWidget(QLabel("Tensor:", self))
        top.addWidget(self.tensor_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addLayout(top)
        layout.addWidget(self.slices)
        layout.addWidget(self.tabs, 1)
        self._set_enabled(False)

    # ---- building -----------------------------------------------------------------------

    def _build_heatmap(self) -> None:
        self.heat_plot = make_plot("column", "row")
        self.heat_plot.invertY(True)
        self.heat_plot.setAspectLocked(False)
        self.heat_image = pg.ImageItem()
        self.heat_plot.addItem(self.heat_image)
        self.colormap = pg.colormap.get(COLOR_MAP)
        self.color_bar = pg.ColorBarItem(values=(0, 1), colorMap=self.colormap,
                                         label="value (finite)", interactive=False)
        self.color_bar.setImageItem(self.heat_image, insert_in=self.heat_plot.getPlotItem())
        self.nan_marks = pg.ScatterPlotItem(symbol="x", size=8, pen=pg.mkPen(style.PLOT_BAD),
                                            brush=None)
        self.inf_marks = pg.ScatterPlotItem(symbol="+", size=9, pen=pg.mkPen((230, 120, 0)),
                                            brush=None)
        self.heat_plot.addItem(self.nan_marks)
        self.heat_plot.addItem(self.inf_marks)
        self.heat_caption = QLabel(self)
        self.heat_caption.setWordWrap(True)
        page = QWidget(self)
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.heat_caption)
        box.addWidget(self.heat_plot, 1)
        self.tabs.addTab(page, "Heatmap")

    def _build_maps(self) -> None:
        self.maps_page = QWidget(self)
        self.sample_box = QSpinBox(self.maps_page)
        self.sample_box.setPrefix("sample ")
        self.sample_box.valueChanged.connect(lambda _v: self._refresh_view())
        self.own_scale = QCheckBox("own scale per map", self.maps_page)
        self.own_scale.setToolTip("Colour each map from its own min to max (structure in every "
                                  "channel) instead of one scale for all (channels compared)")
        self.own_scale.toggled.connect(lambda _on: self._refresh_view())
        self.maps_caption = QLabel(self.maps_page)
        self.maps_caption.setWordWrap(True)
        self.maps_widget = pg.GraphicsLayoutWidget(self.maps_page)
        install_export_menu(self.maps_widget, "feature_maps")
        self.map_images: list[pg.ImageItem] = []
        top = QHBoxLayout()
        top.addWidget(self.sample_box)
        top.addWidget(self.own_scale)
        top.addWidget(self.maps_caption, 1)
        box = QVBoxLayout(self.maps_page)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(top)
        box.addWidget(self.maps_widget, 1)
        self.maps_tab = self.tabs.addTab(self.maps_page, "Feature maps")

    # ---- choosing ---------------------------------------------------------------------------

    def show_call(self, record: RunRecord, call: Optional[CallRecord]) -> None:
        """List the kept tensors of ``call``; keep looking at the same one when it is there."""
        self.record = record
        keys = [] if call is None else sorted(
            (k for k in record.tensors if k[0] == call.path and k[1] == call.call_index),
            key=lambda k: (ROLE_ORDER.get(k[2], 3), k[3]))
        current = self.keys[self.tensor_combo.currentIndex()] \
            if self.keys and self.tensor_combo.currentIndex() >= 0 else None
        if keys == self.keys and current is not None:
            return
        self.keys = keys
        self.tensor_combo.clear()
        self.tensor_combo.addItems([key_label(k) for k in keys])
        if call is None:
            self._nothing("Select a module call")
            return
        where = f"<b>{call.path or '(root)'}</b> call {call.call_index}"
        if not keys:
            self._nothing(f"{where}: {NOTHING_KEPT}")
            return
        # The output is what people usually want; a gradient in backward, else the first.
        preferred = next((k for k in keys if k[2] == "output"), keys[0])
        if current is not None and current[2:] in {k[2:] for k in keys}:
            preferred = next(k for k in keys if k[2:] == current[2:])
        self.show_tensor(preferred)

    def show_tensor(self, key: Key) -> None:
        """Look at one kept tensor (a key of ``record.tensors``)."""
        if self.record is None or key not in self.record.tensors:
            return
        self.tensor_combo.setCurrentIndex(self.keys.index(key) if key in self.keys else -1)
        tensor = self.record.tensors[key]
        self.tensor = tensor
        shape = tuple(tensor.shape)
        self.title.setText(f"<b>{key[0] or '(root)'}</b> call {key[1]} · {key_label(key)} · "
                           f"[{', '.join(map(str, shape))}] {str(tensor.dtype).replace('torch.', '')}")
        self._set_enabled(True)
        self.slices.set_shape(shape)
        maps = is_feature_maps(shape)
        self.tabs.setTabEnabled(self.maps_tab, maps)
        if maps:
            self.sample_box.setRange(0, shape[0] - 1)
            if self.tabs.currentIndex() != self.maps_tab:
                self.tabs.setCurrentIndex(self.maps_tab)
        elif self.tabs.currentIndex() == self.maps_tab:
            self.tabs.setCurrentIndex(0)
        self._on_slice_changed()

    def _nothing(self, text: str) -> None:
        self.tensor = self.view = None
        self.title.setText(text)
        self._set_enabled(False)
        self.table_model.set_view(None)
        self.heat_image.clear()
        self.nan_marks.setData([], [])
        self.inf_marks.setData([], [])
        self._clear_maps()

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.tensor_combo, self.slices, self.tabs):
            widget.setEnabled(enabled)

    # ---- drawing ------------------------------------------------------------------------------

    def _on_slice_changed(self) -> None:
        if self.tensor is None:
            return
        self.view = slice_2d(self.tensor, self.slices.spec())
        self.table_model.set_view(self.view)
        self._refresh_view()

    def _refresh_view(self) -> None:
        """Draw only the tab on screen (the others when they are chosen)."""
        if self.tensor is None or self.view is None:
            return
        page = self.tabs.currentIndex()
        if page == 0:
            self._draw_heatmap()
        elif page == self.maps_tab:
            self._draw_maps()

    def _draw_heatmap(self) -> None:
        values, row_step, col_step = picture(self.view)
        low, high = finite_range(values)
        self.heat_image.setImage(values.T, autoLevels=False)  # ImageItem is column-major
        self.heat_image.setRect(0, 0, values.shape[1] * col_step, values.shape[0] * row_step)
        self.color_bar.setLevels((low, high))
        nan_rows, nan_cols = np.nonzero(np.isnan(values))
        inf_rows, inf_cols = np.nonzero(np.isinf(values))
        self._mark(self.nan_marks, nan_rows, nan_cols, row_step, col_step)
        self._mark(self.inf_marks, inf_rows, inf_cols, row_step, col_step)
        rows, cols = self.view.shape
        strided = f"; every {row_step}th row, {col_step}th column" \
            if row_step > 1 or col_step > 1 else ""
        self.heat_caption.setText(
            f"{rows} x {cols} slice{strided} · colour {style.format_number(low)} … "
            f"{style.format_number(high)} · NaN × {len(nan_rows)}, Inf + {len(inf_rows)} "
            "(marked; not coloured)")

    @staticmethod
    def _mark(item: pg.ScatterPlotItem, rows, cols, row_step: int, col_step: int) -> None:
        rows, cols = rows[:MAX_MARKS], cols[:MAX_MARKS]
        item.setData((cols + 0.5) * col_step, (rows + 0.5) * row_step)

    def _clear_maps(self) -> None:
        self.maps_widget.clear()
        self.map_images = []

    def _draw_maps(self) -> None:
        tensor = self.tensor
        sample = self.sample_box.value()
        maps = feature_maps(tensor, sample)
        low, high = finite_range(np.concatenate([m.ravel() for m in maps]))
        self._clear_maps()
        columns = max(1, math.ceil(math.sqrt(len(maps))))
        lut = self.colormap.getLookupTable(nPts=256)
        own_scale = self.own_scale.isChecked()
        for channel, values in enumerate(maps):
            bad = not np.isfinite(values).all()
            dead = bool((values == 0).all())
            color = "#c00000" if bad else "#808080" if dead else "#202020"
            label = f"c{channel}" + (" NaN/Inf" if bad else " all 0" if dead else "")
            cell = self.maps_widget.addPlot(row=channel // columns, col=channel % columns,
                                            title=f"<span style='color:{color};"
                                                  f"font-size:8pt'>{label}</span>")
            cell.hideAxis("left")
            cell.hideAxis("bottom")
            cell.setMenuEnabled(False)
            cell.setMouseEnabled(False, False)
            cell.hideButtons()
            cell.invertY(True)
            cell.setAspectLocked(True)
            levels = finite_range(values) if own_scale else (low, high)
            image = pg.ImageItem(values.T, levels=levels, lut=lut)
            cell.addItem(image)
            self.map_images.append(image)
        shown = f"the first {len(maps)} of {tensor.shape[1]}" if tensor.shape[1] > len(maps) \
            else f"{len(maps)}"
        scale = f"each map on its own {COLOR_MAP} scale" if own_scale else \
            f"one {COLOR_MAP} scale: {style.format_number(low)} (dark) … " \
            f"{style.format_number(high)} (yellow)"
        self.maps_caption.setText(f"{shown} channels of sample {sample} · {scale} · red "
                                  "label: NaN/Inf, grey: all zero")
