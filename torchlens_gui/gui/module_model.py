"""Item model of the module tree over the GUI's RunRecord.

Rows are indexed once per tree (a path -> id table), so ``index``/``parent`` are dictionary
look-ups and a model of 10,000 modules stays fast; cell values are read from the record on
demand, and a drain's changes become dataChanged for the changed rows only.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QFont

from ..core.recording.paths import join_path, last_segment, path_segments
from ..core.recording import events as ev
from ..core.recording.record import RunRecord
from . import style

COLUMNS = ("Module", "Type", "Output shape", "Dtype", "Device", "Params", "NaN/Inf",
           "Grad norm", "Time")
COL_NAME, COL_TYPE, COL_SHAPE, COL_DTYPE, COL_DEVICE, COL_PARAMS, COL_NONFINITE, COL_GRAD, \
    COL_TIME = range(len(COLUMNS))

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
MAX_CHANGED_RANGES = 32
MAX_CHANGED_ROWS = 64

# The roles a view paints a cell with, as the ints multiData is handed.
_DISPLAY, _DECORATION, _FONT, _ALIGNMENT, _BACKGROUND, _FOREGROUND, _TOOLTIP, _PATH = (
    int(role) for role in (
        Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole, PATH_ROLE))
_RIGHT_ALIGNED = (COL_PARAMS, COL_GRAD, COL_TIME, COL_NONFINITE)
_ALIGNMENTS = tuple(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    if column in _RIGHT_ALIGNED else None for column in range(len(COLUMNS)))
# Above this many changed rows the cached cells are dropped wholesale.
MAX_FORGOTTEN_ROWS = 256

_TOOLTIPS = {
    COL_NONFINITE: "NaN and Inf elements in the module's last output (and in the gradient "
                   "that reached it in backward; \"param grads\": in its parameters' "
                   "gradients, \"overflow\" where their values are finite but their norm is "
                   "not)",
    COL_GRAD: "L2 norm of the gradients of the module's own parameters (after backward); "
              "before that, the norm of the gradient arriving at its output",
    COL_TIME: "Wall time of the module's last call, children included",
}


def nonfinite_parts(call) -> tuple[str, str]:
    """("NaN 48", "NaN 12"): non-finite counts of a call's outputs and of its gradients."""
    outs, grads = call.outputs, call.grads.values()
    return (style.nonfinite_text(sum(s.nan for s in outs), sum(s.inf for s in outs)),
            style.nonfinite_text(sum(g.nan for g in grads), sum(g.inf for g in grads)))


def param_grad_counts(node: ev.ModuleNode) -> str:
    """"NaN 16 Inf 4": non-finite counts over the gradients of a module's own parameters."""
    grads = [p.grad for p in node.params if p.grad is not None]
    return style.nonfinite_text(sum(g.nan for g in grads), sum(g.inf for g in grads))


def output_line(index: int, summary: ev.TensorSummary) -> str:
    """"[1] present: [2, 4, 16, 8] float32" (or the value's text for a non-tensor)."""
    name = summary.name or f"[{index}]"
    if not summary.is_tensor:
        return f"{name}: {summary.text}"
    return f"{name}: {summary.shape_text()} {summary.dtype or ''}".rstrip()


def display_name(path: str) -> str:
    """The last component of a dotted path; the root shows as "(root)"."""
    return last_segment(path) if path else "(root)"


def short_label(path: str) -> str:
    """A label that stays meaningful out of the tree: "encoder.2" rather than "2"."""
    parts = path_segments(path)
    if not parts:
        return "(root)"
    if parts[-1].isdigit() and len(parts) > 1:
        return join_path(parts[-2], parts[-1])
    return parts[-1]


class ModuleTreeModel(QAbstractItemModel):
    """One row per module of the record's tree, in registration order."""

    # Many rows changed at once (their paths): views repaint those they show instead of taking
    # a dataChanged per row.
    sig_rows_changed = Signal(object)

    def __init__(self, record: Optional[RunRecord] = None, parent=None,
                 breakpoints: Callable[[], frozenset[str]] = frozenset) -> None:
        super().__init__(parent)
        self.record = record or RunRecord()
        self.breakpoints = breakpoints  # asked of their owner (the session controller)
        self.current: Optional[str] = None
        self._ids: dict[str, int] = {}
        self._paths: list[str] = []
        self._children: dict[Optional[str], list[str]] = {}
        self._row: dict[str, int] = {}
        self._parent: dict[str, Optional[str]] = {}
        self._problem_paths: set[str] = set()
        # path -> what a view paints of the row (texts, decoration, font, foreground,
        # background); dropped for the rows refresh_paths names.
        self._cells: dict[str, tuple] = {}
        self._bold = QFont()
        self._bold.setBold(True)

    # ---- feeding ----------------------------------------------------------------------------

    def set_record(self, record: RunRecord) -> None:
        """Show another session's record (a restart): the rows are rebuilt."""
        self.record = record
        self.current = None
        self.rebuild()

    def rebuild(self) -> None:
        self.beginResetModel()
        self._ids.clear()
        self._paths.clear()
        self._children = {}
        self._row.clear()
        self._parent.clear()
        self._cells.clear()
        self._problem_paths = self.record.problem_paths()
        self._index_nodes(self.record.nodes.values())
        self.endResetModel()

    def _index_nodes(self, nodes: Iterable[ev.ModuleNode]) -> None:
        # Written with local names: at load this runs over every module of the model, on the
        # GUI thread (10,000 modules: ~4 ms, a method call per module made it ~15).
        ids, paths, children, rows, parents = (self._ids, self._paths, self._children,
                                               self._row, self._parent)
        for node in nodes:
            path, parent = node.path, node.parent
            if parent not in ids:
                parent = None
            siblings = children.get(parent)
            if siblings is None:
                siblings = children[parent] = []
            ids[path] = len(paths)
            paths.append(path)
            rows[path] = len(siblings)
            parents[path] = parent
            siblings.append(path)

    def add_modules(self, paths: list[str]) -> None:
        """Insert modules discovered during forward (unregistered ones) under their parents."""
        for path in paths:
            node = self.record.nodes.get(path)
            if node is None or path in self._ids:
                continue
            parent = node.parent if node.parent in self._ids else None
            row = len(self._children.get(parent, []))
            self.beginInsertRows(self.index_of(parent), row, row)
            self._index_nodes((node,))
            self.endInsertRows()

    def refresh_paths(self, paths: set[str]) -> None:
        """Emit dataChanged for the rows of ``paths``, one range per parent.

        When the ranges are many or long (a burst over a deep model), sig_rows_changed is
        emitted instead: a view works out the area of a range cell by cell (a call into Python
        per cell), while it can look up the few rows it shows in the set."""
        for diagnostic in self.record.diagnostics:
            if diagnostic.module is not None and diagnostic.module not in self._problem_paths:
                self._problem_paths.add(diagnostic.module)
                self._cells.pop(diagnostic.module, None)  # its decoration changes
        if len(paths) > MAX_FORGOTTEN_ROWS:
            self._cells.clear()
        else:
            for path in paths:
                self._cells.pop(path, None)
        by_parent: dict[Optional[str], list[int]] = {}
        for path in paths:
            if path in self._ids:
                by_parent.setdefault(self._parent[path], []).append(self._row[path])
        last = len(COLUMNS) - 1
        if len(by_parent) > MAX_CHANGED_RANGES or sum(
                max(rows) - min(rows) + 1 for rows in by_parent.values()) > MAX_CHANGED_ROWS:
            self.sig_rows_changed.emit(paths)
            return
        for parent, rows in by_parent.items():
            parent_index = self.index_of(parent)
            self.dataChanged.emit(self.index(min(rows), 0, parent_index),
                                  self.index(max(rows), last, parent_index))

    def set_current(self, path: Optional[str]) -> None:
        """Mark the module the session is paused in."""
        old, self.current = self.current, path
        self.refresh_paths({p for p in (old, path) if p is not None})

    # ---- lookup -----------------------------------------------------------------------------

    def index_of(self, path: Optional[str], column: int = 0) -> QModelIndex:
        if path is None or path not in self._ids:
            return QModelIndex()
        return self.createIndex(self._row[path], column, self._ids[path])

    def path_of(self, index: QModelIndex) -> Optional[str]:
        if not index.isValid():
            return None
        return self._paths[index.internalId()]

    def paths(self) -> list[str]:
        return list(self._paths)

    def filter_matches(self, text: str) -> set[str]:
        """Paths whose path or type contains ``text`` (any case), with their ancestors, so the
        tree still leads to every match."""
        text = text.lower()
        shown: set[str] = set()
        for path in self._paths:
            node = self.record.nodes.get(path)
            if text in path.lower() or (node is not None and text in node.type_name.lower()):
                while path is not None and path not in shown:
                    shown.add(path)
                    path = self._parent[path]
        return shown

    # ---- QAbstractItemModel -----------------------------------------------------------------

    def index(self, row: int, column: int, parent=QModelIndex()) -> QModelIndex:
        siblings = self._children.get(self.path_of(parent))
        if siblings is None or not 0 <= row < len(siblings) or not 0 <= column < len(COLUMNS):
            return QModelIndex()
        return self.createIndex(row, column, self._ids[siblings[row]])

    def parent(self, index=QModelIndex()) -> QModelIndex:  # type: ignore[override]
        path = self.path_of(index)
        if path is None:
            return QModelIndex()
        return self.index_of(self._parent[path])

    def rowCount(self, parent=QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._children.get(self.path_of(parent), ()))

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _TOOLTIPS.get(section)
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        path = self.path_of(index)
        if path is None:
            return None
        return self._value(path, index.column(), int(role), self._row_cells(path))

    def multiData(self, index: QModelIndex, roleDataSpan) -> None:  # noqa: N802 (Qt's name)
        """Every role of one cell in one call: the view's delegate asks for seven roles per
        cell, and each call from C++ into Python is what a repaint of the tree costs."""
        path = self.path_of(index)
        if path is None:
            return
        column = index.column()
        cells = self._row_cells(path)
        for role_data in roleDataSpan:
            role_data.setData(self._value(path, column, role_data.role(), cells))

    def _row_cells(self, path: str) -> tuple:
        """What a view paints of a row (texts, decoration, font, foreground, background),
        worked out once per row and kept until refresh_paths names it."""
        cells = self._cells.get(path)
        if cells is None:
            cells = self._cells[path] = (
                tuple(self._text(path, column) for column in range(len(COLUMNS))),
                self._decoration(path), self._bold if path == self.current else None,
                None if self.record.calls_of(path) else style.DIM_BRUSH,
                self._background(path))
        return cells

    def _value(self, path: str, column: int, role: int, cells: tuple) -> Any:
        texts, decoration, font, foreground, background = cells
        if role == _DISPLAY:
            return texts[column]
        if role == _BACKGROUND:
            return background
        if role == _FOREGROUND:
            return foreground
        if role == _FONT:
            return font
        if role == _DECORATION:
            return decoration if column == COL_NAME else None
        if role == _ALIGNMENT:
            return _ALIGNMENTS[column]
        if role == _TOOLTIP:
            return self._tooltip(path)
        if role == _PATH:
            return path
        return None

    def _decoration(self, path: str):
        if path in self.breakpoints():
            return style.breakpoint_icon()
        if path in self._problem_paths:
            return style.problem_icon()
        return None

    # ---- cells ------------------------------------------------------------------------------

    def _text(self, path: str, column: int) -> str:
        node = self.record.nodes.get(path)
        if node is None:
            return ""
        if column == COL_NAME:
            return display_name(path)
        if column == COL_TYPE:
            return node.type_name if node.registered else f"{node.type_name} (unregistered)"
        if column == COL_PARAMS:
            return f"{node.param_count:,}" if node.param_count else ""
        call = self.record.last_call(path)
        if call is None:
            return ""
        first = call.outputs[0] if call.outputs else None
        if column == COL_SHAPE:
            if len(call.outputs) > 1:  # the tooltip lists them
                return f"{len(call.outputs)} outputs"
            return first.shape_text() if first is not None else ""
        if column == COL_DTYPE:
            return (first.dtype or "") if first is not None else ""
        if column == COL_DEVICE:
            return (first.device or "") if first is not None else ""
        if column == COL_NONFINITE:
            out_text, grad_text = nonfinite_parts(call)
            if out_text and grad_text:
                text = out_text + " +grad"
            else:
                text = out_text or (grad_text and "grad " + grad_text)
            if self.record.param_grads_nonfinite(path):
                text = f"{text} +param grads" if text else "param grads " + (
                    param_grad_counts(self.record.nodes[path]) or "overflow")
            return text
        if column == COL_GRAD:
            if self.record.param_grads_nonfinite(path):  # not the norm of the finite part
                return "NaN/Inf"
            return style.format_number(self.record.module_grad_norm(path, call)[0])
        if column == COL_TIME:
            return style.format_seconds(call.elapsed_s)
        return ""

    def _background(self, path: str) -> Optional[QBrush]:
        if path == self.current:
            return style.CURRENT_BRUSH
        call = self.record.last_call(path)
        if call is not None and call.status == ev.CallStatus.FAILED:
            return style.ERROR_BRUSH
        if call is not None and (call.output_nonfinite or call.grad_nonfinite
                                 or self.record.param_grads_nonfinite(path)):
            return style.NONFINITE_BRUSH
        return None

    def _tooltip(self, path: str) -> str:
        node = self.record.nodes.get(path)
        lines = [path or "(root)"]
        if node is not None and node.created_at is not None:
            lines.append(f"created at {node.created_at.short()}")
        if node is not None and not node.registered:
            lines.append("not registered: the optimizer and .to(device) do not see it")
        calls = self.record.calls_of(path)
        lines.append(f"{len(calls)} call(s)" if calls else "not run yet")
        if calls and len(calls[-1].outputs) > 1:
            lines.append(f"{len(calls[-1].outputs)} outputs:")
            lines.extend(f"  {output_line(i, s)}" for i, s in enumerate(calls[-1].outputs))
        if calls:
            out_text, grad_text = nonfinite_parts(calls[-1])
            if out_text:
                lines.append(f"output: {out_text}")
            if grad_text:
                lines.append(f"gradient at output: {grad_text}")
        if self.record.param_grads_nonfinite(path):
            lines.append("its parameters' gradients hold NaN/Inf or overflowed")
        if path in self.breakpoints():
            lines.append("breakpoint (F9 to remove)")
        return "\n".join(lines)
