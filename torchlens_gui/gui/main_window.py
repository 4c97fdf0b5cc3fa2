"""The main window: module tree in the middle, panels docked around it, debugger actions."""

from __future__ import annotations

import os
import shlex
from typing import Optional, Sequence

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLabel, QMainWindow, \
    QStackedWidget, QWidget

from ..core.recording import events as ev
from ..core.engine.gate import Command
from ..core.usercode.loader import TRAINS_AT_IMPORT, ModelSpec
from ..core.recording.record import CallRecord, RunRecord
from . import style
from .actions import Actions
from .device_combo import make_device_combo
from .examples import Example, bundled_examples
from .first_problem import first_problem
from .help_menu import SCRIPT_FILTER, build_help_menu, is_model_file
from .module_model import ModuleTreeModel
from .module_tree import ModuleTree
from .panel_keys import install_panel_keys
from .panels.activation_panel import ActivationPanel
from .panels.diagnostics_panel import DiagnosticsPanel
from .panels.gradient_panel import GradientPanel
from .panels.log_panel import LogPanel
from .panels.nonfinite_panel import NonFinitePanel
from .panels.source_panel import SourcePanel
from .panels.steps_panel import StepsPanel
from .panels.tensor_panel import TensorPanel
from .panels.tensor_viewer import TensorViewer
from .recent_files import RecentFiles
from .run_views import RunViews
from .safety_notice import SAFETY_NOTICE_KEY, safety_notice
from .selection import Selection
from .session_controller import Changes, SessionController
from .session_state import ENABLED, STATEFUL
from .sharing import OPEN_FILTER, Sharing, snapshot_title
from .status_bar import StatusBar
from .theme import ThemeSwitcher
from .welcome import WelcomePage
from .window_layout import Dock, WindowLayout, is_shown


class MainWindow(QMainWindow):
    """One debugging session at a time; every view reads the controller's RunRecord."""

    def __init__(self, settings: Optional[QSettings] = None, device: Optional[str] = None,
                 default_layout: bool = False, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("torchlens-gui")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.controller = SessionController(self)
        self.controller.device = device or str(self.settings.value("device", "cpu"))
        self.selection = Selection()

        self.model = ModuleTreeModel(breakpoints=lambda: self.controller.breakpoints)
        self.tree = ModuleTree(self.model, self)
        self.tree.placeholder.linkActivated.connect(self._on_placeholder_link_activated)
        self.tensor_panel = TensorPanel()
        self.activation_panel = ActivationPanel()
        self.gradient_panel = GradientPanel()
        self.nonfinite_panel = NonFinitePanel()
        self.diagnostics_panel = DiagnosticsPanel()
        self.source_panel = SourcePanel()
        self.log_panel = LogPanel()
        self.steps_panel = StepsPanel()
        self.tensor_viewer = TensorViewer()
        self.debug_actions = Actions(self)
        view_menu = self.debug_actions.build_menus(self)
        self.toolbar = self.debug_actions.build_toolbar(self)
        self.device_combo = make_device_combo(self.controller.device, self)
        self.controller.device = self.device_combo.currentData()
        self.toolbar.addSeparator()
        self.toolbar.addWidget(QLabel(" Device: ", self))
        self.toolbar.addWidget(self.device_combo)
        self.examples = bundled_examples()
        self._build_central()
        build_help_menu(self, self.examples, self.open_example)
        self.layout_ = WindowLayout(self, view_menu)
        self.docks = self.layout_.dock_all({
            Dock.TENSORS: self.tensor_panel, Dock.ACTIVATIONS: self.activation_panel,
            Dock.GRADIENTS: self.gradient_panel, Dock.NONFINITE: self.nonfinite_panel,
            Dock.DIAGNOSTICS: self.diagnostics_panel, Dock.SOURCE: self.source_panel,
            Dock.LOG: self.log_panel, Dock.STEPS: self.steps_panel,
            Dock.VIEWER: self.tensor_viewer})
        view_menu.addSeparator()
        self.panel_actions = install_panel_keys(
            self, view_menu.addMenu("&Go to Panel"), self.docks, self._go_to_tree,
            self._filter_tree)
        self.theme = ThemeSwitcher(self.settings, self)
        self.theme.build_menu(view_menu)
        self.theme.restore()
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.sharing = Sharing(self, self.debug_actions.file_menu, self.debug_actions.quit)
        self.recent = RecentFiles(self.settings, self.debug_actions.recent_menu,
                                  self.open_chosen_file)
        self._notice_shown = False
        self.layout_.restore(self.settings, saved=not default_layout)
        self.run_views = RunViews(self.model, self.tree, self.nonfinite_panel,
                                  self.gradient_panel, self.docks)
        from .training_controls import TrainingControls

        self.training = TrainingControls(self)
        self._connect()
        self._update_actions()

    def _build_central(self) -> None:
        """The welcome page until a model is opened, then the module tree."""
        a = self.debug_actions
        self.welcome = WelcomePage((a.open,) + a.run_controls + (a.toggle_breakpoint,),
                                   self.examples, self)
        self.welcome.sig_open_requested.connect(a.open.trigger)
        self.welcome.sig_script_requested.connect(a.run_script.trigger)
        self.welcome.sig_example_chosen.connect(self.open_example)
        self.central = QStackedWidget(self)
        self.central.addWidget(self.welcome)
        self.central.addWidget(self.tree)
        self.setCentralWidget(self.central)

    def _go_to_tree(self) -> None:
        self.central.setCurrentWidget(self.tree)
        self.tree.view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _filter_tree(self) -> None:
        self.central.setCurrentWidget(self.tree)
        self.tree.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.tree.filter_edit.selectAll()

    # ---- wiring -----------------------------------------------------------------------------

    def _connect(self) -> None:
        a, c = self.debug_actions, self.controller
        a.open.triggered.connect(self._on_open_triggered)
        a.run_script.triggered.connect(self._on_run_script_triggered)
        a.quit.triggered.connect(self.close)
        a.continue_.triggered.connect(self._on_continue_triggered)
        a.step.triggered.connect(lambda: self._step(Command.STEP))
        a.step_into.triggered.connect(lambda: self._step(Command.STEP_INTO))
        a.step_out.triggered.connect(lambda: self._step(Command.STEP_OUT))
        a.pause.triggered.connect(lambda: c.command(Command.PAUSE))
        a.stop.triggered.connect(lambda: c.stop())
        a.restart.triggered.connect(lambda: self.restart())
        a.toggle_breakpoint.triggered.connect(self._on_toggle_breakpoint_triggered)
        a.run_to.triggered.connect(self._on_run_to_triggered)
        self.tree.add_context_actions([a.run_to, a.toggle_breakpoint])
        a.break_nonfinite.toggled.connect(self._on_break_options_toggled)
        a.break_exception.toggled.connect(self._on_break_options_toggled)
        c.sig_session_started.connect(self._on_controller_session_started)
        c.sig_record_changed.connect(self._on_controller_record_changed)
        c.sig_breakpoints_changed.connect(self.model.refresh_paths)
        self.tree.sig_module_selected.connect(lambda path: self.select_call(path, None))
        self.tensor_panel.sig_call_selected.connect(self.select_call)
        self.tensor_panel.sig_tensor_activated.connect(self._on_tensor_panel_tensor_activated)
        self.nonfinite_panel.sig_call_selected.connect(self._on_call_chosen)
        self.diagnostics_panel.sig_diagnostic_selected.connect(
            self._on_diagnostics_diagnostic_selected)
        self.device_combo.currentIndexChanged.connect(self._on_device_combo_changed)
        # A panel behind another tab is filled when its tab is chosen, not on every step.
        for which, (_panel, show) in self._selection_views().items():
            self.docks[which].visibilityChanged.connect(lambda visible, f=show: visible and f())

    # ---- opening and running ----------------------------------------------------------------

    def open_file(self, path: str, run: bool = False, remember: bool = True) -> None:
        """Load ``path`` in a new session (paused before the first module unless ``run``), or
        show it read-only when its content is a snapshot. ``remember=False`` leaves the recent
        files alone (a --screenshot run)."""
        path = os.path.abspath(path)
        if Sharing.is_snapshot(path):
            if self.sharing.open_snapshot(path):
                self.recent.add(path)
            return
        if self.controller.source != path:
            self.controller.set_breakpoints(())
        if remember:
            self.recent.add(path)
        self.controller.start(path, run=run)

    def open_chosen_file(self, path: str) -> None:
        """A file the user chose in the window (Open, a drop, the recent-files menu): say once
        that opening it runs its code, then open it."""
        if Sharing.is_snapshot(path) or self.confirm_runs_code(path):  # a snapshot runs nothing
            self.open_file(path)

    def confirm_runs_code(self, path: str) -> bool:
        """The safety notice: loading a model file executes it with the user's rights. Shown
        once per window unless "Don't show this again" was ticked; False when cancelled."""
        if self._notice_shown or self.settings.value(SAFETY_NOTICE_KEY, False, type=bool):
            return True
        box = safety_notice(self, os.path.basename(path))
        box.exec()
        if box.clickedButton() is not box.open_button:
            return False
        self._notice_shown = True
        if box.checkBox().isChecked():
            self.settings.setValue(SAFETY_NOTICE_KEY, True)
        return True

    def open_script(self, path: str, args: list[str], run: bool = False,
                    steps: Optional[int] = None, remember: bool = True) -> None:
        """Run ``path`` as a training script with ``args`` (paused before its first step
        unless ``run``); ``steps`` stops it after that many steps. ``remember=False`` leaves
        the recent files alone (a --screenshot run)."""
        path = os.path.abspath(path)
        if self.controller.source != path:
            self.controller.set_breakpoints(())
        if remember:
            self.recent.add(path)
        self.controller.start(path, run=run, script_args=list(args), steps=steps)

    def open_spec(self, spec: ModelSpec, run: bool = False) -> None:
        """Debug a live model (``torchlens_gui.debug``)."""
        self.controller.start(spec, run=run)

    def restart(self, run: bool = False) -> None:
        """Re-read the file and start again on the same device."""
        self.controller.restart(run=run)

    def _step(self, command: Command) -> None:
        if self.controller.paused:
            self.controller.command(command)
        elif self.controller.state.ended:
            self.restart()

    def _on_continue_triggered(self) -> None:
        if self.controller.paused:
            self.controller.command(Command.CONTINUE)
        elif self.controller.state.ended:
            self.restart(run=True)

    def _on_open_triggered(self) -> None:
        start = os.path.dirname(self.recent.files()[0]) if self.recent.files() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open model file or snapshot", start,
                                              OPEN_FILTER)
        if path:
            self.open_chosen_file(path)

    def _on_run_script_triggered(self) -> None:
        start = os.path.dirname(self.recent.files()[0]) if self.recent.files() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Run a training script", start,
                                              SCRIPT_FILTER)
        if not path or not self.confirm_runs_code(path):  # a script runs with the user's rights
            return
        text, ok = QInputDialog.getText(self, "Run a training script",
                                        f"Arguments for {os.path.basename(path)} (as on the "
                                        "command line):")
        if ok:
            self.run_script(path, shlex.split(text))

    def run_script(self, path: str, args: Sequence[str] = ()) -> None:
        """Debug a training script: run it as __main__ with ``args``, paused before its first
        step (script mode). A file that is a model file too opens as one."""
        if is_model_file(path):
            self.open_file(path)
        else:
            self.open_script(path, list(args))

    def open_example(self, example: Example) -> None:
        """Open a bundled example: a model file in the debugger, a training script in
        script mode (with its default arguments)."""
        if example.script:
            self.run_script(example.path)
        else:
            self.open_file(example.path)

    def _on_device_combo_changed(self, _index: int) -> None:
        self.controller.device = self.device_combo.currentData()
        self.settings.setValue("device", self.controller.device)
        if self.controller.source is not None:
            self.controller.start(self.controller.source)

    def _on_toggle_breakpoint_triggered(self) -> None:
        path = self.tree.selected_path()
        if path is None:
            return
        self.controller.toggle_breakpoint(path)

    def _on_run_to_triggered(self) -> None:
        path = self.tree.selected_path()
        if path is not None and self.controller.paused:
            self.controller.command(Command.RUN_TO, target=path)

    def _on_break_options_toggled(self, _checked: bool) -> None:
        self.controller.set_break_options(self.debug_actions.break_nonfinite.isChecked(),
                                          self.debug_actions.break_exception.isChecked())

    # ---- session updates --------------------------------------------------------------------

    def _on_controller_session_started(self, record: RunRecord) -> None:
        self.selection.clear()
        self.central.setCurrentWidget(self.tree)
        self.run_views.set_record(record)
        self.diagnostics_panel.clear()
        self.steps_panel.set_record(record)
        if self.controller.trains:
            self.docks[Dock.STEPS].raise_()
        source = self.controller.source
        file = source if isinstance(source, str) else getattr(source, "file", None)
        snapshot = record.snapshot
        self.source_panel.recorded = dict(snapshot.sources) if snapshot is not None else {}
        if snapshot is not None:
            file = record.file
        self.source_panel.load(file or getattr(source, "shown_file", None))
        name = os.path.basename(file) if file else "live model"
        if snapshot is not None:
            self.setWindowTitle(f"{snapshot_title(record)} — torchlens-gui")
            self.log_panel.note(f"snapshot opened: {snapshot.path} ({name} on {record.device}, "
                                f"recorded on {snapshot.recorded_on} at {snapshot.saved_at})")
        else:
            self.setWindowTitle(f"{name} — torchlens-gui")
            self.log_panel.note(f"session started: {name} on {self.controller.device}")
        self.tree.set_placeholder(f"<h3>Loading {name}…</h3>")
        self.status.session_started()
        self._show_selected()
        self._update_actions()

    def _on_controller_record_changed(self, changes: Changes) -> None:
        record = self.controller.record
        self.run_views.apply(changes)
        if changes.diagnostics:
            self.diagnostics_panel.add(changes.diagnostics)
        if changes.log:
            self.log_panel.append_output(changes.log)
        if (changes.steps or changes.paused or changes.ended) and is_shown(self.steps_panel):
            self.steps_panel.refresh()
        location = record.paused_at
        if changes.paused is not None and location is not None:
            self.model.set_current(location.path)
            self.tree.select_path(location.path)
            self.selection.set(location.path, location.call_index)
            self._show_selected(scroll_source=True)
            self._raise_dock_for(location)
        elif changes.ended is not None:
            self._on_session_ended(changes.ended)
        elif self.selection and (changes.params or changes.diagnostics
                                 or self.selection.path in changes.paths):
            self._show_selected()
        self.status.show_record(record)
        self._update_actions()

    def _on_placeholder_link_activated(self, link: str) -> None:
        if link == "run-script" and isinstance(self.controller.source, str):
            self.open_script(self.controller.source, [])

    def _on_session_ended(self, ended: ev.SessionEnded) -> None:
        self.model.set_current(None)
        if ended.status == ev.RunStatus.FAILED and not self.controller.record.nodes:
            first = ended.diagnostics[0].message.splitlines()[0] if ended.diagnostics else ""
            bad = style.html_color("bad")
            trains = first.startswith(TRAINS_AT_IMPORT)  # a training script: offer script mode
            self.tree.set_placeholder(
                f"<h3 style='color:{bad}'>Could not load the model</h3>"
                f"{style.html_text(first)}<br><br>"
                + ("<a href='run-script'>Run it as a training script</a> (File › Run a "
                   "Training Script…)<br><br>" if trains else "") +
                "The <b>Diagnostics</b> panel below has the line and a fix; the <b>Source</b> "
                "panel marks the line.<br>Edit the file, then press <b>Ctrl+Shift+F5</b> to "
                "restart.")
        elif ended.status == ev.RunStatus.STOPPED and not self.controller.record.nodes:
            self.tree.set_placeholder("<h3>Stopped before the model was built</h3>")
        self.log_panel.note(f"session ended: {ended.status} in {ended.elapsed_s:.2f} s")
        # The first error, else the first warning: its module and line are what to look at.
        problem = first_problem(ended.diagnostics)
        if problem is not None:
            nodes = self.controller.record.nodes
            if (problem.module is None or problem.module not in nodes) and "" in nodes:
                # A model-level problem (the loss, the build) names no module: the model.
                self.tree.select_path("")
                self.select_call("", None)
            # Selecting it puts the tree on its module and the source on its line.
            self.diagnostics_panel.select(self.diagnostics_panel.diagnostics.index(problem))
        elif not self.selection:
            self.tree.select_path("")
            self.select_call("", None)
        else:
            self._show_selected()

    def _raise_dock_for(self, location: ev.PauseLocation) -> None:
        """Bring forward the panel that explains why the session stopped here."""
        if location.reason == ev.PauseReason.NON_FINITE:
            self.docks[Dock.NONFINITE].raise_()
        elif location.reason == ev.PauseReason.EXCEPTION:
            self.docks[Dock.DIAGNOSTICS].raise_()
        elif location.phase == ev.Phase.BACKWARD:
            self.docks[Dock.GRADIENTS].raise_()

    def _update_actions(self) -> None:
        state = self.controller.state
        enabled = ENABLED[state]
        for name in STATEFUL:
            getattr(self.debug_actions, name).setEnabled(name in enabled)
        # After the end, Restart is the next step: it stands out in the toolbar and menu.
        if hasattr(self, "training"):
            self.training.update()
        restart = self.debug_actions.restart
        font = restart.font()
        if font.bold() != state.ended:
            font.setBold(state.ended)
            restart.setFont(font)
        self.sharing.update_actions()

    # ---- selection --------------------------------------------------------------------------

    def select_call(self, path: str, call_index: Optional[int]) -> None:
        """Show what ``path``'s call ``call_index`` recorded (None: its latest call), without
        moving the session."""
        self.selection.set(path, call_index)
        self._show_selected(scroll_source=True)

    def _on_call_chosen(self, path: str, call_index: int) -> None:
        self.tree.select_path(path)
        self.select_call(path, call_index)

    def selected_call(self) -> Optional[CallRecord]:
        return self.selection.call(self.controller.record)

    def _selected_path(self) -> Optional[str]:
        return self.selection.path

    def _selection_views(self) -> dict:
        """Dock -> (panel, how to fill it) for the panels that follow the selection."""
        return {Dock.TENSORS: (self.tensor_panel, self._show_tensors),
                Dock.ACTIVATIONS: (self.activation_panel, self._show_activations),
                Dock.GRADIENTS: (self.gradient_panel, self._show_gradients),
                Dock.VIEWER: (self.tensor_viewer, self._show_values)}

    def _show_tensors(self) -> None:
        self.tensor_panel.show_call(self.controller.record, self._selected_path(),
                                    self.selected_call())

    def _show_activations(self) -> None:
        self.activation_panel.show_call(self._selected_path(), self.selected_call())

    def _show_values(self) -> None:
        self.tensor_viewer.show_call(self.controller.record, self.selected_call())

    def _on_tensor_panel_tensor_activated(self, role: str, name: str) -> None:
        call = self.selected_call()
        if call is None:
            return
        self.docks[Dock.VIEWER].show()
        self.docks[Dock.VIEWER].raise_()
        self._show_values()
        self.tensor_viewer.show_tensor((call.path, call.call_index, role, name))

    def _show_gradients(self) -> None:
        self.gradient_panel.show_module(self.controller.record, self._selected_path())

    def _show_selected(self, scroll_source: bool = False) -> None:
        for panel, show in self._selection_views().values():
            if is_shown(panel):
                show()
        creation_line, problem_line, target = self.selection.source_lines(
            self.controller.record, self.source_panel.file)
        self.source_panel.show_lines(creation_line, problem_line,
                                     scroll_to=target if scroll_source else None)

    def _on_diagnostics_diagnostic_selected(self, diagnostic: ev.Diagnostic) -> None:
        if diagnostic.module is not None and diagnostic.module in self.controller.record.nodes:
            self.tree.select_path(diagnostic.module)
            self.selection.set(diagnostic.module, diagnostic.call_index)
            self._show_selected()
        if diagnostic.line and diagnostic.file and diagnostic.file != self.source_panel.file \
                and (os.path.isfile(diagnostic.file)
                     or diagnostic.file in self.source_panel.recorded):
            self.source_panel.load(diagnostic.file)  # a live model's problem in another file
        if diagnostic.line and diagnostic.file == self.source_panel.file:
            self.source_panel.show_lines(self.source_panel.creation_line, diagnostic.line,
                                         scroll_to=diagnostic.line)
            self.docks[Dock.SOURCE].raise_()

    # ---- Qt overrides -----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(_openable(url.toLocalFile()) for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if _openable(url.toLocalFile()):
                self.open_chosen_file(url.toLocalFile())
                event.acceptProposedAction()
                return

    def closeEvent(self, event: QCloseEvent) -> None:
        self.layout_.save(self.settings)
        self.settings.sync()  # the app may leave with os._exit (a run stuck in a C call)
        self.controller.shutdown()
        super().closeEvent(event)


def _openable(path: str) -> bool:
    """A model file (by name) or a snapshot (by content, whatever its name)."""
    return bool(path) and (path.endswith(".py") or Sharing.is_snapshot(path))

