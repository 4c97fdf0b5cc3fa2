"""The tensor viewer: slices without copying, heatmap with NaN/Inf marks and a colour scale,
feature maps of conv activations, a value table with highlighted cells; fed by tensors kept
at problems, at pauses and from snapshots."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import Qt

from conftest import case
from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.engine.tensor_keeper import TensorKeeper
from torchlens_gui.core.recording.snapshot import save_snapshot
from torchlens_gui.gui.panels.tensor_slicing import (MAX_SIDE, SliceSpec, cell_kind, picture,
                                                     slice_2d)
from torchlens_gui.gui.panels.tensor_viewer import CELL_COLORS, NOTHING_KEPT
from torchlens_gui.gui.window_layout import Dock


def test_a_slice_is_a_view_and_pictures_are_strided():
    t = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    view = slice_2d(t, SliceSpec(rows=1, cols=3, index=(1, 0, 2, 0)))
    assert view.shape == (3, 5) and torch.equal(view, t[1, :, 2, :])
    assert view.untyped_storage().data_ptr() == t.untyped_storage().data_ptr()  # no copy
    assert torch.equal(slice_2d(t, SliceSpec(3, 1, (0, 0, 0, 0))), t[0, :, 0, :].t())
    big = torch.zeros(5000, 3000)
    values, row_step, col_step = picture(big)
    assert max(values.shape) <= MAX_SIDE and (row_step, col_step) == (10, 6)
    assert [cell_kind(v) for v in (float("nan"), float("-inf"), 0.0, 1.5)] == \
        ["nan", "inf", "zero", None]


@pytest.fixture
def snapshot_path(tmp_path):
    record = Session(case("snap_conv_nan.py"), device="cpu", histograms=True,
                     tensor_keeper=TensorKeeper(pinned={"features.0"})).run()
    path = tmp_path / "conv.tlsnap"
    save_snapshot(record, str(path))
    return str(path)


def _select(window, path):
    window.tree.select_path(path)
    window.select_call(path, None)
    window.docks[Dock.VIEWER].raise_()
    window._show_values()
    return window.tensor_viewer


def test_feature_maps_heatmap_and_table_of_a_snapshot(qtbot, window, snapshot_path):
    with qtbot.waitSignal(window.controller.sig_record_changed, timeout=5000):
        window.open_file(snapshot_path)
    viewer = _select(window, "features.2")
    labels = [viewer.tensor_combo.itemText(i) for i in range(viewer.tensor_combo.count())]
    assert labels == ["input [0]", "output", "gradient grad[0]"]
    # The input of the NaN's birth: ReLU's [2, 6, 12, 12] output, channel 2 all zero.
    viewer.show_tensor(("features.2", 0, "input", "[0]"))
    assert viewer.tabs.currentIndex() == viewer.maps_tab and viewer.tabs.isTabEnabled(
        viewer.maps_tab)
    assert len(viewer.map_images) == 6
    assert "6 channels of sample 0" in viewer.maps_caption.text()
    viewer.sample_box.setValue(1)
    assert "sample 1" in viewer.maps_caption.text()
    # The output: NaN where channel 2 was divided by its zero sum, marked on the heatmap.
    viewer.show_tensor(("features.2", 0, "output", ""))
    viewer.tabs.setCurrentIndex(0)
    index = viewer.slices.indices[1]
    index.setValue(2)  # channel 2 of sample 0: 12 x 12 NaN
    assert viewer.view.shape == (12, 12) and torch.isnan(viewer.view).all()
    assert len(viewer.nan_marks.data) == 144 and "NaN × 144" in viewer.heat_caption.text()
    assert viewer.color_bar.levels() is not None
    # The value table highlights NaN cells (and zeros elsewhere), reading cells one by one.
    model = viewer.table_model
    assert (model.rowCount(), model.columnCount()) == (12, 12)
    cell = model.index(3, 4)
    assert model.data(cell) == "nan"
    assert model.data(cell, Qt.ItemDataRole.BackgroundRole).color() == CELL_COLORS["nan"]
    index.setValue(0)
    zeros = [(r, c) for r in range(12) for c in range(12) if viewer.view[r, c] == 0]
    assert zeros  # ReLU zeroed part of channel 0
    r, c = zeros[0]
    assert model.data(model.index(r, c), Qt.ItemDataRole.BackgroundRole).color() == \
        CELL_COLORS["zero"]
    # Other dims: channels down the rows, width across, at the chosen height.
    viewer.slices.rows.setCurrentIndex(1)
    viewer.slices.rows.activated.emit(1)
    assert viewer.slices.spec().rows == 1 and viewer.view.shape == (6, 12)
    assert [box.isVisible() for box in viewer.slices.indices] == [True, False, True, False]


def test_a_call_without_kept_tensors_says_how_to_get_them(qtbot, window, tmp_path):
    record = Session(case("gui_tiny.py"), device="cpu", tensor_keeper=TensorKeeper()).run()
    assert record.tensors == {}  # a clean run: no problem, nothing pinned
    save_snapshot(record, str(tmp_path / "clean.tlsnap"))
    with qtbot.waitSignal(window.controller.sig_record_changed, timeout=5000):
        window.open_file(str(tmp_path / "clean.tlsnap"))
    viewer = _select(window, "head")
    assert NOTHING_KEPT in viewer.title.text() and not viewer.tabs.isEnabled()


def test_stepping_keeps_the_tensors_of_the_pause(qtbot, window, driver):
    location = driver.open(case("snap_conv_nan.py"))  # paused before the first module
    for _ in range(6):  # step into the root, features, then features.0
        if location.path == "features.0":
            break
        location = driver.key(Qt.Key.Key_F11)
    assert (location.path, location.kind) == ("features.0", "enter")
    viewer = _select(window, "features.0")
    assert [viewer.tensor_combo.itemText(i) for i in range(viewer.tensor_combo.count())] == \
        ["input [0]"]
    assert tuple(viewer.tensor.shape) == (2, 1, 12, 12)
    driver.key(Qt.Key.Key_F11)  # leaving it: the output (the conv activation) is kept too
    viewer = _select(window, "features.0")
    assert viewer.tensor_combo.currentText() == "input [0]"  # still looking at the same one
    viewer.tensor_combo.setCurrentIndex(1)
    viewer.tensor_combo.activated.emit(1)
    assert viewer.tensor_combo.currentText() == "output"
    assert tuple(viewer.tensor.shape) == (2, 6, 12, 12) and len(viewer.map_images) == 6
    window.controller.stop(wait=True)


def test_double_clicking_a_tensor_row_opens_it_in_the_viewer(qtbot, window, snapshot_path):
    with qtbot.waitSignal(window.controller.sig_record_changed, timeout=5000):
        window.open_file(snapshot_path)
    window.tree.select_path("features.2")
    window.select_call("features.2", None)
    panel = window.tensor_panel
    rows = {}
    for i in range(panel.tree.topLevelItemCount()):
        section = panel.tree.topLevelItem(i)
        for j in range(section.childCount()):
            item = section.child(j)
            if item.data(0, Qt.ItemDataRole.UserRole):
                rows[item.data(0, Qt.ItemDataRole.UserRole)] = item
    assert set(rows) >= {("input", "[0]"), ("output", ""), ("grad", "grad[0]")}
    panel.tree.itemDoubleClicked.emit(rows[("grad", "grad[0]")], 0)
    viewer = window.tensor_viewer
    assert viewer.tensor_combo.currentText() == "gradient grad[0]"
    assert tuple(viewer.tensor.shape) == (2, 6, 12, 12)
