"""The module tree view: a filter box over a QTreeView of ModuleTreeModel."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
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
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setRecursiveFilteringEnabled(True)  # keep ancestors of matching modules
        self.proxy.setFilterRole(mm.FILTER_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter modules by path or type…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_text_changed)

        self.view = QTreeView(self)
        self.view.setModel(self.proxy)
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
        for signal in (model.modelReset, model.rowsInserted, self.proxy.modelReset,
                       self.proxy.layoutChanged):
            signal.connect(self._update_stack)
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
        return self.model.path_of(self.proxy.mapToSource(index)) if index.isValid() else None

    def select_path(self, path: str, notify: bool = False) -> None:
        """Select, expand to and scroll to ``path``; ``notify`` emits sig_module_selected."""
        index = self.proxy.mapFromSource(self.model.index_of(path))
        if not index.isValid():
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

    def _on_filter_text_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        if text.strip():
            self.view.expandAll()

    def _on_view_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        path = self.model.path_of(self.proxy.mapToSource(current))
        if path is not None and self._notify:
            self.sig_module_selected.emit(path)
