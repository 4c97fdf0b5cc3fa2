"""Diagnostics panel: every problem the engine found; selecting one jumps to its module and line."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QTextBrowser, QTreeWidgetItem, QVBoxLayout, QWidget

from ...core.recording import events as ev
from .. import style
from .plots import make_table

COLUMNS = ("Severity", "Code", "Module", "Where", "Message")


def where_text(diagnostic: ev.Diagnostic) -> str:
    if diagnostic.file is None:
        return diagnostic.phase
    line = f":{diagnostic.line}" if diagnostic.line else ""
    return f"{os.path.basename(diagnostic.file)}{line} ({diagnostic.phase})"


# Where a problem that names no module lives, by the phase that found it.
_MODEL_LEVEL = {"loss": "(the loss: loss(output))", "load": "(the model file)"}


def module_text(diagnostic: ev.Diagnostic) -> str:
    """The module a diagnostic is about; "(the model)" or the loss when it names none."""
    if diagnostic.module is None:
        return _MODEL_LEVEL.get(str(diagnostic.phase), "(the model)")
    return diagnostic.module or "(root)"


def detail_html(diagnostic: ev.Diagnostic) -> str:
    """The full story of one diagnostic: message, facts, and the fix."""
    parts = [f"<b>{diagnostic.severity.upper()} [{diagnostic.code}]</b> "
             f"{style.html_text(diagnostic.message)}"]
    if diagnostic.fix:  # right after the message: it is what the user came for
        parts.append(f"<span style='color:#1a5c1a'><b>Fix:</b> {style.html_text(diagnostic.fix)}</span>")
    parts.append(f"Module: <b>{style.html_text(module_text(diagnostic))}</b>"
                 + (f" call {diagnostic.call_index}" if diagnostic.call_index else ""))
    if diagnostic.file is not None:
        parts.append(f"At: {style.html_text(where_text(diagnostic))}")
    for key, value in diagnostic.details:
        parts.append(f"{style.html_text(key)}: <tt>{style.html_text(value)}</tt>")
    return "<br>".join(parts)


class DiagnosticsPanel(QWidget):
    """A list of diagnostics above the selected one's full text."""

    sig_diagnostic_selected = Signal(object)  # ev.Diagnostic

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.list = make_table(self, COLUMNS, (11, 22, 14, 22))
        self.list.setRootIsDecorated(False)
        self.list.currentItemChanged.connect(self._on_list_current_changed)
        self.list.itemClicked.connect(self._on_list_item_clicked)
        self.detail = QTextBrowser(self)  # scrolls when a message and its fix are long
        self.detail.setHtml("No problems found so far.")
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.list)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(splitter)
        self.diagnostics: list[ev.Diagnostic] = []

    def clear(self) -> None:
        self.diagnostics = []
        self.list.clear()
        self.detail.setHtml("No problems found so far.")

    def add(self, diagnostics: list[ev.Diagnostic]) -> None:
        """Append newly raised diagnostics; the first error is shown in full."""
        for diagnostic in diagnostics:
            self.diagnostics.append(diagnostic)
            item = QTreeWidgetItem(self.list, [
                diagnostic.severity, diagnostic.code,
                module_text(diagnostic),
                where_text(diagnostic), diagnostic.message.splitlines()[0] if
                diagnostic.message else ""])
            item.setIcon(0, style.severity_icon(diagnostic.severity))
            item.setToolTip(4, detail_html(diagnostic))
            item.setData(0, Qt.ItemDataRole.UserRole, len(self.diagnostics) - 1)
        if diagnostics and self.list.currentItem() is None:
            self.detail.setHtml(detail_html(self.diagnostics[0]))

    def select(self, row: int) -> None:
        """Select a diagnostic by position (as a click does)."""
        item = self.list.topLevelItem(row)
        if item is not None:
            self.list.setCurrentItem(item)
            self._on_list_item_clicked(item)

    def _on_list_current_changed(self, item: Optional[QTreeWidgetItem], _previous) -> None:
        if item is not None:
            row = item.data(0, Qt.ItemDataRole.UserRole)
            self.detail.setHtml(detail_html(self.diagnostics[row]))

    def _on_list_item_clicked(self, item: QTreeWidgetItem) -> None:
        self.sig_diagnostic_selected.emit(self.diagnostics[item.data(0, Qt.ItemDataRole.UserRole)])
