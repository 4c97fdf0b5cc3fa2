"""The Help menu (bundled examples, keyboard shortcuts) and the training-script entry point."""

from __future__ import annotations

import os
import re
from typing import Callable, Optional

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from .examples import Example
from .shortcuts import ShortcutsDialog

SCRIPT_FILTER = "Python scripts (*.py);;All files (*)"
# Until script mode exists (`torchlens-gui run SCRIPT`), a chosen script is opened when it is a
# model file too, else the user is told how it will run and what works today.
SCRIPT_MODE_TEXT = (
    "Script mode is not in this version yet. It will run a training script as it is, under "
    "the debugger (<tt>torchlens-gui run {name}</tt>): every training step's forward and "
    "backward watched, the run stopped at the first NaN, shape error or exception, with the "
    "loss per step.<br><br>Today the debugger opens <b>model files</b>: put the model in "
    "<tt>build_model()</tt>, one batch in <tt>example_inputs()</tt> and, if you like, the "
    "loss in <tt>loss(output)</tt>. Help › Examples has one for each kind of problem.")


def script_explanation(path: str) -> Optional[str]:
    """None when ``path`` is also a model file (build_model or a module-level model); else the
    text that
    says how a training script will run and what to do meanwhile."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            source = f.read()
    except OSError:
        source = ""
    if re.search(r"^(def build_model\s*\(|model\s*=)", source, re.MULTILINE):
        return None
    return SCRIPT_MODE_TEXT.format(name=os.path.basename(path))


def build_help_menu(window: QMainWindow, examples: list[Example],
                    open_example: Callable[[str], None]) -> QMenu:
    """Help > Examples (each opens its file) and Help > Keyboard shortcuts (F1)."""
    menu = window.menuBar().addMenu("&Help")
    examples_menu = menu.addMenu("&Examples")
    examples_menu.setObjectName("examples_menu")
    for example in examples:
        action = examples_menu.addAction(f"{example.title}  ({example.file_name})")
        action.setStatusTip(example.path)
        action.triggered.connect(lambda _checked=False, p=example.path: open_example(p))
    examples_menu.setEnabled(bool(examples))
    shortcuts = QAction("&Keyboard Shortcuts", window)
    shortcuts.setShortcut(QKeySequence("F1"))
    shortcuts.setStatusTip("Every keyboard shortcut of the window")
    shortcuts.triggered.connect(lambda: ShortcutsDialog(window.actions(), window).exec())
    window.addAction(shortcuts)
    menu.addAction(shortcuts)
    window.help_shortcuts_action = shortcuts
    return menu
