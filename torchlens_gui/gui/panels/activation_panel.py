"""Activation panel: histogram of one output (or input) of the selected module call."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...core.recording import events as ev
from ...core.recording.record import CallRecord
from .plots import HistogramPicker


class ActivationPanel(QWidget):
    """Pick a tensor of the call; see its distribution and its NaN/Inf counts."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.picker = HistogramPicker("Which tensor of the selected call to plot",
                                      "No tensor recorded for this module yet", self)
        self.histogram = self.picker.histogram
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.picker)

    def show_call(self, path: Optional[str], call: Optional[CallRecord]) -> None:
        """Offer the call's outputs, then its inputs."""
        choices: list[tuple[str, ev.TensorSummary]] = []
        if call is not None:
            name = path or "(root)"
            for prefix, summaries in (("output", call.outputs), ("input", call.inputs)):
                for i, s in enumerate(summaries):
                    if s.is_tensor:
                        choices.append((f"{name} {prefix} {s.name or i}", s))
        self.picker.set_choices(choices)

    @property
    def shown(self) -> Optional[ev.TensorSummary]:
        return self.picker.shown
