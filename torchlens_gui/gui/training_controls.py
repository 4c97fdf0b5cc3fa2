"""The window's training controls: run N steps of a model file, run to the next step, break at step N (toolbar field and Debug menu), the step in the status bar, and the Steps
dock's clicks (show a kept step's record in the tree and panels)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QLabel, QSpinBox, QToolBar

if TYPE_CHECKING:
    from .main_window import MainWindow

DEFAULT_STEPS = 20


class TrainingControls:
    """Actions and widgets for runs of many steps, wired to one main window."""

    def __init__(self, window: "MainWindow") -> None:
        self.window = window
        controller = window.controller

        def make(text: str, shortcut: Optional[str], tip: str) -> QAction:
            action = QAction(text, window)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
                tip = f"{tip} ({shortcut})"
            action.setToolTip(tip)
            action.setStatusTip(tip)
            window.addAction(action)
            return action

        self.next_step = make("Run to Next S&tep", "F6",
                              "Continue to the start of the next training step")
        self.run_steps = make("Run N Steps…", "Ctrl+T",
                              "Train the model file for N steps (forward, loss, backward, "
                              "optimizer step): needs optimizer() in the file")
        self.break_field = QSpinBox(window)
        self.break_field.setRange(0, 10_000_000)
        self.break_field.setSpecialValueText("off")
        self.break_field.setPrefix("step ")
        self.break_field.setToolTip("Break at the start of this training step (off: 0)")
        self.step_label = QLabel("", window)
        window.status.addPermanentWidget(self.step_label)

        debug_menu = window.menuBar().actions()[1].menu()
        debug_menu.addSeparator()
        debug_menu.addActions([self.next_step, self.run_steps])
        break_action = debug_menu.addAction("Break at Step…")
        break_action.triggered.connect(self._on_break_menu_triggered)
        # Their own toolbar row, shown while a run trains (the debug toolbar is full).
        self.toolbar = QToolBar("Training", window)
        self.toolbar.setObjectName("training_toolbar")
        self.toolbar.setMovable(False)
        self.toolbar.addAction(self.next_step)
        self.toolbar.addWidget(QLabel(" Break at ", window))
        self.toolbar.addWidget(self.break_field)
        window.addToolBarBreak()
        window.addToolBar(self.toolbar)
        self.toolbar.setVisible(False)

        self.next_step.triggered.connect(controller.run_to_next_step)
        self.run_steps.triggered.connect(self._on_run_steps_triggered)
        self.break_field.valueChanged.connect(
            lambda value: controller.set_break_at_step(value or None))
        window.steps_panel.sig_step_selected.connect(self._on_steps_step_selected)

    # ---- state ------------------------------------------------------------------------------

    def update(self) -> None:
        """Enable what can be done now and show the step (after every record change)."""
        controller = self.window.controller
        trains = controller.trains
        if self.toolbar.isVisibleTo(self.window) != trains:
            self.toolbar.setVisible(trains)
        self.next_step.setEnabled(trains and controller.paused)
        self.run_steps.setEnabled(isinstance(controller.source, str)
                                  and controller.script_args is None)
        record = controller.record
        if trains and record.step is not None:
            kept = record.steps.last
            loss = f", loss {kept.loss:.4g}" if kept is not None and kept.loss is not None else ""
            # Once the run is over, its last step (a trailing evaluation call is none).
            step = kept.step if controller.ended and kept is not None else record.step
            self.step_label.setText(f"Step {step}{loss}")
        else:
            self.step_label.setText("")

    # ---- slots ------------------------------------------------------------------------------

    def _on_run_steps_triggered(self) -> None:
        window = self.window
        steps, ok = QInputDialog.getInt(window, "Run N steps", "Training steps:",
                                        DEFAULT_STEPS, 1, 1_000_000)
        if ok and isinstance(window.controller.source, str):
            window.controller.start(window.controller.source, run=True, steps=steps)

    def _on_break_menu_triggered(self) -> None:
        value, ok = QInputDialog.getInt(self.window, "Break at step",
                                        "Pause at the start of step (0: off):",
                                        self.break_field.value(), 0, 10_000_000)
        if ok:
            self.break_field.setValue(value)

    def _on_steps_step_selected(self, step: int) -> None:
        """Show a kept step's module calls in the tree and panels (while nothing runs)."""
        window = self.window
        controller = window.controller
        if controller.running and not controller.paused and not controller.ended:
            window.status.showMessage("Pause or wait for the end to look at an earlier step",
                                      4000)
            return
        if not controller.record.show_step(step):
            window.status.showMessage(
                f"Step {step} ran light: its module calls were not kept (they are for the "
                "steps recorded in full and the steps with a problem); its figures are in the "
                "Steps plots", 6000)
            return
        window.model.refresh_paths(set(window.model.paths()))
        window.status.showMessage(f"Showing step {step}'s record", 4000)
        window.select_call(window.selection.path or "", None)
