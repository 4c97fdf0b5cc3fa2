"""Gradient panel: gradient norm of every module along the network's depth (log scale, so
vanishing and exploding gradients stand out), and one parameter's gradient histogram."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from ...core.recording import events as ev
from ...core.recording.record import RunRecord
from .. import style
from ..module_model import short_label
from .plots import HistogramPicker, LogBarChart


def depth_norms(record: RunRecord) -> tuple[list[str], list[Optional[float]], list[tuple]]:
    """Leaf-most modules in forward order with their gradient norm: the parameters' gradient
    norm once backward is done, else the norm of the gradient arriving at the output. Returns
    paths (label them with short_label), norms and colours.

    One pass over every call of the run: a 10,000-module model redraws this chart on the GUI
    thread, so each module is looked at once."""
    paths: list[str] = []
    values: list[Optional[float]] = []
    colors: list[tuple] = []
    seen: set[str] = set()
    nodes = record.nodes
    for call in record.calls:
        path = call.path
        if path in seen:
            continue
        node = nodes.get(path)
        if node is None:
            continue
        if not node.params and not call.grads:  # nothing to show: skipped without a query
            continue
        norm, of_params = record.module_grad_norm(path, call)
        # Parameter gradients holding NaN/Inf: a mark, not the norm of their finite part.
        bad_params = bool(node.params) and record.param_grads_nonfinite(path)
        if norm is None and not call.grads and not bad_params:
            continue
        seen.add(path)
        paths.append(path)
        if of_params or bad_params:
            values.append(float("nan") if bad_params else norm)
            colors.append(style.PLOT_PARAM)
        else:  # non-finite shows as a mark on the log scale, not as its finite part's norm
            values.append(norm if call.output_grad.finite else float("nan"))
            colors.append(style.PLOT_BAR)
    return paths, values, colors


class _ShortLabels(Sequence):
    """Labels made only for the few bars the axis names, not for all 10,000."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):  # the chart asks for single positions only
        return short_label(self.paths[index])


class GradientPanel(QWidget):
    """Per-module gradient norms plus the selected parameter's gradient distribution."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.legend = QLabel(
            f"<span style='color:{style.hex_color(style.PLOT_PARAM)}'>■</span> parameter "
            f"gradient &nbsp; <span style='color:{style.hex_color(style.PLOT_BAR)}'>■</span> "
            f"gradient at output &nbsp; <span style='color:{style.hex_color(style.PLOT_BAD)}'>"
            "×</span> zero or non-finite", self)
        self.legend.hide()  # until there are bars to explain
        self.norms = LogBarChart("module (forward order)", "gradient L2 norm", self,
                                 "No gradients yet: they arrive in backward, after the forward "
                                 "and the loss.")
        self.picker = HistogramPicker(
            "Parameter (or output) of the selected module whose gradient to plot",
            "No gradient yet: gradients appear during backward", self)
        self.param_combo = self.picker.combo
        upper = QWidget(self)
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.legend)
        upper_layout.addWidget(self.norms, 1)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(upper)
        splitter.addWidget(self.picker)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(splitter)

    def refresh_norms(self, record: RunRecord) -> None:
        paths, values, colors = depth_norms(record)
        self.norms.set_values(values, _ShortLabels(paths), colors)
        self.legend.setVisible(bool(values))

    def show_module(self, record: RunRecord, path: Optional[str]) -> None:
        """List the gradients of the module's parameters (or, without parameters, of its
        output) and plot the chosen one."""
        grads: list[tuple[str, ev.TensorSummary]] = []
        node = record.nodes.get(path) if path is not None else None
        if node is not None:
            name = short_label(path)
            for param in node.params:
                if param.grad is not None:
                    grads.append((f"{name}.{param.name} gradient", param.grad))
            call = record.last_call(path)
            if call is not None:
                for index in sorted(call.grads):
                    grads.append((f"{name} output[{index}] gradient", call.grads[index]))
        self.picker.set_choices(grads)
