"""The parts around the session: filter box, device selector, recent files, a big tree, and
the --run --screenshot front door."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import QModelIndex

from conftest import EXAMPLES, case
from torchlens_gui.core.recording import events as ev
from torchlens_gui.core.recording.record import RunRecord
from torchlens_gui.gui import style
from torchlens_gui.gui.module_model import ModuleTreeModel
from torchlens_gui.gui.window_layout import Dock


def visible_paths(tree, parent=QModelIndex()) -> list[str]:
    out = []
    for row in range(tree.model.rowCount(parent)):
        if tree.view.isRowHidden(row, parent):
            continue
        index = tree.model.index(row, 0, parent)
        out.append(tree.model.path_of(index))
        out.extend(visible_paths(tree, index))
    return out


def test_filter_keeps_matches_and_their_ancestors(driver, window):
    driver.open(case("gui_tiny.py"))
    window.tree.filter_edit.setText("relu")
    assert visible_paths(window.tree) == ["", "body", "body.1"]
    window.tree.filter_edit.setText("")
    assert len(visible_paths(window.tree)) == 6


def test_device_selector_lists_cpu_and_explains_missing_cuda(window):
    combo = window.device_combo
    assert combo.itemData(0) == "cpu"
    assert combo.currentData() == "cpu"
    for row in range(1, combo.count()):
        item = combo.model().item(row)
        if not item.isEnabled():
            assert item.toolTip()  # the reason CUDA cannot be used


def test_recent_files_remembered(driver, window, settings):
    driver.open(case("gui_tiny.py"))
    assert window.recent.files()[0] == case("gui_tiny.py")
    assert window.debug_actions.recent_menu.actions()[0].text().endswith("gui_tiny.py")


def test_big_tree_takes_a_burst_of_changes_as_one_signal():
    """10,000 changed rows reach the views as one sig_rows_changed, not a dataChanged per
    range (a view works out each range cell by cell); a few rows as dataChanged. (How fast:
    benchmarks/responsiveness.py.)"""
    nodes = [ev.ModuleNode("", "Root", None, 0, 0)]
    for i in range(100):
        nodes.append(ev.ModuleNode(f"b{i}", "Block", "", 1, 0))
        for j in range(99):
            nodes.append(ev.ModuleNode(f"b{i}.l{j}", "Linear", f"b{i}", 2, 10))
    record = RunRecord()
    record.apply(ev.TreeBuilt(tuple(nodes)))
    model = ModuleTreeModel(record)
    model.rebuild()
    for node in nodes:
        record.apply(ev.ModuleEntered(node.path, 0, node.depth, ()))
    bursts, ranges = [], []
    model.sig_rows_changed.connect(bursts.append)
    model.dataChanged.connect(lambda first, last, roles=(): ranges.append(
        (model.path_of(first), model.path_of(last))))
    model.refresh_paths({n.path for n in nodes})
    assert model.rowCount(model.index_of("b42")) == 99
    assert model.path_of(model.index(5, 0, model.index_of("b42"))) == "b42.l5"
    assert (len(bursts), len(bursts[0]), ranges) == (1, 10_001, [])
    model.refresh_paths({"b42.l5", "b42.l7"})
    assert (len(bursts), ranges) == (1, [("b42.l5", "b42.l7")])


def test_run_screenshot_cli(tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path),
               HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "torchlens_gui", os.path.join(EXAMPLES, "mlp_nan.py"),
         "--device", "cpu", "--run", "--screenshot", str(out)],
        env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 10_000


def test_drop_a_py_file_opens_it(qtbot, window):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(case("gui_tiny.py"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.controller.sig_record_changed, timeout=10_000,
                          check_params_cb=lambda ch: ch.paused is not None):
        window.dropEvent(event)
    assert window.controller.source == case("gui_tiny.py")


def test_events_of_a_stale_session_are_dropped(qtbot, window):
    controller = window.controller
    # the stale one comes last: applied, it would be the phase the record ends on
    controller._queue.put((controller.generation, ev.PhaseChanged(ev.Phase.BUILD)))
    controller._queue.put((controller.generation - 1, ev.PhaseChanged(ev.Phase.BACKWARD)))
    controller.drain()
    assert controller.record.phase == ev.Phase.BUILD


def test_tree_cells_in_one_call_match_data(driver, window):
    from PySide6.QtCore import QModelRoleData, QModelRoleDataSpan, Qt

    driver.open(case("gui_tiny.py"))
    driver.key(Qt.Key.Key_F5)
    model = window.model
    roles = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.BackgroundRole,
             Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.TextAlignmentRole)
    for path in ("", "body.0", "head"):
        for column in range(model.columnCount()):
            index = model.index_of(path, column)
            for role in roles:
                role_data = QModelRoleData(int(role))
                model.multiData(index, QModelRoleDataSpan(role_data))
                assert role_data.data() == model.data(index, role)
    # Cells are kept per row until the row is refreshed: marking the current module is one.
    font = QModelRoleData(int(Qt.ItemDataRole.FontRole))
    model.set_current("head")
    model.multiData(model.index_of("head", 2), QModelRoleDataSpan(font))
    assert font.data().bold()
    model.set_current(None)
    model.multiData(model.index_of("head", 2), QModelRoleDataSpan(font))
    assert font.data() is None


def test_none_and_true_outlive_many_qt_calls(qtbot):
    """Where the binding takes a reference per void call or emit (PySide6 6.12 on CPython 3.11),
    this test aborts the whole run unless the guard gave None, True and False a reserve."""
    from PySide6.QtCore import QModelRoleData, QObject, Signal

    class Emitter(QObject):
        sig_ticked = Signal(int)

    import torchlens_gui.gui  # noqa: F401  (installs the guard)

    emitter, role_data = Emitter(), QModelRoleData(0)
    for i in range(200_000):  # more than None's references in this process
        role_data.setData(i)
    for i in range(50_000):  # more than True's
        emitter.sig_ticked.emit(i)


def test_filter_survives_a_restart(driver, window):
    from PySide6.QtCore import Qt

    driver.open(case("gui_tiny.py"))
    window.tree.filter_edit.setText("relu")
    driver.key(Qt.Key.Key_F5, Qt.KeyboardModifier.ControlModifier
               | Qt.KeyboardModifier.ShiftModifier)  # restart: the tree is rebuilt
    assert visible_paths(window.tree) == ["", "body", "body.1"]
    window.tree.select_path("head")  # filtered out: not selected
    assert window.tree.selected_path() != "head"


def test_many_changed_rows_are_one_repaint_and_few_are_ranges(qtbot):
    nodes = [ev.ModuleNode("", "Root", None, 0, 0)]
    nodes += [ev.ModuleNode(f"l{i}", "Linear", "", 1, 10) for i in range(100)]
    record = RunRecord()
    record.apply(ev.TreeBuilt(tuple(nodes)))
    model = ModuleTreeModel(record)
    model.rebuild()
    with qtbot.waitSignal(model.sig_rows_changed, timeout=1000) as blocker:
        model.refresh_paths({n.path for n in nodes})
    assert "l99" in blocker.args[0]
    with qtbot.waitSignal(model.dataChanged, timeout=1000) as blocker:
        model.refresh_paths({"l3", "l5"})
    first, last = blocker.args[:2]
    assert (first.row(), last.row(), model.path_of(first.parent())) == (3, 5, "")


def test_panel_behind_a_tab_is_filled_when_its_tab_is_chosen(driver, window, qtbot):
    from PySide6.QtCore import Qt

    driver.open(case("gui_tiny.py"))
    driver.key(Qt.Key.Key_F5)
    window.tree.select_path("body.0", notify=True)
    combo = window.gradient_panel.param_combo
    assert combo.count() == 0  # behind the Activations tab: left alone
    with qtbot.waitSignal(window.docks[Dock.GRADIENTS].visibilityChanged, timeout=2000):
        window.docks[Dock.GRADIENTS].raise_()
    assert combo.itemText(0) == "body.0.weight gradient"


def test_histogram_range_is_set_before_the_paint(qtbot):
    from torchlens_gui.gui.panels.plots import HistogramPlot

    plot = HistogramPlot()
    qtbot.addWidget(plot)
    plot.show()
    summary = ev.TensorSummary(shape=(4,), dtype="float32", numel=4, min=-2.0, max=6.0, nan=0,
                               inf=0, hist=ev.Histogram((-2.0, 2.0, 6.0), (1, 3)))
    plot.show_summary(summary, "x")
    (x0, x1), (y0, y1) = plot.plot.viewRange()  # no event loop ran: no paint yet
    assert x0 <= -2.0 and 6.0 <= x1 and x1 - x0 < 9.0
    assert y0 <= 0 and 3 <= y1 < 4


def test_worker_is_let_go_once_the_drain_is_painted(qtbot, window):
    controller = window.controller
    controller._queue.put((controller.generation, ev.PhaseChanged(ev.Phase.BUILD)))
    controller.drain()
    assert not controller._gui_idle.is_set()  # held until the event loop has painted
    qtbot.waitUntil(controller._gui_idle.is_set, timeout=2000)


def test_gradient_norms_chart_matches_the_record(driver, window, qtbot):
    from PySide6.QtCore import Qt

    from torchlens_gui.gui.panels.gradient_panel import depth_norms
    from torchlens_gui.gui.panels.plots import MAX_MARKS, LogBarChart

    driver.open(case("gui_tiny.py"))
    driver.key(Qt.Key.Key_F5)
    record = driver.record
    paths, values, _colors = depth_norms(record)
    assert paths[:3] == ["", "body", "body.0"]
    assert values[2] == record.grad_norm("body.0")
    chart = LogBarChart("x", "y")
    qtbot.addWidget(chart)
    chart.set_values([0.0] * 5000 + [1.0, None], ["m"] * 5002)
    assert len(chart.marks.data) <= MAX_MARKS  # zeros marked, thinned to the pixels
    assert sum(len(item.opts["x"]) for item in chart.bars.values()) == 1


def test_tree_columns_are_found_by_their_headers():
    """Cells looked up by the header a user reads, not by our column constants."""
    from PySide6.QtCore import Qt

    from torchlens_gui.core.engine.session import Session

    record = Session(case("gui_tiny.py"), device="cpu").run()
    model = ModuleTreeModel(record)
    model.rebuild()
    headers = {model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole): c
               for c in range(model.columnCount())}
    assert list(headers) == ["Module", "Type", "Output shape", "Dtype", "Device", "Params",
                             "NaN/Inf", "Grad norm", "Time"]

    def cell(path: str, header: str) -> str:
        return model.data(model.index_of(path, headers[header]), Qt.ItemDataRole.DisplayRole)

    assert [cell("body.0", h) for h in ("Module", "Type", "Output shape", "Dtype", "Device",
                                        "Params", "NaN/Inf")] == [
        "0", "Linear", "[3, 8]", "float32", "cpu", "40", ""]
    norm, of_params = record.module_grad_norm("body.0")
    assert of_params and cell("body.0", "Grad norm") == style.format_number(norm)


def test_problem_rows_are_painted_in_the_problem_colours():
    from PySide6.QtCore import Qt

    from torchlens_gui.core.engine.session import Session

    def background(model, path):
        brush = model.data(model.index_of(path), Qt.ItemDataRole.BackgroundRole)
        return brush.color().name() if brush is not None else None

    nan = ModuleTreeModel(Session(EXAMPLES + "/mlp_nan.py", device="cpu").run())
    nan.rebuild()
    assert background(nan, "norm") == style.NONFINITE_COLOR.name()  # NaN born here
    assert background(nan, "encoder.0") is None  # a clean row is not painted
    failed = ModuleTreeModel(Session(case("gui_shape_error.py"), device="cpu").run())
    failed.rebuild()
    assert background(failed, "2") == style.ERROR_COLOR.name()  # raised here
    assert background(failed, "0") is None
    nan.set_current("encoder.0")  # the paused module stands out over everything
    assert background(nan, "encoder.0") == style.CURRENT_COLOR.name()
