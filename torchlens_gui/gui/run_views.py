"""Keeps the views over the whole run (module tree, NaN/Inf and gradient charts) in step with
the record, redrawing each as often as it is worth: at once when the session pauses or ends,
throttled while it runs freely, and charts only while on screen (a chart behind another tab is
redrawn when its tab is chosen)."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QDockWidget

from ..core.recording.record import RunRecord
from .module_model import ModuleTreeModel
from .module_tree import ModuleTree
from .panels.gradient_panel import GradientPanel
from .panels.nonfinite_panel import NonFinitePanel
from .session_controller import Changes
from .window_layout import Dock, is_shown

TREE_REFRESH_S = 0.1
CHART_REFRESH_S = 0.4
# Expanding thousands of blocks on load costs more than it shows.
EXPAND_LIMIT = 2000


class RunViews:
    """The tree model and the run-wide charts, refreshed from drains of the controller."""

    def __init__(self, model: ModuleTreeModel, tree: ModuleTree, nonfinite: NonFinitePanel,
                 gradients: GradientPanel, docks: dict[Dock, QDockWidget]) -> None:
        self.model, self.tree = model, tree
        self.nonfinite, self.gradients = nonfinite, gradients
        self.record = RunRecord()
        self._pending_paths: set[str] = set()
        self._tree_due = self._charts_due = 0.0
        for which, panel in ((Dock.NONFINITE, nonfinite), (Dock.GRADIENTS, gradients)):
            # Charts skipped while hidden are redrawn when their tab is shown.
            docks[which].visibilityChanged.connect(
                lambda visible, p=panel: visible and self._refresh_chart(p))

    def set_record(self, record: RunRecord) -> None:
        self.record = record
        self._pending_paths = set()
        self.model.set_record(record)

    def apply(self, changes: Changes) -> None:
        """Bring the tree and the charts up to date with one drain's changes."""
        if changes.tree_reset:
            self.model.rebuild()
            self._pending_paths = set()
            self.tree.expand_to_depth(1 if len(self.record.nodes) < EXPAND_LIMIT else 0)
        if changes.added:
            self.model.add_modules(changes.added)
        stopped = changes.paused is not None or changes.ended is not None
        now = time.monotonic()
        self._refresh_tree(changes, stopped, now)
        if stopped or now >= self._charts_due:
            self._charts_due = now + CHART_REFRESH_S
            if is_shown(self.nonfinite):
                self.nonfinite.refresh(self.record)
            if (self.record.backward_order or changes.params) and is_shown(self.gradients):
                self.gradients.refresh_norms(self.record)

    def _refresh_tree(self, changes: Changes, stopped: bool, now: float) -> None:
        # Each refresh makes the view call back into Python for every visible cell.
        self._pending_paths |= changes.paths
        if changes.params:
            self._pending_paths |= set(self.model.paths())
        if self._pending_paths and (stopped or now >= self._tree_due):
            self._tree_due = now + TREE_REFRESH_S
            self.model.refresh_paths(self._pending_paths)
            self._pending_paths = set()

    def _refresh_chart(self, panel) -> None:
        if panel is self.nonfinite:
            panel.refresh(self.record)
        elif self.record.backward_order or any(n.params for n in self.record.nodes.values()):
            panel.refresh_norms(self.record)
