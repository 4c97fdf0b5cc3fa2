"""Log panel: what the user's code printed and warned, in order, stderr and warnings marked."""

from __future__ import annotations

from typing import Optional

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

MAX_LINES = 20_000


class LogPanel(QPlainTextEdit):
    """Append-only text; bounded so a chatty model cannot exhaust memory."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlaceholderText("Output printed by the model file appears here.")
        self._at_line_start = True

    def append_output(self, chunks: list[tuple[str, str]]) -> None:
        """Add (stream, text) chunks; lines from stderr and warnings get a prefix."""
        out = []
        for stream, text in chunks:
            if stream != "stdout" and self._at_line_start:
                text = f"[{stream}] " + text
            out.append(text)
            self._at_line_start = text.endswith("\n")
        cursor = self.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText("".join(out))
        self.ensureCursorVisible()

    def note(self, text: str) -> None:
        """A line from the debugger itself (session started, ended...)."""
        prefix = "" if self._at_line_start else "\n"
        self.append_output([("stdout", f"{prefix}── {text}\n")])
