"""Plot widgets shared by the panels. Plot items are created once and updated with setData, so a
refresh never rebuilds a scene."""

from __future__ import annotations

import math
import weakref
from typing import Optional, Sequence

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtWidgets import QComboBox, QLabel, QTreeWidget, QVBoxLayout, QWidget

from ...core.recording.events import TensorSummary
from .. import style
from .plot_export import install_export_menu

pg.setConfigOptions(background="w", foreground="k", antialias=True)
# A scatter item costs Python work per point: thousands of × marks would cost more than the bars.
MAX_MARKS = 1000


def settle(plot: pg.PlotWidget) -> None:
    """Apply a changed range now. Left to the paint, the view box and axes would change during
    it and ask for a second paint of the whole plot."""
    plot.scene().prepareForPaint()


_plots: "weakref.WeakSet[pg.PlotWidget]" = weakref.WeakSet()


def _theme_plot(plot: pg.PlotWidget) -> None:
    dark = style.is_dark()
    plot.setBackground(style.PLOT_BACKGROUND[dark])
    pen = pg.mkPen(style.PLOT_FOREGROUND[dark])
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen(pen)
        plot.getAxis(axis).setTextPen(pen)


def _on_palette_changed() -> None:
    for plot in list(_plots):
        if shiboken6.isValid(plot):  # not a plot of a window already closed
            _theme_plot(plot)
        else:
            _plots.discard(plot)


style.on_palette_changed(_on_palette_changed)


def make_plot(x_label: str = "", y_label: str = "") -> pg.PlotWidget:
    plot = pg.PlotWidget()
    _plots.add(plot)
    _theme_plot(plot)
    plot.setMenuEnabled(False)
    plot.showGrid(x=True, y=True, alpha=0.2)
    for axis in ("left", "bottom"):
        # Without the faintest third level of grid lines a plot paints in half the time.
        plot.getAxis(axis).setStyle(maxTickLevel=1)
    plot.setMinimumHeight(120)
    if x_label:
        plot.setLabel("bottom", x_label)
    if y_label:
        plot.setLabel("left", y_label)
    # Right click: export to PNG or SVG (the view box's own menu stays off).
    install_export_menu(plot, (y_label or "plot").replace(" ", "_").replace("/", "_"))
    return plot

# Histograms are kept at problems, around them and for the last calls of a free run: say how
# to get one for any other call.
NOT_RECORDED = ("No histogram for this call: a free run keeps them only at problems and for its "
                "last calls. Set a breakpoint here (F9) or step (F10/F11) to get one.")


class HistogramPlot(QWidget):
    """Histogram of one tensor's finite values, with its NaN/Inf counts spelled out beside it
    (a histogram alone would silently drop them). Without a histogram the plot gives way to one
    line saying why and how to get one."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.plot = make_plot("value", "count")
        self.curve = self.plot.plot([0, 1], [0], stepMode="center", fillLevel=0,
                                    brush=(*style.PLOT_BAR, 150), pen=pg.mkPen(style.PLOT_BAR))
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.message = QLabel(self)  # the one line shown instead of an empty plot
        self.message.setWordWrap(True)
        self.message.setEnabled(False)  # drawn in the palette's dim text colour
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.message)
        layout.addWidget(self.plot, 1)
        layout.addStretch(0)
        self.show_summary(None)

    def show_summary(self, summary: Optional[TensorSummary], title: str = "") -> None:
        """Plot ``summary.hist``; say so plainly when there is nothing to plot."""
        hist = summary.hist if summary is not None else None
        if summary is None:  # one line: what is missing, and how to get it
            self.caption.hide()
            self._empty(title or "Select a module call to see the distribution of its tensors.")
            return
        self.caption.show()
        self.caption.setText(caption_text(summary, title))
        if hist is None or not hist.counts:
            if summary.numel and summary.nan + summary.inf >= summary.numel:
                reason = "Every value is NaN/Inf: nothing finite to plot."
            else:
                reason = NOT_RECORDED if hist is None else "No finite values to plot."
            self._empty(reason)
            return
        self.message.hide()
        self.message.setText("")
        self.plot.show()
        edges = np.asarray(hist.edges, dtype=float)
        counts = np.asarray(hist.counts, dtype=float)
        self.curve.setData(edges, counts)
        # Set here rather than by auto-range, which the view box works out while painting.
        self.plot.setRange(xRange=(edges[0], edges[-1]), yRange=(0, max(counts.max(), 1)),
                           padding=0.02)  # fixed: the automatic one depends on the size
        settle(self.plot)

    def _empty(self, text: str) -> None:
        self.plot.hide()
        self.message.setText(text)
        self.message.show()


def caption_text(summary: TensorSummary, title: str = "") -> str:
    """One rich-text line: what the tensor is, its range, and any NaN/Inf in red."""
    parts = [f"<b>{title}</b>" if title else ""]
    if summary.shape is not None:
        parts.append(f"{summary.shape_text()} {summary.dtype or ''}")
    if summary.min is not None:
        f = style.format_number
        parts.append(f"min {f(summary.min)} · max {f(summary.max)} · mean {f(summary.mean)} · "
                     f"std {f(summary.std)}")
    bad = style.nonfinite_text(summary.nan, summary.inf)
    parts.append(f"<span style='color:{style.html_color('bad')}'><b>{bad}</b></span>" if bad
                 else f"<span style='color:{style.html_color('ok')}'>all finite</span>")
    return " &nbsp; ".join(p for p in parts if p)


class LogBarChart(QWidget):
    """Bars of positive values on a log axis (pyqtgraph bars cannot log-transform, so heights
    are log10 values and the axis labels them as powers of ten). One bar item per colour: an
    item with one brush draws its bars in one call, one with a brush per bar bar by bar."""

    def __init__(self, x_label: str, y_label: str, parent: Optional[QWidget] = None,
                 empty_text: str = "Nothing to plot yet.") -> None:
        super().__init__(parent)
        self.plot = make_plot(x_label, y_label)
        self.plot.getAxis("left").setLogMode(True)
        self.bars: dict[tuple, pg.BarGraphItem] = {}
        self.marks = pg.ScatterPlotItem(size=9, brush=style.PLOT_BAD, symbol="x")
        self.plot.addItem(self.marks)
        # Without values an empty log axis labels itself over and over: one line instead.
        self.empty_text = empty_text
        self.message = QLabel(empty_text, self)
        self.message.setWordWrap(True)
        self.message.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(self.plot, 1)
        self.plot.hide()
        self.values: list[Optional[float]] = []

    def set_values(self, values: Sequence[Optional[float]], labels: Sequence[str],
                   colors: Optional[Sequence[tuple]] = None) -> None:
        """One bar per value; zero, missing or non-finite values get an × on the baseline."""
        self.values = list(values)
        self.plot.setVisible(bool(self.values))
        self.message.setVisible(not self.values)
        array = np.array([np.nan if v is None else v for v in self.values], dtype=float)
        drawn = np.isfinite(array) & (array > 0)
        logs = np.log10(array[drawn])
        base = math.floor(logs.min()) - 1 if logs.size else -1.0
        xs = np.arange(len(array))
        shades = colors if colors else [style.PLOT_BAR] * len(array)
        for color in set(shades) | set(self.bars):
            mine = drawn & np.fromiter((c == color for c in shades), bool, len(array)) \
                if color in shades else np.zeros(len(array), bool)
            item = self.bars.get(color)
            if item is None:
                item = self.bars[color] = pg.BarGraphItem(x=[], height=[], width=0.7,
                                                          brush=color)
                self.plot.addItem(item)
            item.setOpts(x=xs[mine], height=np.log10(array[mine]) - base, y0=base)
        missing = xs[~drawn & np.array([v is not None for v in self.values], bool)]
        if missing.size > MAX_MARKS:  # one mark per stretch of bars narrower than a pixel
            stretch = len(array) / MAX_MARKS
            missing = np.unique((missing // stretch * stretch).astype(int))
        self.marks.setData(x=missing, y=np.full(missing.size, base))
        axis = self.plot.getAxis("bottom")
        step = max(1, len(labels) // 12)  # keep tick labels readable on deep models
        axis.setTicks([[(i, labels[i]) for i in range(0, len(labels), step)]])
        self.plot.setXRange(-0.6, max(len(array), 1) - 0.4, padding=0)
        top = float(logs.max()) if logs.size else base
        # At least three decades, so the log axis shows clean powers of ten.
        self.plot.setYRange(base, max(top + 0.3, base + 3), padding=0)
        settle(self.plot)


class HistogramPicker(QWidget):
    """A combo of tensors above the histogram of the chosen one. The user's pick (by label)
    survives refreshes; otherwise the first entry is shown."""

    def __init__(self, tooltip: str, empty_text: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.empty_text = empty_text
        self.combo = QComboBox(self)
        self.combo.setToolTip(tooltip)
        self.combo.currentIndexChanged.connect(self._on_combo_changed)
        self.combo.activated.connect(self._on_combo_activated)
        self.histogram = HistogramPlot(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.histogram, 1)
        self._choices: list[tuple[str, TensorSummary]] = []
        self._user_choice = ""

    def set_choices(self, choices: list[tuple[str, TensorSummary]]) -> None:
        self._choices = choices
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems([label for label, _ in choices])
        self.combo.setEnabled(bool(choices))
        kept = self.combo.findText(self._user_choice) if self._user_choice else -1
        if kept < 0:  # the first tensor with something to plot
            kept = next((row for row, (_, s) in enumerate(choices)
                         if s.hist is not None and s.hist.counts), 0)
        self.combo.setCurrentIndex(kept)
        self.combo.blockSignals(False)
        self._on_combo_changed(self.combo.currentIndex())

    @property
    def shown(self) -> Optional[TensorSummary]:
        row = self.combo.currentIndex()
        return self._choices[row][1] if 0 <= row < len(self._choices) else None

    def _on_combo_activated(self, row: int) -> None:
        self._user_choice = self.combo.itemText(row)

    def _on_combo_changed(self, row: int) -> None:
        if 0 <= row < len(self._choices):
            label, summary = self._choices[row]
            self.histogram.show_summary(summary, label)
        else:
            self.histogram.show_summary(None, self.empty_text)


def make_table(parent: QWidget, columns: Sequence[str], widths: Sequence[int]):
    """A QTreeWidget used as a compact table; ``widths`` in characters, for the first columns."""
    tree = QTreeWidget(parent)
    tree.setColumnCount(len(columns))
    tree.setHeaderLabels(list(columns))
    tree.setUniformRowHeights(True)
    tree.setAlternatingRowColors(True)
    char = parent.fontMetrics().averageCharWidth()
    for column, width in enumerate(widths):
        tree.header().resizeSection(column, width * char + 12)
    return tree
