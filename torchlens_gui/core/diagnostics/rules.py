"""The registered rules, in the order they run at each event (their findings keep that order;
the first ``explain`` that recognises an exception wins). Adding a rule: a file with a
:class:`~.rule.Rule` subclass, its codes in codes.py, and one line here.
"""

from __future__ import annotations

from .data_loading import CollateSizeMismatch, DataLoaderWorkerError
from .exceptions import ExceptionExplainer
from .gradients import GradientChecks
from .loss import LossChecks
from .loss_logic import HandWrittenCrossEntropy
from .nonfinite import NonFiniteDetector
from .producers import ProducerNotes
from .rule import Rule
from .structure import StructureChecks

RULES: tuple[type[Rule], ...] = (
    ProducerNotes,            # first: later rules read which module made a tensor
    LossChecks,               # owns the op watch of forward and loss
    NonFiniteDetector,
    GradientChecks,
    HandWrittenCrossEntropy,
    StructureChecks,
    CollateSizeMismatch,      # before the general explainer: it knows the DataLoader's
    DataLoaderWorkerError,    # and the errors its worker processes re-raise as text
    ExceptionExplainer,
)
