"""Export any plot to PNG or SVG from its context menu (pyqtgraph's own exporters)."""

from __future__ import annotations

import os

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

FORMATS = {"png": "PNG image (*.png)", "svg": "SVG drawing (*.svg)"}
# Exported pictures are drawn at least this wide (the docked plot is often small).
MIN_EXPORT_WIDTH = 1200


def export_plot(plot: pg.PlotWidget | pg.GraphicsLayoutWidget, path: str) -> None:
    """Write the whole plot (axes, labels, items; every plot of a layout) to ``path``; the
    suffix picks PNG or SVG. Raises OSError when the file cannot be written."""
    from pyqtgraph import exporters

    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot.ci
    if path.lower().endswith(".svg"):
        _tolerate_closed_paths()
        exporters.SVGExporter(item).export(path)
    else:
        exporter = exporters.ImageExporter(item)
        width = max(int(item.sceneBoundingRect().width()), MIN_EXPORT_WIDTH)
        exporter.parameters()["width"] = width
        if not exporter.export(path) and not os.path.isfile(path):
            raise OSError(f"cannot write {path}")
    if not os.path.isfile(path):
        raise OSError(f"cannot write {path}")


def _tolerate_closed_paths() -> None:
    """pyqtgraph 0.14's SVG exporter reads every token of a path as "x,y" and fails on the
    "Z" (close path) that Qt 6.8+ writes (pyqtgraph issue 3485). Its coordinate correction
    gets the path without the Z, which is put back afterwards."""
    import sys

    module = sys.modules["pyqtgraph.exporters.SVGExporter"]
    original = module.correctCoordinates
    if getattr(original, "tolerates_closed_paths", False):
        return

    def correct(node, defs, item, options):
        closed = []
        for path in node.getElementsByTagName("path"):  # every group inside, as it walks them
            tokens = path.getAttribute("d").split()
            if any(token in ("Z", "z") for token in tokens):
                path.setAttribute("d", " ".join(t for t in tokens if t not in ("Z", "z")))
                closed.append(path)
        original(node, defs, item, options)
        for path in closed:
            path.setAttribute("d", path.getAttribute("d").strip() + " Z")

    correct.tolerates_closed_paths = True
    module.correctCoordinates = correct


def install_export_menu(plot: pg.PlotWidget | pg.GraphicsLayoutWidget, name: str
                        ) -> list[QAction]:
    """Right click on ``plot``: Export as PNG…, Export as SVG…; ``name`` is the default file
    name. Returns the actions (tests trigger them)."""
    actions = []
    for suffix, file_filter in FORMATS.items():
        action = QAction(f"Export Plot as {suffix.upper()}…", plot)
        action.triggered.connect(
            lambda _=False, s=suffix, f=file_filter: _ask_and_export(plot, name, s, f))
        plot.addAction(action)
        actions.append(action)
    plot.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    return actions


def _ask_and_export(plot: pg.PlotWidget, name: str, suffix: str, file_filter: str) -> None:
    path, _ = QFileDialog.getSaveFileName(plot, f"Export plot as {suffix.upper()}",
                                          f"{name}.{suffix}", file_filter)
    if not path:
        return
    if not path.lower().endswith(f".{suffix}"):
        path += f".{suffix}"
    try:
        export_plot(plot, path)
    except OSError as exc:
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot export plot", str(exc),
                          QMessageBox.StandardButton.Ok, plot)
        box.open()
