"""Immutable event objects: the only things that cross from the session thread to listeners.

Every event is a frozen dataclass holding plain Python values (str, int, float, tuples).
No modules and no live tensors ever appear here, so a listener on another thread (the GUI) can
keep them as long as it likes without pinning GPU memory or racing the session. The one tensor
an event carries (TensorKept) is a private CPU copy nobody else writes to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional, Sequence


def shape_text(shape: Optional[Sequence[int]]) -> str:
    """[4, 20] for a shape, "?" when unknown."""
    if shape is None:
        return "?"
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


class Word(str, Enum):
    """A word of one of the run's vocabularies. Members are strings: they compare, hash and
    serialise (``json.dumps``) as their value ("forward" == Phase.FORWARD), so the ``check --json``
    output and the public strings stay the same, and they print as their value."""

    def __str__(self) -> str:  # "forward", not "Phase.FORWARD", in messages
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Phase(Word):
    """A session's phases in the order it goes through them (the last three end it). A
    Diagnostic names one of the first five."""

    LOAD = "load"
    BUILD = "build"
    FORWARD = "forward"
    LOSS = "loss"
    BACKWARD = "backward"
    OPTIMIZER = "optimizer"  # a training step's update (training runs only)
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


class RunStatus(Word):
    """How a session ended (``SessionEnded.status``, ``RunRecord.status``, the report's
    ``status`` and the exit code follow it)."""

    OK = "ok"  # ran to the end, nothing found
    PROBLEMS = "problems"  # ran (or got far enough) and found errors or warnings
    FAILED = "failed"  # could not load, build or run
    STOPPED = "stopped"  # stopped by the user (or abandoned)

    @property
    def phase(self) -> Phase:
        """The phase the session ends in."""
        return Phase.DONE if self in (RunStatus.OK, RunStatus.PROBLEMS) else Phase(self.value)


class CallStatus(Word):
    """Where one module call stands in the record."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PauseKind(Word):
    """The module event a paused session is about to pass."""

    ENTER = "enter"  # a module's forward starts
    EXIT = "exit"  # a module's forward returned
    GRAD = "grad"  # backward reached a module's output
    ERROR = "error"  # a module raised
    START = "start"  # a training step starts
    LOSS = "loss"  # backward is about to start from a loss (a training step's)


class PauseReason(Word):
    """Why the gate paused there."""

    STEP = "step"  # a step command (over, into, out) or a pause request
    BREAKPOINT = "breakpoint"
    NON_FINITE = "non-finite"  # a NaN/Inf was born here (breaking on problems)
    EXCEPTION = "exception"  # an exception was raised here (breaking on problems)
    RUN_TO = "run-to"
    STEP_START = "step-start"  # the start of a training step (break at step N)


RUN_PHASES = (Phase.LOAD, Phase.BUILD, Phase.FORWARD, Phase.LOSS, Phase.BACKWARD,
              Phase.OPTIMIZER)


@dataclass(frozen=True)
class SourceLocation:
    """A line in a file (the user's model file where we can find one)."""

    file: str
    line: int

    def short(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line}"


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class TensorSummary:
    """Statistics of one tensor, or a description of a non-tensor value.

    ``name`` is where the value sits inside a nested structure ("[0]", "['logits']", ".loss").
    For non-tensors ``kind`` is "value" and only ``name`` and ``text`` are set.
    Statistics are None when they were not computed (stats off, meta tensors) or do not exist
    (empty tensors). min/max/mean/std are over finite values only.
    """

    name: str = ""
    kind: str = "tensor"
    shape: Optional[tuple[int, ...]] = None
    dtype: Optional[str] = None
    device: Optional[str] = None
    numel: int = 0
    min: Optional[float] = None
    max: Optional[float] = None
    mean: Optional[float] = None
    std: Optional[float] = None
    norm: Optional[float] = None  # L2 norm of the finite values
    nan: int = 0
    inf: int = 0
    zero_fraction: Optional[float] = None
    hist: Optional[Histogram] = None
    requires_grad: bool = False
    text: str = ""

    @property
    def is_tensor(self) -> bool:
        return self.kind == "tensor"

    @property
    def finite(self) -> bool:
        return self.nan == 0 and self.inf == 0

    def shape_text(self) -> str:
        return self.text if self.shape is None else shape_text(self.shape)


@dataclass(frozen=True)
class ParamInfo:
    """One parameter (or buffer-free parameter) of a module, its own name only ("weight")."""

    name: str
    shape: Optional[tuple[int, ...]]  # None while a lazy parameter is uninitialised
    dtype: str
    requires_grad: bool
    numel: int
    stats: Optional[TensorSummary] = None
    grad: Optional[TensorSummary] = None


# The type name of script mode's root node: the script, not a module (its children are the
# modules the script called at top level).
SCRIPT_ROOT = "script"


@dataclass(frozen=True)
class ModuleNode:
    """A module in the tree. ``path`` is dotted, the root is ""."""

    path: str
    type_name: str
    parent: Optional[str]
    depth: int
    param_count: int
    registered: bool = True
    created_at: Optional[SourceLocation] = None
    lazy: bool = False
    params: tuple[ParamInfo, ...] = ()


@dataclass(frozen=True)
class CallKey:
    path: str
    call_index: int


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class SessionStarted(Event):
    file: Optional[str]
    device: str
    dry_run: bool = False


@dataclass(frozen=True)
class PhaseChanged(Event):
    phase: Phase


@dataclass(frozen=True)
class TreeBuilt(Event):
    """The registered module tree, right after build (params as defined, lazy ones unshaped)."""

    nodes: tuple[ModuleNode, ...]


@dataclass(frozen=True)
class ModuleAdded(Event):
    """A module that ran but was not in the tree (unregistered), discovered during forward."""

    node: ModuleNode


@dataclass(frozen=True)
class ModuleEntered(Event):
    path: str
    call_index: int
    depth: int
    inputs: tuple[TensorSummary, ...]


@dataclass(frozen=True)
class ModuleExited(Event):
    path: str
    call_index: int
    depth: int
    inputs: tuple[TensorSummary, ...]
    outputs: tuple[TensorSummary, ...]
    elapsed_s: float


@dataclass(frozen=True)
class ModuleFailed(Event):
    """A module call that raised; the exception is described in a Diagnostic."""

    path: str
    call_index: int
    depth: int
    message: str


@dataclass(frozen=True)
class HistogramsKept(Event):
    """Histograms made after the fact for tensors summarised without one (a free run that hit a
    problem or ended): each summary as first reported, with its histogram. Calls whose inputs
    or outputs carry an equal summary get the histogram."""

    histograms: tuple[tuple[TensorSummary, Histogram], ...]


@dataclass(frozen=True)
class GradientArrived(Event):
    """Backward reached the output of a module call: the gradient with respect to that output."""

    path: str
    call_index: int
    depth: int
    output_index: int
    grad: TensorSummary


@dataclass(frozen=True)
class TensorKept(Event):
    """A CPU copy of one input, output or gradient of a call, kept for the tensor viewer and
    snapshots (at pauses, at problems and for pinned modules, within a byte budget).

    ``role`` is "input", "output" or "grad"; ``name`` is the matching summary's name, so the
    copy sits beside its TensorSummary. ``tensor`` is a detached, contiguous CPU tensor that
    the session never touches again.
    """

    path: str
    call_index: int
    role: str
    name: str
    tensor: object  # torch.Tensor (typed loosely: this module stays free of torch)


@dataclass(frozen=True)
class ParamsUpdated(Event):
    """Parameter shapes, values and (after backward) gradients of every module, one event."""

    params: tuple[tuple[str, tuple[ParamInfo, ...]], ...]  # (module path, its own params)


@dataclass(frozen=True)
class LossComputed(Event):
    value: Optional[float]
    surrogate: bool
    summary: Optional[TensorSummary] = None


@dataclass(frozen=True)
class Diagnostic:
    """A problem found, where it was born, and what to change. ``code`` values are stable."""

    code: str
    severity: str  # "error" | "warning" | "info"
    phase: Phase  # one of RUN_PHASES
    message: str
    module: Optional[str] = None
    file: Optional[str] = None
    line: Optional[int] = None
    fix: Optional[str] = None
    call_index: Optional[int] = None
    details: tuple[tuple[str, str], ...] = ()  # extra facts (expected/actual...) for panels
    step: Optional[int] = None  # the training step it was found at (None outside training)


@dataclass(frozen=True)
class DiagnosticRaised(Event):
    diagnostic: Diagnostic


@dataclass(frozen=True)
class PauseLocation:
    """Where a session is paused: the module event it is about to pass."""

    phase: Phase  # forward, loss or backward
    kind: PauseKind
    path: str
    call_index: int
    depth: int
    reason: PauseReason = PauseReason.STEP


@dataclass(frozen=True)
class Paused(Event):
    location: PauseLocation


@dataclass(frozen=True)
class Resumed(Event):
    pass


@dataclass(frozen=True)
class LogWritten(Event):
    stream: str  # "stdout" | "stderr" | "warning"
    text: str


@dataclass(frozen=True)
class StepFigures:
    """What one training step measured (every step keeps these; module figures follow
    ``modules`` of the StepEnded event, NaN where a module had no gradient or update).

    ``lr`` holds one learning rate per param group; ``nonfinite`` names where a NaN/Inf was
    seen in this step ("", "forward", "loss", "backward" or "optimizer"). ``ended_by`` is what
    closed the step: "optimizer", "backward", "module" or "end"."""

    step: int
    loss: Optional[float] = None
    grad_norm: Optional[float] = None
    lr: tuple[float, ...] = ()
    nonfinite: str = ""
    ended_by: str = "optimizer"
    module_grad_norms: tuple[float, ...] = ()
    module_update_ratios: tuple[float, ...] = ()
    batch_index: Optional[int] = None
    input_mean: Optional[float] = None
    input_std: Optional[float] = None
    elapsed_s: float = 0.0
    full: bool = False  # whether every module call of the step was summarised


@dataclass(frozen=True)
class StepStarted(Event):
    step: int


@dataclass(frozen=True)
class StepEnded(Event):
    """A training step is over. ``modules`` names the parameterised modules the per-module
    figures refer to (the same tuple object from step to step while it does not change)."""

    figures: StepFigures
    modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionEnded(Event):
    status: RunStatus
    elapsed_s: float = 0.0
    diagnostics: tuple[Diagnostic, ...] = field(default=())
