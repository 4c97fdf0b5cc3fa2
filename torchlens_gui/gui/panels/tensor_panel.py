"""Tensor panel: inputs, outputs, output gradients and parameters of the selected module call,
with shape, dtype, device, min/max/mean/std and NaN/Inf counts; for a failed call, the
diagnostic's expected-against-actual facts."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTreeWidgetItem, QVBoxLayout, \
    QWidget

from ...core.recording import events as ev
from ...core.recording.record import CallRecord, RunRecord
from .. import style
from ..module_model import display_name
from .plots import make_table

# NaN/Inf first after the type: they are why most people look here, and they must stay in view
# at the default width; the device (rarely news) last.
COLUMNS = ("Name", "Shape", "Dtype", "NaN", "Inf", "Zeros", "Min", "Max", "Mean", "Std",
           "Device")
WIDTHS = (12, 11, 8, 4, 4, 5, 9, 9, 9, 8, 4)  # characters: fits ~640 px with a 10-char number
COLUMN_TIPS = {"NaN": "NaN elements", "Inf": "Inf elements",
               "Zeros": "Share of elements exactly zero (a ReLU that zeroed everything: 100%)",
               "Min": "Smallest finite value", "Max": "Largest finite value",
               "Mean": "Mean of the finite values", "Std": "Standard deviation of the finite "
               "values"}


def summary_cells(summary: ev.TensorSummary) -> list[str]:
    """The row of COLUMNS for one tensor (or the text of a non-tensor value)."""
    if not summary.is_tensor:
        return [summary.name or "value", summary.text] + [""] * (len(COLUMNS) - 2)
    f = style.format_number
    return [summary.name or "tensor", summary.shape_text(), summary.dtype or "",
            str(summary.nan) if summary.nan else "", str(summary.inf) if summary.inf else "",
            _percent(summary.zero_fraction), f(summary.min), f(summary.max), f(summary.mean),
            f(summary.std), summary.device or ""]


class TensorPanel(QWidget):
    """What one call of a module saw and produced."""

    sig_call_selected = Signal(str, int)  # the user picked another call of the same module
    # A tensor row double-clicked: (role "input"/"output"/"grad", summary name), for the viewer.
    sig_tensor_activated = Signal(str, str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Select a module to see its tensors", self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.call_combo = QComboBox(self)
        self.call_combo.setToolTip("Calls of this module recorded so far")
        self.call_combo.activated.connect(self._on_call_combo_activated)
        self.call_combo.setVisible(False)  # only for modules called more than once
        self.tree = make_table(self, COLUMNS, WIDTHS)
        self.tree.setIndentation(12)  # nested rows (a parameter's grad) keep their names
        for column, title in enumerate(COLUMNS):
            if title in COLUMN_TIPS:
                self.tree.headerItem().setToolTip(column, COLUMN_TIPS[title])
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.call_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.tree)
        self.tree.itemDoubleClicked.connect(self._on_tree_item_double_clicked)
        self._path: Optional[str] = None

    def show_call(self, record: RunRecord, path: Optional[str],
                  call: Optional[CallRecord]) -> None:
        """Fill the panel from ``call`` of module ``path`` (call None: not run yet)."""
        self._path = path
        self.tree.clear()
        self._fill_combo(record, path, call)
        if path is None:
            self.title.setText("Select a module to see its tensors")
            return
        node = record.nodes.get(path)
        kind = node.type_name if node else ""
        state = "not run yet" if call is None else f"call {call.call_index} · {call.status}"
        self.title.setText(f"<b>{path or '(root)'}</b> &nbsp;{kind} &nbsp;— {state}")
        self._add_problems(record, path, call)
        if call is not None:
            self._add_section("Inputs", call.inputs, "input")
            if call.status == ev.CallStatus.RUNNING and not call.outputs:
                pending = QTreeWidgetItem(self.tree, ["Outputs: not computed yet (paused on "
                                                      "entry; step to see them)"])
                pending.setFirstColumnSpanned(True)
                pending.setForeground(0, style.DIM_BRUSH)
            else:
                self._add_section("Outputs", call.outputs, "output")
            if call.grads:
                self._add_section("Gradient at output",
                                  [call.grads[i] for i in sorted(call.grads)], "grad")
        if node is not None and node.params:
            self._add_params(node.params)

    # ---- sections ---------------------------------------------------------------------------

    def _add_section(self, title: str, summaries, unnamed: str) -> None:
        section = QTreeWidgetItem(self.tree, [f"{title} ({len(summaries)})"])
        section.setFirstColumnSpanned(True)
        for summary in summaries:
            item = self._add_row(section, summary, None if summary.name else unnamed)
            if summary.is_tensor:
                item.setData(0, Qt.ItemDataRole.UserRole, (unnamed, summary.name))
                item.setToolTip(0, "Double-click: its values in the Tensor Viewer (when kept)")
        section.setExpanded(True)

    def _add_row(self, parent: QTreeWidgetItem, summary: ev.TensorSummary,
                 name: Optional[str] = None) -> QTreeWidgetItem:
        cells = summary_cells(summary)
        if name is not None:
            cells[0] = name
        item = QTreeWidgetItem(parent, cells)
        if not summary.finite:
            for column in range(len(COLUMNS)):
                item.setBackground(column, style.NONFINITE_BRUSH)
        return item

    def _add_params(self, params: tuple[ev.ParamInfo, ...]) -> None:
        section = QTreeWidgetItem(self.tree, [f"Parameters ({len(params)})"])
        section.setFirstColumnSpanned(True)
        for param in params:
            if param.stats is not None:
                item = self._add_row(section, param.stats, param.name)
            else:
                shape = "uninitialised" if param.shape is None else ev.shape_text(param.shape)
                item = QTreeWidgetItem(section, [param.name, shape, param.dtype])
            if param.grad is not None:
                self._add_row(item, param.grad, "grad")
                item.setExpanded(True)
        section.setExpanded(True)

    def _add_problems(self, record: RunRecord, path: str, call: Optional[CallRecord]) -> None:
        diagnostics = record.diagnostics_of(path, call.call_index if call is not None else None)
        if not diagnostics:
            return
        section = QTreeWidgetItem(self.tree, [f"Problems ({len(diagnostics)})"])
        section.setFirstColumnSpanned(True)
        for diagnostic in diagnostics:
            item = QTreeWidgetItem(section, [f"{diagnostic.code}: {diagnostic.message}"])
            item.setIcon(0, style.severity_icon(diagnostic.severity))
            item.setFirstColumnSpanned(True)
            item.setToolTip(0, diagnostic.message)
            for key, value in diagnostic.details:  # expected / actual, as the engine found them
                detail = QTreeWidgetItem(item, [f"{key}: {value}"])
                detail.setFirstColumnSpanned(True)  # a fact is one line, not two cut cells
                detail.setToolTip(0, f"{key}: {value}")
            item.setExpanded(True)
        section.setExpanded(True)

    def _on_tree_item_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        tensor = item.data(0, Qt.ItemDataRole.UserRole)
        if tensor:
            self.sig_tensor_activated.emit(*tensor)

    # ---- call selector ----------------------------------------------------------------------

    def _fill_combo(self, record: RunRecord, path: Optional[str],
                    call: Optional[CallRecord]) -> None:
        self.call_combo.clear()
        calls = record.calls_of(path) if path is not None else []
        for c in calls:
            self.call_combo.addItem(f"{display_name(path)} call {c.call_index}", c.call_index)
        if call is not None:
            self.call_combo.setCurrentIndex(max(0, self.call_combo.findData(call.call_index)))
        self.call_combo.setVisible(len(calls) > 1)

    def _on_call_combo_activated(self, row: int) -> None:
        if self._path is not None and row >= 0:
            self.sig_call_selected.emit(self._path, int(self.call_combo.itemData(row)))


def _percent(fraction) -> str:
    """Share of exact zeros ("dead" ReLU outputs show as a high share); blank when unknown."""
    if fraction is None:
        return ""
    return f"{fraction:.0%}" if fraction in (0.0, 1.0) or fraction >= 0.01 else "<1%"
