"""The report's charts as PNG bytes, drawn with Pillow (no Qt: the headless check has no display).

The same three pictures the window shows: gradient norm per module along depth (log scale), the
NaN/Inf count per call in execution order with the first origin marked, and the loss per step
of a training run.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Optional, Sequence

from PIL import Image, ImageDraw, ImageFont

from .record import RunRecord

WIDTH, HEIGHT = 760, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 30, 40
BAR = (70, 120, 200)
BAD = (210, 40, 40)
GRID = (225, 225, 225)
TEXT = (40, 40, 40)
ORIGIN = (230, 140, 0)


@dataclass(frozen=True)
class Chart:
    """One chart of a report: a title, what it shows, and the PNG."""

    title: str
    caption: str
    png: bytes


def _font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-2:
        return f"{value:.0e}"
    return f"{value:.3g}"


class _Canvas:
    """A plot area with a y axis (linear or log10) and index positions along x."""

    def __init__(self, title: str, count: int, top: float, bottom: float, log: bool,
                 x_label: str, y_label: str) -> None:
        self.image = Image.new("RGB", (WIDTH, HEIGHT), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.font, self.small = _font(13), _font(11)
        self.count, self.log = max(count, 1), log
        self.top, self.bottom = (math.log10(top), math.log10(bottom)) if log else (top, bottom)
        if self.top <= self.bottom:
            self.top = self.bottom + 1.0
        self.x0, self.x1 = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
        self.y0, self.y1 = HEIGHT - MARGIN_BOTTOM, MARGIN_TOP
        self.draw.text((self.x0, 8), title, fill=TEXT, font=self.font)
        self.draw.text(((self.x0 + self.x1) // 2, HEIGHT - 16), x_label, fill=TEXT,
                       font=self.small, anchor="mm")
        self.draw.text((6, self.y1 - 4), y_label, fill=TEXT, font=self.small, anchor="ls")
        self._axes()

    def y(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        share = (v - self.bottom) / (self.top - self.bottom)
        return self.y0 - min(max(share, 0.0), 1.0) * (self.y0 - self.y1)

    def x(self, index: float) -> float:
        return self.x0 + (index + 0.5) * (self.x1 - self.x0) / self.count

    def slot(self) -> float:
        return (self.x1 - self.x0) / self.count

    def _axes(self) -> None:
        ticks = 4
        for i in range(ticks + 1):
            v = self.bottom + (self.top - self.bottom) * i / ticks
            value = 10 ** v if self.log else v
            y = self.y(value)
            self.draw.line((self.x0, y, self.x1, y), fill=GRID)
            self.draw.text((self.x0 - 6, y), _label(value), fill=TEXT, font=self.small,
                           anchor="rm")
        self.draw.line((self.x0, self.y0, self.x1, self.y0), fill=TEXT)
        self.draw.line((self.x0, self.y0, self.x0, self.y1), fill=TEXT)

    def bars(self, values: Sequence[Optional[float]], colors: Sequence[tuple]) -> None:
        half = max(self.slot() * 0.4, 0.5)
        base = self.y(10 ** self.bottom) if self.log else self.y(max(self.bottom, 0.0))
        for i, value in enumerate(values):
            if value is None or (self.log and value <= 0):
                continue
            x = self.x(i)
            self.draw.rectangle((x - half, self.y(value), x + half, base), fill=colors[i])

    def line(self, values: Sequence[Optional[float]]) -> None:
        points = [(self.x(i), self.y(v)) for i, v in enumerate(values)
                  if v is not None and math.isfinite(v) and (not self.log or v > 0)]
        if len(points) > 1:
            self.draw.line(points, fill=BAR, width=2)
        for x, y in points if len(points) <= 200 else ():
            self.draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=BAR)

    def x_ticks(self, labels: dict[int, str]) -> None:
        for index, text in labels.items():
            self.draw.text((self.x(index), self.y0 + 4), text, fill=TEXT, font=self.small,
                           anchor="ma")

    def png(self) -> bytes:
        out = io.BytesIO()
        self.image.save(out, "PNG", optimize=True)
        return out.getvalue()


def _sparse_ticks(count: int, every: Optional[int] = None) -> dict[int, str]:
    step = every or max(1, math.ceil(count / 10))
    return {i: str(i) for i in range(0, count, step)}


def gradient_norm_chart(record: RunRecord) -> Optional[Chart]:
    """Gradient norm of each module's own parameters, in tree order (depth); None without any."""
    rows = []  # (path, norm of the finite values, gradient holds NaN/Inf)
    for path, node in record.nodes.items():
        grads = [p.grad for p in node.params if p.grad is not None]
        if grads:
            rows.append((path, record.grad_norm(path), any(g.nan or g.inf for g in grads)))
    if not rows:
        return None
    finite = [n for _, n, bad in rows if not bad and n is not None and math.isfinite(n) and n > 0]
    top = max(finite) * 2 if finite else 1.0
    bottom = min(finite) / 2 if finite else 1e-3
    canvas = _Canvas("Gradient norm per module (log scale)", len(rows), top, bottom, True,
                     "module, input side to output side", "norm")
    # A gradient holding NaN/Inf has no norm: a full-height red bar says so.
    canvas.bars([top if bad else n for _, n, bad in rows],
                [BAD if bad else BAR for _, _, bad in rows])
    canvas.x_ticks(_sparse_ticks(len(rows)))
    bad = sum(1 for _, _, b in rows if b)
    caption = f"{len(rows)} modules with parameters; first: {rows[0][0] or '(root)'}, " \
              f"last: {rows[-1][0] or '(root)'}" + (f"; {bad} non-finite (red)" if bad else "")
    return Chart("Gradient norms", caption, canvas.png())


def nonfinite_chart(record: RunRecord) -> Optional[Chart]:
    """NaN + Inf values in each call's outputs, in execution order; None for a clean run."""
    counts = [call.output_nonfinite_count for call in record.calls]
    if not any(counts):
        return None
    origin = record.nonfinite_origin() or next(c for c in record.calls if c.output_nonfinite)
    first = origin.order
    top = max(counts) * 2
    canvas = _Canvas("NaN / Inf values per call (log scale)", len(counts), top, 0.5, True,
                     "call, in execution order", "count")
    canvas.bars([c or None for c in counts], [BAD] * len(counts))
    x = canvas.x(first)
    canvas.draw.line((x, canvas.y1, x, canvas.y0), fill=ORIGIN, width=2)
    canvas.draw.text((x + 4, canvas.y1), f"born in {origin.path or '(root)'}", fill=ORIGIN,
                     font=canvas.small)
    canvas.x_ticks(_sparse_ticks(len(counts)))
    caption = f"{sum(1 for c in counts if c)} of {len(counts)} calls output NaN/Inf; born " \
              f"in {origin.path or '(root)'} (call {first} of the run, marked)"
    return Chart("NaN / Inf", caption, canvas.png())


def step_losses(record: RunRecord) -> list[Optional[float]]:
    """The loss of each training step (empty for a single pass)."""
    return [None if math.isnan(v) else v for v in record.steps.losses()]


def loss_chart(record: RunRecord) -> Optional[Chart]:
    """Loss per step of a training run; None for a single pass."""
    losses = step_losses(record)
    finite = [v for v in losses if v is not None and math.isfinite(v)]
    if len(losses) < 2 or not finite:
        return None
    low, high = min(finite), max(finite)
    pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    canvas = _Canvas("Loss per step", len(losses), high + pad, low - pad, False, "step",
                     "loss")
    canvas.line(losses)
    canvas.x_ticks(_sparse_ticks(len(losses)))
    bad = [i for i, v in enumerate(losses) if v is None or not math.isfinite(v)]
    caption = f"{len(losses)} steps, loss {losses[0]:.4g} → {losses[-1]:.4g}" \
        if losses[0] is not None and losses[-1] is not None else f"{len(losses)} steps"
    if bad:
        caption += f"; non-finite from step {bad[0]}"
    return Chart("Loss", caption, canvas.png())


def report_charts(record: RunRecord) -> list[Chart]:
    """The charts a report of ``record`` holds (those with something to show)."""
    charts = (gradient_norm_chart(record), nonfinite_chart(record), loss_chart(record))
    return [chart for chart in charts if chart is not None]
