"""Colours, icons and number formatting shared by the views, so every panel says the same thing
the same way (a NaN is always the same red)."""

from __future__ import annotations

import html
import math
from functools import lru_cache
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap

# Colours that carry meaning, for a light and a dark palette: pale tints under dark text, deep
# tints under light text. The objects below are changed in place when the palette changes
# (set_dark), so every view that holds one paints the new colour on its next repaint.
_TINTS = {  # name: (light, dark)
    "current": ((255, 236, 140), (96, 84, 24)),  # the paused module, a debugger's current line
    "nonfinite": ((255, 205, 205), (104, 38, 38)),
    "error": ((255, 170, 170), (130, 40, 40)),
    "creation_line": ((210, 230, 255), (34, 62, 100)),
    "dim": ((150, 150, 150), (128, 128, 128)),  # not run yet
    "gutter": ((242, 242, 242), (40, 40, 40)),
    "gutter_text": ((130, 130, 130), (140, 140, 140)),
}
# Text colours in rich text (hex), by what they say.
_HTML = {  # name: (light, dark)
    "bad": ("#c00000", "#ff7b7b"), "ok": ("#2a7a2a", "#7ccf7c"), "fix": ("#1a5c1a", "#8fd88f"),
}
_dark = False

CURRENT_COLOR = QColor(*_TINTS["current"][0])
NONFINITE_COLOR = QColor(*_TINTS["nonfinite"][0])
ERROR_COLOR = QColor(*_TINTS["error"][0])
CREATION_LINE_COLOR = QColor(*_TINTS["creation_line"][0])
DIM_COLOR = QColor(*_TINTS["dim"][0])
GUTTER_COLOR = QColor(*_TINTS["gutter"][0])
GUTTER_TEXT_COLOR = QColor(*_TINTS["gutter_text"][0])

CURRENT_BRUSH = QBrush(CURRENT_COLOR)
NONFINITE_BRUSH = QBrush(NONFINITE_COLOR)
ERROR_BRUSH = QBrush(ERROR_COLOR)
DIM_BRUSH = QBrush(DIM_COLOR)
_COLORS = {"current": (CURRENT_COLOR, CURRENT_BRUSH), "nonfinite": (NONFINITE_COLOR,
           NONFINITE_BRUSH), "error": (ERROR_COLOR, ERROR_BRUSH), "creation_line":
           (CREATION_LINE_COLOR, None), "dim": (DIM_COLOR, DIM_BRUSH), "gutter": (GUTTER_COLOR,
           None), "gutter_text": (GUTTER_TEXT_COLOR, None)}

# Plot colours (pyqtgraph accepts these tuples): mid tones, readable on white and on near-black.
PLOT_BAR = (70, 130, 200)
PLOT_PARAM = (230, 140, 40)
PLOT_BAD = (220, 50, 50)
PLOT_ORIGIN = (150, 0, 0)  # the first NaN/Inf: darker than PLOT_BAD on light, lighter on dark
_PLOT_ORIGIN_DARK = (255, 140, 140)
PLOT_BACKGROUND = {False: (255, 255, 255), True: (30, 30, 30)}
PLOT_FOREGROUND = {False: (0, 0, 0), True: (220, 220, 220)}

_listeners: list = []  # weak references to callables run after the palette changed


def is_dark() -> bool:
    """Whether the window is drawn with a dark palette now."""
    return _dark


def html_color(name: str) -> str:
    """A rich-text colour for ``name`` ("bad", "ok", "fix", ...) readable on this palette."""
    return _HTML[name][_dark]


def plot_origin() -> tuple:
    return _PLOT_ORIGIN_DARK if _dark else PLOT_ORIGIN


def set_dark(dark: bool) -> None:
    """Switch the meaning colours to the dark (or light) set and tell the listeners."""
    global _dark
    _dark = bool(dark)
    for name, (color, brush) in _COLORS.items():
        color.setRgb(*_TINTS[name][_dark])
        if brush is not None:
            brush.setColor(color)
    for ref in list(_listeners):
        listener = ref()
        try:
            if listener is not None:
                listener()
                continue
        except RuntimeError:  # its widget's C++ side is gone (a closed window)
            pass
        _listeners.remove(ref)


def on_palette_changed(listener) -> None:
    """Call ``listener`` (a bound method, held weakly) whenever set_dark runs."""
    import weakref

    _listeners.append(weakref.WeakMethod(listener) if hasattr(listener, "__self__")
                      else weakref.ref(listener))

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
