"""Source panel: the model file, with the selected module's creation line and the failing line
highlighted (extra selections, so the text itself is never touched)."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontDatabase, QPainter, QTextCursor, QTextFormat
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTextEdit, QVBoxLayout, QWidget

from .. import style


class _LineNumbers(QWidget):
    def __init__(self, editor: "CodeView") -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event) -> None:
        self.editor.paint_gutter(self, event)


class CodeView(QPlainTextEdit):
    """Read-only code with a line-number gutter."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.gutter = _LineNumbers(self)
        self.blockCountChanged.connect(lambda _: self.setViewportMargins(self.gutter_width(),
                                                                         0, 0, 0))
        self.updateRequest.connect(self._on_update_request)
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def gutter_width(self) -> int:
        digits = max(3, len(str(self.blockCount())))
        return 8 + self.fontMetrics().horizontalAdvance("9") * digits

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        rect = self.contentsRect()
        self.gutter.setGeometry(QRect(rect.left(), rect.top(), self.gutter_width(),
                                      rect.height()))

    def _on_update_request(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())

    def paint_gutter(self, gutter: QWidget, event) -> None:
        painter = QPainter(gutter)
        painter.fillRect(event.rect(), QColor(242, 242, 242))
        painter.setPen(QColor(130, 130, 130))
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible():
                painter.drawText(0, top, gutter.width() - 4, height,
                                 Qt.AlignmentFlag.AlignRight, str(block.blockNumber() + 1))
            top += round(self.blockBoundingRect(block).height())
            block = block.next()
        painter.end()


class SourcePanel(QWidget):
    """Shows one file; highlights a creation line (blue) and a problem line (red)."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("No model file", self)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.code = CodeView(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.caption)
        layout.addWidget(self.code, 1)
        self.file: Optional[str] = None
        # Source text recorded in an opened snapshot, by file: shown instead of the disk's.
        self.recorded: dict[str, str] = {}
        self.creation_line: Optional[int] = None
        self.problem_line: Optional[int] = None

    def load(self, file: Optional[str]) -> None:
        """Read ``file`` again (a restart may follow an edit)."""
        self.file = file
        self.creation_line = self.problem_line = None
        if file is None:
            self.code.setPlainText("")
            self.caption.setText("No model file (a live model given to debug())")
            return
        if file in self.recorded:
            self.code.setPlainText(self.recorded[file])
            self._update()
            return
        try:
            with open(file, encoding="utf-8", errors="replace") as fh:
                self.code.setPlainText(fh.read())
        except OSError as exc:
            self.code.setPlainText(f"Cannot read {file}: {exc}")
        self._update()

    def show_lines(self, creation: Optional[int] = None, problem: Optional[int] = None,
                   scroll_to: Optional[int] = None) -> None:
        """Highlight lines of the loaded file (1-based) and scroll to ``scroll_to``."""
        self.creation_line, self.problem_line = creation, problem
        self._update()
        target = scroll_to or problem or creation
        if target:
            block = self.code.document().findBlockByNumber(target - 1)
            cursor = QTextCursor(block)
            self.code.setTextCursor(cursor)
            self.code.centerCursor()

    def _update(self) -> None:
        selections = []
        for line, color in ((self.creation_line, style.CREATION_LINE_COLOR),
                            (self.problem_line, style.ERROR_COLOR)):
            if not line:
                continue
            block = self.code.document().findBlockByNumber(line - 1)
            if not block.isValid():
                continue
            selection = QTextEdit.ExtraSelection()
            selection.format.setBackground(color)
            selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            selection.cursor = QTextCursor(block)
            selections.append(selection)
        self.code.setExtraSelections(selections)
        name = os.path.basename(self.file) if self.file else ""
        parts = [f"<b>{style.html_text(name)}</b>"] if name else []
        if self.file in self.recorded:
            parts.append("(as recorded in the snapshot)")
        if self.creation_line:
            parts.append(f"<span style='background:{style.hex_color(style.CREATION_LINE_COLOR)}'>"
                         f"&nbsp;line {self.creation_line}: "
                         f"module created here&nbsp;</span>")
        if self.problem_line:
            parts.append(f"<span style='background:{style.hex_color(style.ERROR_COLOR)}'>"
                         f"&nbsp;line {self.problem_line}: "
                         f"problem&nbsp;</span>")
        if name:
            self.caption.setText(" &nbsp; ".join(parts))
