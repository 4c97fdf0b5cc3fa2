"""Dock layout of the main window: where each panel goes by default, and remembering the
user's own layout and window size between runs (QSettings)."""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

DEFAULT_SIZE = (1400, 900)
LAYOUT_VERSION = 4  # bump when the default layout changes, so stale saved states are ignored


class Dock(str, Enum):
    """Which dock: the key of ``MainWindow.docks``. The value names it in saved layouts (its
    objectName is "dock_" + value), so it never changes with the title."""

    TENSORS = "tensors"
    ACTIVATIONS = "activations"
    GRADIENTS = "gradients"
    NONFINITE = "naninf"
    DIAGNOSTICS = "diagnostics"
    SOURCE = "source"
    LOG = "log"
    STEPS = "steps"
    VIEWER = "tensorviewer"


TITLES = {Dock.TENSORS: "Tensors", Dock.ACTIVATIONS: "Activations",
          Dock.GRADIENTS: "Gradients", Dock.NONFINITE: "NaN / Inf",
          Dock.DIAGNOSTICS: "Diagnostics", Dock.SOURCE: "Source", Dock.LOG: "Log",
          Dock.STEPS: "Steps", Dock.VIEWER: "Tensor Viewer"}

_RIGHT = (Dock.TENSORS,)
_RIGHT_TABS = (Dock.ACTIVATIONS, Dock.GRADIENTS, Dock.NONFINITE, Dock.VIEWER)
_BOTTOM = (Dock.DIAGNOSTICS,)
_BOTTOM_RIGHT = (Dock.SOURCE,)
_BOTTOM_TABS = (Dock.LOG, Dock.STEPS)


def is_shown(widget: QWidget) -> bool:
    """Whether any of ``widget`` is on screen. A dock behind another dock's tab is moved out of
    the window but stays visible to Qt, so isVisible() alone would keep it busy."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


class WindowLayout:
    """Creates the docks and restores/saves geometry and dock state."""

    def __init__(self, window: QMainWindow, view_menu: QMenu) -> None:
        self.window = window
        self.view_menu = view_menu
        self.docks: dict[Dock, QDockWidget] = {}

    def dock_all(self, panels: dict[Dock, QWidget]) -> dict[Dock, QDockWidget]:
        w = self.window
        w.setDockNestingEnabled(True)
        # Bottom docks span the full width: diagnostics and source need long lines.
        w.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        w.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        for which, panel in panels.items():
            dock = QDockWidget(TITLES[which], w)
            dock.setObjectName("dock_" + which.value)
            dock.setWidget(panel)
            self.docks[which] = dock
            self.view_menu.addAction(dock.toggleViewAction())
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        w.addDockWidget(right, self.docks[_RIGHT[0]])
        first_tab = self.docks[_RIGHT_TABS[0]]
        w.addDockWidget(right, first_tab)
        w.splitDockWidget(self.docks[_RIGHT[0]], first_tab, Qt.Orientation.Vertical)
        for title in _RIGHT_TABS[1:]:
            w.tabifyDockWidget(first_tab, self.docks[title])
        w.addDockWidget(bottom, self.docks[_BOTTOM[0]])
        w.splitDockWidget(self.docks[_BOTTOM[0]], self.docks[_BOTTOM_RIGHT[0]],
                          Qt.Orientation.Horizontal)
        for title in _BOTTOM_TABS:
            w.tabifyDockWidget(self.docks[_BOTTOM[0]], self.docks[title])
        first_tab.raise_()
        self.docks[_BOTTOM[0]].raise_()
        return self.docks

    def _default_sizes(self) -> None:
        w = self.window
        first_tab = self.docks[_RIGHT_TABS[0]]
        w.resizeDocks([self.docks[Dock.TENSORS]], [640], Qt.Orientation.Horizontal)
        w.resizeDocks([self.docks[Dock.TENSORS], first_tab], [260, 300], Qt.Orientation.Vertical)
        w.resizeDocks([self.docks[Dock.DIAGNOSTICS]], [250], Qt.Orientation.Vertical)
        w.resizeDocks([self.docks[Dock.DIAGNOSTICS], self.docks[Dock.SOURCE]], [700, 700],
                      Qt.Orientation.Horizontal)

    def restore(self, settings: QSettings, saved: bool = True) -> None:
        """Window size and dock layout from the last run (``saved``), or the defaults."""
        self.window.resize(*DEFAULT_SIZE)
        if not saved or settings.value("layout_version", 0, type=int) != LAYOUT_VERSION:
            self._default_sizes()
            return
        geometry = settings.value("geometry")
        state = settings.value("window_state")
        if isinstance(geometry, QByteArray):
            self.window.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.window.restoreState(state)

    def save(self, settings: QSettings) -> None:
        settings.setValue("layout_version", LAYOUT_VERSION)
        settings.setValue("geometry", self.window.saveGeometry())
        settings.setValue("window_state", self.window.saveState())
