"""Colours, icons and number formatting shared by the views, so every panel says the same thing
the same way (a NaN is always the same red)."""

from __future__ import annotations

import html
import math
from functools import lru_cache
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap

CURRENT_COLOR = QColor(255, 236, 140)  # the paused module, like a debugger's current line
NONFINITE_COLOR = QColor(255, 205, 205)
ERROR_COLOR = QColor(255, 170, 170)
CREATION_LINE_COLOR = QColor(210, 230, 255)
DIM_COLOR = QColor(150, 150, 150)

CURRENT_BRUSH = QBrush(CURRENT_COLOR)
NONFINITE_BRUSH = QBrush(NONFINITE_COLOR)
ERROR_BRUSH = QBrush(ERROR_COLOR)
DIM_BRUSH = QBrush(DIM_COLOR)

# Plot colours (pyqtgraph accepts these tuples).
PLOT_BAR = (70, 130, 200)
PLOT_PARAM = (230, 140, 40)
PLOT_BAD = (220, 50, 50)
PLOT_ORIGIN = (150, 0, 0)

_RED = (220, 40, 40)  # errors and breakpoints
_AMBER = (240, 160, 30)  # warnings and modules with a problem


def hex_color(color: QColor | tuple[int, int, int]) -> str:
    """"#rrggbb" of a style colour (a QColor or a plot tuple), for rich text."""
    return (color if isinstance(color, QColor) else QColor(*color)).name()


def html_text(text: str) -> str:
    """Plain text made safe inside rich text."""
    return html.escape(text, quote=False)


@lru_cache(maxsize=None)
def _dot_icon(r: int, g: int, b: int) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(r, g, b))
    painter.setPen(QColor(r // 2, g // 2, b // 2))
    painter.drawEllipse(1, 1, 12, 12)
    painter.end()
    return QIcon(pixmap)


def breakpoint_icon() -> QIcon:
    """A red dot, as breakpoints look in every debugger."""
    return _dot_icon(*_RED)


def problem_icon() -> QIcon:
    return _dot_icon(*_AMBER)


def severity_icon(severity: str) -> QIcon:
    return _dot_icon(*{"error": _RED, "warning": _AMBER}.get(severity, PLOT_BAR))


def format_number(value: Optional[float]) -> str:
    """One format for every number the window shows: 4 significant digits, plain between 0.001
    and 10,000, else scientific with a short exponent ("-2.800e-5"), so values compare by eye
    and fit a 10-character cell."""
    if value is None:
        return ""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e4:
        text = f"{value:.4g}"
        if "e" not in text:  # 9999.95 rounds up to "1e+04": scientific below
            return text
    mantissa, exponent = f"{value:.3e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def nonfinite_text(nan: int, inf: int) -> str:
    """"NaN 48", "Inf 3", "NaN 2 Inf 1", or "" when everything is finite."""
    parts = [f"NaN {nan}" if nan else "", f"Inf {inf}" if inf else ""]
    return " ".join(p for p in parts if p)
