"""The Help menu (bundled examples, keyboard shortcuts) and the training-script entry point."""

from __future__ import annotations

import re
from typing import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from .examples import Example, defines_a_model
from .shortcuts import ShortcutsDialog

SCRIPT_FILTER = "Python scripts (*.py);;All files (*)"


# The contract's own functions, or both of its module-level names: a training script often
# has a module-level `model = ...` too, with its loop under it.
_CONTRACT = re.compile(r"^def (build_model|example_inputs)\s*\(", re.MULTILINE)
_INPUTS = re.compile(r"^inputs\s*=", re.MULTILINE)


def is_model_file(path: str) -> bool:
    """Whether ``path`` follows the model-file contract (build_model() or example_inputs(), or
    a module-level model and inputs): such a file opens as a model file even when chosen as a
    training script."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            source = f.read()
    except OSError:
        return False
    return bool(_CONTRACT.search(source)) or (defines_a_model(source)
                                              and bool(_INPUTS.search(source)))


def build_help_menu(window: QMainWindow, examples: list[Example],
                    open_example: Callable[[Example], None]) -> QMenu:
    """Help > Examples (each opens as ``open_example`` does) and Help > Keyboard shortcuts
    (F1)."""
    menu = window.menuBar().addMenu("&Help")
    examples_menu = menu.addMenu("&Examples")
    examples_menu.setObjectName("examples_menu")
    for example in examples:
        action = examples_menu.addAction(f"{example.title}  ({example.file_name})")
        action.setStatusTip(example.path)
        action.triggered.connect(lambda _checked=False, e=example: open_example(e))
    examples_menu.setEnabled(bool(examples))
    shortcuts = QAction("&Keyboard Shortcuts", window)
    shortcuts.setShortcut(QKeySequence("F1"))
    shortcuts.setStatusTip("Every keyboard shortcut of the window")
    shortcuts.triggered.connect(lambda: ShortcutsDialog(window.actions(), window).exec())
    window.addAction(shortcuts)
    menu.addAction(shortcuts)
    window.help_shortcuts_action = shortcuts
    return menu
