"""Keyboard shortcuts as the window's actions define them: the Help > Keyboard shortcuts list
and the welcome page's keys are generated from the actions, so they never disagree."""

from __future__ import annotations

from typing import Iterable, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QTableWidget, \
    QTableWidgetItem, QVBoxLayout, QWidget


def keys_text(action: QAction) -> str:
    """"F5", "Ctrl+Shift+F5" (every shortcut of the action, as this platform writes them)."""
    return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                     for s in action.shortcuts() if not s.isEmpty())


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str, str]]:
    """(name, keys, what it does) for each action that has a shortcut, in the given order."""
    rows, seen = [], set()
    for action in actions:
        keys = keys_text(action)
        if not keys or keys in seen:
            continue
        seen.add(keys)
        name = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        rows.append((name.rstrip("…").rstrip("."), keys, action.statusTip() or action.toolTip()))
    return rows


class ShortcutsDialog(QDialog):
    """Help > Keyboard shortcuts: one table, read from the actions."""

    def __init__(self, actions: Iterable[QAction], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Action", "Keys", "What it does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, cells in enumerate(rows):
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 520)
