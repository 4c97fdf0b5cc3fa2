"""The window's actions (menus, toolbar, shortcuts), named as debuggers name them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle, QToolBar

from . import style


class Actions:
    """Every QAction of the main window, created once and owned by the window."""

    def __init__(self, window: QMainWindow) -> None:
        sp = QStyle.StandardPixmap
        icon = lambda pixmap: window.style().standardIcon(pixmap)  # noqa: E731

        def make(text: str, shortcut, tip: str, pixmap=None, checkable: bool = False,
                 qicon: QIcon = None, short: str = "") -> QAction:
            action = QAction(text, window)
            if short:
                action.setIconText(short)  # toolbar label
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{tip} ({keys})" if keys else tip)
            action.setStatusTip(tip)
            if qicon is not None:
                action.setIcon(qicon)
            elif pixmap is not None:
                action.setIcon(icon(pixmap))
            action.setCheckable(checkable)
            window.addAction(action)  # shortcuts work even with the toolbar hidden
            return action

        self.open = make("&Open…", QKeySequence.StandardKey.Open,
                         "Open a model file or a snapshot",
                         sp.SP_DialogOpenButton, short="Open")
        self.run_script = make("Run a &Training Script…", None,
                               "Run a training script under the debugger",
                               sp.SP_FileDialogDetailedView, short="Script")
        self.quit = make("&Quit", "Ctrl+Q", "Stop the session and quit",
                         sp.SP_DialogCloseButton)
        self.continue_ = make("&Continue", "F5",
                              "Run until a breakpoint, a NaN/Inf or an exception (starts the "
                              "run again when it has ended)", sp.SP_MediaPlay, short="Continue")
        self.step = make("Step &Over", "F10",
                         "Run to the next module at this level (children run through)",
                         sp.SP_ArrowRight, short="Step Over")
        self.step_into = make("Step &Into", "F11", "Stop at the very next module event",
                              sp.SP_ArrowDown, short="Step Into")
        self.step_out = make("Step O&ut", "Shift+F11", "Run to the end of the current module",
                             sp.SP_ArrowUp, short="Step Out")
        self.pause = make("&Pause", None, "Pause at the next module event", sp.SP_MediaPause,
                          short="Pause")
        self.stop = make("&Stop", "Shift+F5", "Stop the session", sp.SP_MediaStop,
                         short="Stop")
        self.restart = make("&Restart", "Ctrl+Shift+F5",
                            "Re-read the file and start again, paused before the first module",
                            sp.SP_BrowserReload, short="Restart")
        self.run_to = make("Run to &Here", "Ctrl+F10",
                           "Continue until the selected module is entered (forward) or "
                           "receives its gradient (backward)", sp.SP_MediaSeekForward,
                           short="Run to")
        self.toggle_breakpoint = make("Toggle &Breakpoint", "F9",
                                      "Break when the selected module is entered (forward) or "
                                      "receives its gradient (backward)",
                                      qicon=style.breakpoint_icon(), short="Breakpoint")
        self.break_nonfinite = make("Break on &NaN/Inf", None,
                                    "Stop where a NaN or Inf is born", sp.SP_MessageBoxWarning,
                                    checkable=True, short="Break on NaN/Inf")
        self.break_exception = make("Break on &Exception", None,
                                    "Stop in the module that raised", sp.SP_MessageBoxCritical,
                                    checkable=True, short="Break on Error")
        self.break_nonfinite.setChecked(True)
        self.break_exception.setChecked(True)
        self.recent_menu = QMenu("Open &Recent", window)

    @property
    def stepping(self) -> tuple[QAction, ...]:
        return (self.continue_, self.step, self.step_into, self.step_out)

    @property
    def run_controls(self) -> tuple[QAction, ...]:
        """The session controls, in menu and toolbar order."""
        return self.stepping + (self.pause, self.stop, self.restart)

    @property
    def break_controls(self) -> tuple[QAction, ...]:
        return (self.run_to, self.toggle_breakpoint, self.break_nonfinite, self.break_exception)

    def build_menus(self, window: QMainWindow) -> QMenu:
        """File and Debug menus, plus an empty View menu returned for the dock toggles."""
        bar = window.menuBar()
        file_menu = self.file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open)
        file_menu.addAction(self.run_script)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        debug = bar.addMenu("&Debug")
        debug.addActions(list(self.run_controls))
        debug.addSeparator()
        debug.addActions(list(self.break_controls))
        return bar.addMenu("&View")

    def build_toolbar(self, window: QMainWindow) -> QToolBar:
        toolbar = QToolBar("Debug", window)
        toolbar.setObjectName("debug_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        toolbar.addAction(self.open)
        toolbar.addSeparator()
        toolbar.addActions(list(self.run_controls))
        toolbar.addSeparator()
        toolbar.addActions(list(self.break_controls))
        window.addToolBar(toolbar)
        return toolbar
