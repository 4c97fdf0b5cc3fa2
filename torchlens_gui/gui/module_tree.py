"""The module tree view: a filter box over a QTreeView of ModuleTreeModel.

The view shows the model itself, with no proxy in between: a proxy turns every cell the view
paints into seven calls into Python, twice over (its own index and the model's data). The
filter hides rows instead."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QRegion
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QLineEdit, QStackedWidget, \
    QTreeView, QVBoxLayout, QWidget

from . import module_model as mm

# Column widths in characters of the default font: readable at ~1400 px without scrolling.
_WIDTHS = {mm.COL_NAME: 20, mm.COL_TYPE: 13, mm.COL_SHAPE: 13, mm.COL_DTYPE: 8,
           mm.COL_DEVICE: 6, mm.COL_PARAMS: 8, mm.COL_NONFINITE: 14, mm.COL_GRAD: 9,
           mm.COL_TIME: 8}


class ModuleTree(QWidget):
    """Filterable tree of modules; emits the path the user selects."""

    sig_module_selected = Signal(str)

    def __init__(self, model: mm.ModuleTreeModel, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.model = model
        self._hidden: set[str] = set()  # rows the filter hides

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter modules by path or type…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_text_changed)

        self.view = QTreeView(self)
        self.view.setModel(model)
        self.view.setUniformRowHeights(True)  # lets the view skip measuring 10,000 rows
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        char = self.fontMetrics().averageCharWidth()
        for column, width in _WIDTHS.items():
            header.resizeSection(column, width * char + 16)
        self.view.selectionModel().currentRowChanged.connect(self._on_view_current_changed)
        self._notify = True

        # Shown instead of an empty tree: says what to do, or why there is nothing to show.
        self.placeholder = QLabel(self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setTextFormat(Qt.TextFormat.RichText)
        self.placeholder.setMargin(24)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.view)
        for signal in (model.modelReset, model.rowsInserted):
            signal.connect(self._update_stack)
        model.modelReset.connect(self._on_model_reset)
        model.rowsInserted.connect(self._on_model_rows_inserted)
        model.sig_rows_changed.connect(self._on_model_rows_changed)
        self.set_placeholder("<h3>No model loaded</h3>Open a model file with <b>Ctrl+O</b>, "
                             "pick one from <b>File › Open Recent</b>, or drop a <tt>.py</tt> "
                             "file on this window.")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.stack)

    # ---- API --------------------------------------------------------------------------------

    def selected_path(self) -> Optional[str]:
        index = self.view.selectionModel().currentIndex()
        return self.model.path_of(index) if index.isValid() else None

    def select_path(self, path: str, notify: bool = False) -> None:
        """Select, expand to and scroll to ``path``; ``notify`` emits sig_module_selected."""
        index = self.model.index_of(path)
        if not index.isValid() or path in self._hidden:
            return
        self._notify = notify
        try:
            self.view.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
        finally:
            self._notify = True
        parent = index.parent()
        while parent.isValid():
            self.view.expand(parent)
            parent = parent.parent()
        self.view.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)

    def set_placeholder(self, html: str) -> None:
        """Text shown while the tree has no rows."""
        self.placeholder.setText(html)
        self._update_stack()

    def _update_stack(self, *_args) -> None:
        has_rows = self.model.rowCount() > 0
        self.stack.setCurrentWidget(self.view if has_rows else self.placeholder)

    def add_context_actions(self, actions) -> None:
        """Actions offered on a right click on a row (they act on the selected module)."""
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.view.addActions(list(actions))

    def expand_to_depth(self, depth: int) -> None:
        self.view.expandToDepth(depth)

    # ---- slots ------------------------------------------------------------------------------

    def _apply_filter(self) -> None:
        """Hide the rows that neither match the filter text nor lead to a match."""
        text = self.filter_edit.text().strip()
        shown = self.model.filter_matches(text) if text else None
        for path in self.model.paths():
            hide = shown is not None and path not in shown
            if hide != (path in self._hidden):
                index = self.model.index_of(path)
                self.view.setRowHidden(index.row(), index.parent(), hide)
                (self._hidden.add if hide else self._hidden.discard)(path)

    def _on_filter_text_changed(self, text: str) -> None:
        self._apply_filter()
        if text.strip():
            self.view.expandAll()

    def _on_model_reset(self) -> None:
        self._hidden = set()  # the view forgets hidden rows on a reset
        if self.filter_edit.text().strip():
            self._apply_filter()

    def _on_model_rows_changed(self, paths: set[str]) -> None:
        # Only the rows on screen are repainted: a burst over a deep model mostly changes rows
        # scrolled out of view or collapsed, and a full repaint costs a call per cell.
        viewport = self.view.viewport()
        region = QRegion()
        index = self.view.indexAt(QPoint(1, 1))
        while index.isValid():
            rect = self.view.visualRect(index)
            if rect.top() >= viewport.height():
                break
            if self.model.path_of(index) in paths:
                region += QRect(0, rect.top(), viewport.width(), rect.height())
            index = self.view.indexBelow(index)
        if not region.isEmpty():
            viewport.update(region)

    def _on_model_rows_inserted(self, *_args) -> None:
        if self.filter_edit.text().strip():
            self._apply_filter()

    def _on_view_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        path = self.model.path_of(current)
        if path is not None and self._notify:
            self.sig_module_selected.emit(path)
