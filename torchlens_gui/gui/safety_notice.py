"""The notice that opening a model file runs it: the debugger imports the file and calls its
functions in this process, with the user's rights, exactly as ``python FILE`` would."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

SAFETY_NOTICE_KEY = "safety_notice/dont_show"

NOTICE_TEXT = (
    "Opening <b>{name}</b> runs its code on this computer, with your user's rights: the "
    "debugger imports the file and calls its build_model(), example_inputs() and loss(), just "
    "as <tt>python {name}</tt> would. Only open files you trust.")


def safety_notice(parent: QWidget, name: str) -> QMessageBox:
    """The dialog (not yet shown): Open / Cancel and a "Don't show this again" box.
    ``box.open_button`` is the button that accepts."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Open a model file",
                      NOTICE_TEXT.format(name=_html(name)), parent=parent)
    box.open_button = box.addButton("Open", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(box.open_button)
    box.setCheckBox(QCheckBox("Don't show this again", box))
    return box


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
