"""A run that stops on a problem shows a histogram for the problem call; where there is none
the Activations panel is one line saying why."""

from __future__ import annotations

from conftest import EXAMPLES, case
from torchlens_gui.gui.window_layout import Dock


def show_activations(window, qtbot):
    window.docks[Dock.ACTIVATIONS].raise_()
    qtbot.waitUntil(lambda: window.activation_panel.isVisible())
    return window.activation_panel


def test_nan_stop_has_a_histogram(driver, window, qtbot):
    where = driver.open(f"{EXAMPLES}/mlp_nan.py", run=True)
    assert where is not None and where.reason == "non-finite"
    panel = show_activations(window, qtbot)
    assert panel.shown is not None and panel.shown.hist is not None
    assert " input " in panel.picker.combo.currentText()  # the output is all NaN
    assert panel.histogram.plot.isVisible() and not panel.histogram.message.isVisible()


def test_shape_error_stop_has_a_histogram(driver, window, qtbot):
    where = driver.open(case("gui_shape_error.py"), run=True)
    assert where is not None and where.reason == "exception" and where.path == "2"
    panel = show_activations(window, qtbot)
    assert panel.shown is not None and panel.shown.hist is not None
    assert sum(panel.shown.hist.counts) == panel.shown.numel
    assert panel.histogram.plot.isVisible()


def test_no_histogram_is_one_line_saying_how_to_get_one(driver, window, qtbot):
    # A free run of 21 layers: the first layers' calls are long gone when the forward ends.
    driver.open(f"{EXAMPLES}/deep_sigmoid.py", run=True)
    window.tree.select_path("1", notify=True)
    panel = show_activations(window, qtbot)
    assert panel.shown is not None and panel.shown.hist is None
    assert not panel.histogram.plot.isVisible()
    assert "breakpoint" in panel.histogram.message.text()
