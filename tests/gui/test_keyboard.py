"""Every panel reachable from the keyboard, the tree filter on Ctrl+F, and the shortcuts list
read from the actions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from conftest import case
from torchlens_gui.gui.shortcuts import ShortcutsDialog, shortcut_rows
from torchlens_gui.gui.window_layout import Dock

ALT = Qt.KeyboardModifier.AltModifier


def focused_in(widget) -> bool:
    focus = QApplication.focusWidget()
    return focus is not None and (focus is widget or widget.isAncestorOf(focus))


def test_each_dock_has_a_key_that_shows_and_focuses_it(driver, window, qtbot):
    driver.open(case("gui_tiny.py"))
    keys = {a.text(): a.shortcut().toString() for a in window.panel_actions}
    assert keys["Module Tree"] == "Alt+1" and keys["Tensors"] == "Alt+2"
    assert {d.windowTitle() for d in window.docks.values()} <= set(keys)  # every dock
    for key, dock in zip("234567890", window.docks.values()):
        QTest.keyClick(window, getattr(Qt.Key, f"Key_{key}"), ALT)
        qtbot.waitUntil(lambda d=dock: focused_in(d.widget()), timeout=2000)
    QTest.keyClick(window, Qt.Key.Key_1, ALT)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.tree.view, timeout=2000)


def test_ctrl_f_filters_the_tree(driver, window, qtbot):
    driver.open(case("gui_tiny.py"))
    window.docks[Dock.SOURCE].widget().code.setFocus()
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.tree.filter_edit, timeout=2000)
    QTest.keyClicks(window.tree.filter_edit, "head")
    assert window.tree.filter_edit.text() == "head"
    root = window.model.index_of("")
    assert window.tree.view.isRowHidden(window.model.index_of("body").row(), root)
    assert not window.tree.view.isRowHidden(window.model.index_of("head").row(), root)


def test_shortcuts_list_covers_every_action_with_a_key(window):
    rows = shortcut_rows(window.actions())
    keys = {keys for _name, keys, _tip in rows}
    assert {"F5", "F8", "F10", "F11", "Shift+F11", "F9", "Ctrl+F", "Alt+1", "Alt+2",
            "Ctrl+O", "F1"} <= keys
    dialog = ShortcutsDialog(window.actions(), window)
    assert dialog.table.rowCount() == len(rows)
    dialog.close()


def test_no_two_actions_share_a_key(window):
    from collections import Counter

    from PySide6.QtGui import QAction

    keys = Counter(s.toString() for a in window.findChildren(QAction) for s in a.shortcuts())
    assert [k for k, n in keys.items() if n > 1] == []  # an ambiguous key fires neither
