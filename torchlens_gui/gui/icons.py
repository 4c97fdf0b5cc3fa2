"""Toolbar icons drawn as vectors in mid-tone colours with a contrasting rim, so they read at a
glance at toolbar size on a light and on a dark palette alike (the style's standard icons are
black glyphs that vanish on a dark toolbar). Drawn on a 32-unit canvas at 64 px."""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

GREEN = QColor(46, 160, 67)
BLUE = QColor(59, 130, 230)
RED = QColor(215, 58, 58)
AMBER = QColor(225, 150, 25)
RIM = QColor(255, 255, 255, 150)  # a light rim: dark shapes on dark toolbars still stand out
SIZE = 64


def _render(draw: Callable[[QPainter], None]) -> QIcon:
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(SIZE / 32, SIZE / 32)
    draw(painter)
    painter.end()
    return QIcon(pixmap)


def _fill(painter: QPainter, path: QPainterPath, color: QColor) -> None:
    painter.setPen(QPen(RIM, 1.2))
    painter.setBrush(color)
    painter.drawPath(path)


def _stroke(painter: QPainter, path: QPainterPath, color: QColor, width: float = 3.2) -> None:
    for pen_color, pen_width in ((RIM, width + 1.6), (color, width)):
        pen = QPen(pen_color, pen_width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)


def _triangle(points) -> QPainterPath:
    path = QPainterPath()
    path.addPolygon(QPolygonF([QPointF(x, y) for x, y in points]))
    path.closeSubpath()
    return path


def _dot(painter: QPainter, x: float, y: float, color: QColor, r: float = 3.2) -> None:
    path = QPainterPath()
    path.addEllipse(QPointF(x, y), r, r)
    _fill(painter, path, color)


def _line(x1, y1, x2, y2) -> QPainterPath:
    path = QPainterPath(QPointF(x1, y1))
    path.lineTo(x2, y2)
    return path


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """"breakpoint", "continue", "pause", "stop", "restart", "step_over", "step_into",
    "step_out", "run_to"."""
    return _render(_DRAW[name])


def _continue(p: QPainter) -> None:
    _fill(p, _triangle([(9, 5), (27, 16), (9, 27)]), GREEN)


def _pause(p: QPainter) -> None:
    path = QPainterPath()
    path.addRoundedRect(QRectF(8, 6, 6, 20), 1.5, 1.5)
    path.addRoundedRect(QRectF(18, 6, 6, 20), 1.5, 1.5)
    _fill(p, path, AMBER)


def _stop(p: QPainter) -> None:
    path = QPainterPath()
    path.addRoundedRect(QRectF(7, 7, 18, 18), 2.5, 2.5)
    _fill(p, path, RED)


def _restart(p: QPainter) -> None:
    arc = QPainterPath()
    arc.arcMoveTo(QRectF(6, 6, 20, 20), 60)
    arc.arcTo(QRectF(6, 6, 20, 20), 60, 280)
    _stroke(p, arc, GREEN)
    _fill(p, _triangle([(18.5, 2.5), (26, 8.5), (17.5, 12.5)]), GREEN)


def _step_over(p: QPainter) -> None:
    arc = QPainterPath()
    arc.arcMoveTo(QRectF(5, 6, 22, 18), 180)
    arc.arcTo(QRectF(5, 6, 22, 18), 180, -160)
    _stroke(p, arc, BLUE)
    _fill(p, _triangle([(21.5, 12), (30, 12.5), (25.5, 20)]), BLUE)
    _dot(p, 16, 26, BLUE)


def _step_into(p: QPainter) -> None:
    _stroke(p, _line(16, 3, 16, 15), BLUE)
    _fill(p, _triangle([(10, 13), (22, 13), (16, 20)]), BLUE)
    _dot(p, 16, 26, BLUE)


def _step_out(p: QPainter) -> None:
    _stroke(p, _line(16, 22, 16, 10), BLUE)
    _fill(p, _triangle([(10, 11), (22, 11), (16, 3)]), BLUE)
    _dot(p, 16, 27, BLUE)


def _run_to(p: QPainter) -> None:
    _stroke(p, _line(4, 16, 18, 16), BLUE)
    _fill(p, _triangle([(16, 9), (25, 16), (16, 23)]), BLUE)
    _stroke(p, _line(28, 7, 28, 25), BLUE, 2.6)


def _breakpoint(p: QPainter) -> None:
    _dot(p, 16, 16, RED, 8.5)


_DRAW = {"breakpoint": _breakpoint, "continue": _continue, "pause": _pause, "stop": _stop, "restart": _restart,
         "step_over": _step_over, "step_into": _step_into, "step_out": _step_out,
         "run_to": _run_to}
