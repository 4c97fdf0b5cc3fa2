"""Every plot exports to PNG and SVG from its context menu."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QFileDialog

from conftest import case
from torchlens_gui.gui.window_layout import Dock


def _plots(window) -> dict[str, pg.PlotWidget]:
    return {"activations": window.activation_panel.findChild(pg.PlotWidget),
            "gradient norms": window.gradient_panel.findChildren(pg.PlotWidget)[0],
            "gradient histogram": window.gradient_panel.findChildren(pg.PlotWidget)[-1],
            "nan-inf": window.nonfinite_panel.findChild(pg.PlotWidget)}


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_every_plot_exports_from_its_context_menu(qtbot, window, driver, tmp_path,
                                                  monkeypatch, suffix):
    driver.open(case("snap_conv_nan.py"), run=True)  # paused where the NaN is born
    for title in (Dock.GRADIENTS, Dock.NONFINITE, Dock.ACTIVATIONS):
        window.docks[title].raise_()
    plots = _plots(window)
    assert len({id(p) for p in plots.values()}) == 4
    for name, plot in plots.items():
        actions = {a.text(): a for a in plot.actions()}
        action = actions[f"Export Plot as {suffix.upper()}…"]
        target = tmp_path / f"{name}.{suffix}"
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            staticmethod(lambda *args, t=target: (str(t), "")))
        action.trigger()
        data = target.read_bytes()
        if suffix == "png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        else:
            root = ET.fromstring(data)  # a well-formed SVG document
            assert root.tag.endswith("svg"), name
    nan_svg = (tmp_path / "nan-inf.svg") if suffix == "svg" else None
    if nan_svg is not None:
        assert "module call" in nan_svg.read_text()  # the axis label is in the drawing


def test_layouts_of_plots_export_whole(qtbot, window, tmp_path, monkeypatch):
    """The Steps charts and the feature-map grid are layouts of several plots: one picture."""
    for layout, name in ((window.steps_panel.graphics, "steps"),
                         (window.tensor_viewer.maps_widget, "maps")):
        actions = {a.text(): a for a in layout.actions()}
        for suffix in ("png", "svg"):
            target = tmp_path / f"{name}.{suffix}"
            monkeypatch.setattr(QFileDialog, "getSaveFileName",
                                staticmethod(lambda *args, t=target: (str(t), "")))
            actions[f"Export Plot as {suffix.upper()}…"].trigger()
            assert target.stat().st_size > 0
