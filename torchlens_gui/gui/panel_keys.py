"""Every panel reachable without a mouse: Alt+1 the module tree, Alt+2... each dock in the
order it was docked (as PyCharm numbers its tool windows), and Ctrl+F the tree's filter. The
actions live on the window, so Help > Keyboard Shortcuts lists them."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QDockWidget, QMainWindow, QMenu, \
    QPlainTextEdit, QTextEdit, QWidget

DOCK_KEYS = "234567890"  # Alt+1 is the tree; Alt+0 the tenth place, as in tab-switching apps


def focus_target(panel: QWidget) -> QWidget:
    """The part of a panel keys act on: its first visible, enabled list or table, else text,
    else combo box, else anything that takes the focus; else the panel itself (made to take
    it, so the keyboard at least leaves the panel it was in)."""
    usable = [panel] + [w for w in panel.findChildren(QWidget)
                        if w.isVisibleTo(panel) and w.isEnabled()]
    for kinds in (QAbstractItemView, (QPlainTextEdit, QTextEdit), QComboBox):
        found = next((w for w in usable if isinstance(w, kinds)), None)
        if found is not None:
            return found
    found = next((w for w in usable[1:] if w.focusPolicy() & Qt.FocusPolicy.TabFocus), None)
    if found is None:
        panel.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        found = panel
    return found


def go_to_dock(dock: QDockWidget) -> None:
    """Show the dock (in front of its tab group) and put the keyboard focus in it."""
    dock.show()
    dock.raise_()
    focus_target(dock.widget()).setFocus(Qt.FocusReason.ShortcutFocusReason)


def install_panel_keys(window: QMainWindow, menu: QMenu, docks: dict[object, QDockWidget],
                       go_to_tree: Callable[[], None], filter_tree: Callable[[], None]
                       ) -> list[QAction]:
    """Create the Go to actions (in ``menu``) and return them."""
    actions = []

    def add(text: str, keys: str, tip: str, slot: Callable[[], None]) -> None:
        action = QAction(text, window)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        window.addAction(action)
        menu.addAction(action)
        actions.append(action)

    add("Module Tree", "Alt+1", "Put the keyboard focus in the module tree", go_to_tree)
    for key, dock in zip(DOCK_KEYS, docks.values()):
        title = dock.windowTitle()
        add(title.replace("&", "&&"), f"Alt+{key}", f"Show the {title} panel and put the "
            "keyboard focus in it", lambda _checked=False, d=dock: go_to_dock(d))
    add("Filter Modules", "Ctrl+F", "Filter the module tree by path or type", filter_tree)
    return actions
