"""NaN/Inf panel: non-finite element counts of every module call in execution order, with the
call where they were first born marked, and a clickable list of the affected calls and of the
modules whose parameters' gradients hold NaN/Inf. A NaN/Inf born outside any forward call (in
backward, the optimizer's update) is told as the step's diagnostic says it."""

from __future__ import annotations

import html
from typing import Optional

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QSplitter, QVBoxLayout, \
    QWidget

from ...core.diagnostics import codes
from ...core.recording.record import CallRecord, RunRecord
from .. import style
from ..module_model import param_grad_counts
from .plots import make_plot, settle

MAX_LISTED = 300  # a list of every call of a 10,000-module model helps nobody


class NonFinitePanel(QWidget):
    """Where NaN and Inf appear along the run."""

    sig_call_selected = Signal(str, int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No NaN or Inf seen so far", self)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.plot = make_plot("module call (execution order)", "NaN + Inf elements")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=style.PLOT_BAD)
        self.plot.addItem(self.bars)
        self.origin_bar = pg.BarGraphItem(x=[], height=[], width=0.8, brush=style.plot_origin())
        self.plot.addItem(self.origin_bar)
        self.origin_label = pg.TextItem("", color=style.plot_origin(), anchor=(0.5, 1))
        self.plot.addItem(self.origin_label)
        self.list = QListWidget(self)
        self.list.itemActivated.connect(self._on_list_item)
        self.list.itemClicked.connect(self._on_list_item)
        splitter = self.chart_and_list = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.list)
        splitter.hide()  # nothing to chart until a NaN/Inf appears: the summary line says so
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        layout.addStretch(0)
        self._shown = -1
        style.on_palette_changed(self._on_palette_changed)

    def _on_palette_changed(self) -> None:
        self.origin_bar.setOpts(brush=style.plot_origin())
        self.origin_label.setColor(style.plot_origin())

    def start_over(self, record: RunRecord) -> None:
        """A new run: redraw from ``record`` even if its counts match the last run's."""
        self._shown = None
        self.refresh(record)

    def refresh(self, record: RunRecord) -> None:
        """Redraw from the record (cheap when nothing non-finite happened)."""
        bad = [c for c in record.calls if c.output_nonfinite or c.grad_nonfinite]
        # Where core says the step's NaN/Inf was born, also outside any forward call
        # (backward, the optimizer's update), and the parameters whose gradients show it.
        birth = record.nonfinite_birth(codes.NONFINITE_CODES)
        params = [path for path in record.nodes if record.param_grads_nonfinite(path)]
        key = (len(record.calls), len(bad), sum(len(c.grads) for c in bad), birth,
               tuple(params), record.calls_step)
        if key == self._shown:
            return
        self._shown = key
        self.chart_and_list.setVisible(bool(bad or birth or params))
        origin = record.nonfinite_origin()
        xs = [c.order for c in bad if c.output_nonfinite]
        heights = [c.output_nonfinite_count for c in bad if c.output_nonfinite]
        self.plot.setVisible(bool(xs))  # nothing to chart when no forward output holds one
        self.bars.setOpts(x=xs, height=heights)
        self.origin_bar.setOpts(x=[origin.order] if origin else [],
                                height=[origin.output_nonfinite_count] if origin else [])
        self.plot.setXRange(-1, max(len(record.calls), 1), padding=0)
        self.plot.setYRange(0, max(heights, default=1) * 1.25, padding=0)  # room for the label
        _whole_ticks(self.plot.getAxis("bottom"), len(record.calls))
        _whole_ticks(self.plot.getAxis("left"), max(heights, default=1))
        if origin is not None:
            self.origin_label.setText(f"first: {origin.path or '(root)'}")
            self.origin_label.setPos(origin.order, origin.output_nonfinite_count)
            self.summary.setText(
                f"First NaN/Inf born in <b>{origin.path or '(root)'}</b> (call "
                f"{origin.call_index}): finite inputs, {origin.output_nonfinite_count} non-finite "
                f"output elements. {len(bad)} call(s) affected.")
        elif birth is not None:
            self.origin_label.setText("")
            self.summary.setText(
                f"NaN/Inf born in <b>{birth.phase}</b> at <b>"
                f"{html.escape(birth.module or '(root)')}</b>. {html.escape(birth.message)}."
                + (f" {len(bad)} call(s) affected." if bad else ""))
        else:
            self.origin_label.setText("")
            self.summary.setText(f"{len(bad)} call(s) with NaN/Inf" if bad
                                 else "No NaN or Inf seen so far")
        settle(self.plot)
        self._fill_list(bad, origin)
        self._list_params(record, params, None if origin is not None or birth is None
                          else birth.module)

    def _list_params(self, record: RunRecord, paths: list[str], born: Optional[str]) -> None:
        """A line per module whose parameters' gradients hold NaN/Inf (or overflowed)."""
        for path in paths[:MAX_LISTED]:
            counts = param_grad_counts(record.nodes[path])
            text = f"{path or '(root)'} parameters: gradient " + (
                counts or f"norm {style.format_number(record.grad_norm(path))} (overflowed)")
            if path == born:
                text += "   ← born here"
            item = QListWidgetItem(text, self.list)
            last = record.last_call(path)
            item.setData(Qt.ItemDataRole.UserRole, (path, last.call_index if last else 0))
            if path == born:
                item.setBackground(style.NONFINITE_BRUSH)

    def _fill_list(self, bad: list[CallRecord], origin: Optional[CallRecord]) -> None:
        self.list.clear()
        shown = bad[:MAX_LISTED]
        if origin is not None and all(c is not origin for c in shown):
            shown = [origin] + shown
        for call in shown:
            grads = sum(g.nan + g.inf for g in call.grads.values())
            text = f"#{call.order}  {call.path or '(root)'} call {call.call_index}: "
            text += style.nonfinite_text(sum(s.nan for s in call.outputs),
                                         sum(s.inf for s in call.outputs)) or "finite output"
            if grads:
                text += f", gradient NaN/Inf {grads}"
            if call is origin:
                text += "   ← born here"
            item = QListWidgetItem(text, self.list)
            item.setData(Qt.ItemDataRole.UserRole, (call.path, call.call_index))
            if call is origin:
                item.setBackground(style.NONFINITE_BRUSH)
        if len(bad) > len(shown):
            QListWidgetItem(f"… and {len(bad) - len(shown)} more calls", self.list)

    def _on_list_item(self, item: QListWidgetItem) -> None:
        data = item.data(Qt.ItemDataRole.UserRole)
        if data is not None:  # the "… and N more" line has none
            self.sig_call_selected.emit(*data)


def _whole_ticks(axis: pg.AxisItem, span: float) -> None:
    """Calls and element counts are whole numbers: on a short axis a tick per unit (not
    0.5 steps); on a long one pyqtgraph's own spacing."""
    if span <= 12:
        axis.setTickSpacing(1, 1)
    else:
        axis.setTickSpacing()
