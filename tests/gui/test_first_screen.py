"""The first screen: what the app does, how to start, the keys and the bundled examples."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from conftest import EXAMPLES, case


def test_first_screen_teaches(window):
    page = window.welcome
    assert window.central.currentWidget() is page
    assert page.open_button.text() == "Open a model file…"
    assert page.script_button.text() == "Run a training script…"
    assert {"F5", "F10", "F11", "Shift+F11", "F9", "Ctrl+O"} <= set(page.key_list)
    listed = [os.path.basename(p) for p in page.example_paths()]
    assert listed[0] == "mlp_nan.py"
    assert {"shape_mismatch.py", "nan_backward.py", "healthy_cnn.py",
            "healthy_transformer.py"} <= set(listed)
    assert set(listed) == {f for f in os.listdir(EXAMPLES) if f.endswith(".py")}
    menu = window.menuBar().findChild(type(window.debug_actions.recent_menu), "examples_menu")
    assert [a.statusTip() for a in menu.actions()] == page.example_paths()


def test_choosing_an_example_opens_it(driver, window):
    page = window.welcome
    group = page.examples.topLevelItem(0)
    first = group.child(0)
    driver.wait_stop(lambda: page.examples.itemActivated.emit(first, 0))
    assert window.controller.source == os.path.join(EXAMPLES, "mlp_nan.py")
    assert window.central.currentWidget() is window.tree


def test_a_training_script_runs_in_script_mode(driver, window, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import torch\nlayer = torch.nn.Linear(2, 1)\n"
                      "for step in range(3):\n    layer(torch.ones(1, 2)).sum().backward()\n")
    location = driver.wait_stop(lambda: window.run_script(str(script)))
    assert location is not None and location.reason == "step-start"
    assert window.controller.script_args == []
    # A script that is a model file too opens as one.
    assert driver.wait_stop(lambda: window.run_script(case("gui_tiny.py"))) is not None
    assert window.controller.source == case("gui_tiny.py")


def test_keyboard_shortcuts_list_is_generated_from_the_actions(window):
    from torchlens_gui.gui.shortcuts import ShortcutsDialog

    dialog = ShortcutsDialog(window.actions(), window)
    rows = {dialog.table.item(r, 1).text(): dialog.table.item(r, 0).text()
            for r in range(dialog.table.rowCount())}
    assert rows["F5"] == "Continue" and rows["F9"] == "Toggle Breakpoint"
    assert rows["F1"] == "Keyboard Shortcuts"
    dialog.close()
