"""Diagnostics of training steps: a diverging loss, non-finite values born in the optimizer's
update or in a light step's gradients, and batches that hold NaN/Inf or change shape.

The step tracker calls these with itself (``tracker``: ``step``, ``report``, ``ctx``,
``batch_index``, ``lr``); each returns or reports immutable Diagnostics with their step.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Optional

from . import codes
from ..recording.events import SCRIPT_ROOT, Diagnostic, Phase, StepFigures
from ..usercode.context import SessionContext
from .sources import short_location

DIVERGE_FACTOR = 100.0  # the loss rose to this many times its running minimum
FAR_FROM_NORMALISED = 10.0  # |mean| or std beyond this (or std below 1/this) is "not normalised"
MAX_SHAPE_NOTES = 3


class TrainingChecks:
    """State over the steps of one run (running loss minimum, the first batch's shape)."""

    def __init__(self) -> None:
        self.min_loss: Optional[float] = None
        self.diverged = False
        self.first_shape: Optional[tuple] = None
        self.shapes_noted: set = set()
        self.data_reported = 0
        self.term_low: dict[tuple, float] = {}  # (op, file, line) -> lowest positive |value|

    # ---- loss -------------------------------------------------------------------------------

    def after_step(self, figures: StepFigures, modules: tuple[str, ...], ctx: SessionContext,
                   terms: tuple = ()) -> Iterable[Diagnostic]:
        """``diverging-loss`` once: the loss rose to DIVERGE_FACTOR times its running minimum
        (of positive values), or turned non-finite after being finite. ``terms`` (op, file,
        line, value) are the loss's terms: the one that grew the most is named."""
        grown = self._grown_term(terms)
        loss = figures.loss
        if loss is None or self.diverged or figures.nonfinite == "data":
            return ()
        low = self.min_loss
        if math.isfinite(loss):
            if low is None or loss < DIVERGE_FACTOR * low:
                if loss > 0:
                    self.min_loss = loss if low is None else min(low, loss)
                return ()
            how = f"rose to {loss:.4g}, {_times(loss / low)} its lowest value so far ({low:.4g})"
        elif low is not None:
            how = f"turned {loss} after being finite (lowest so far {low:.4g})"
        else:
            return ()
        self.diverged = True
        root = ctx.record.nodes.get("")
        scripted = root is not None and root.type_name == SCRIPT_ROOT  # roots are named variables
        return (diverging_loss(figures, modules, how, ctx.user_file, grown, scripted),)

    def _grown_term(self, terms: tuple) -> Optional[tuple]:
        """Of a loss of several terms, (op, file, line, value, growth) of the first non-finite
        term, else of the one that grew most over its lowest value; running minimums kept."""
        grown = None
        for op, file, line, value in terms:
            key = (op, file, line)
            low = self.term_low.get(key)
            if not math.isfinite(value):
                growth = math.inf
            else:
                growth = abs(value) / low if low else 0.0
                if abs(value) > 0:
                    self.term_low[key] = abs(value) if low is None else min(low, abs(value))
            if grown is None or growth > grown[4]:
                grown = (op, file, line, value, growth)
        distinct = {(op, file, line) for op, file, line, _ in terms}
        return grown if len(distinct) > 1 and grown[4] > 1 else None

    # ---- reported from the tracker ----------------------------------------------------------

    def nonfinite_gradient(self, tracker: Any, module: str) -> None:
        _report_nonfinite(
            tracker, "backward", module,
            f"the gradient of {module}'s parameters holds NaN/Inf (loss {_fmt(tracker.loss)})",
            "Pause at this step (break at step N) to see where backward made it; lower the "
            "learning rate or clip gradients (torch.nn.utils.clip_grad_norm_).")

    def nonfinite_update(self, tracker: Any, module: str, step: Optional[int] = None) -> None:
        """The update of ``step`` (the open one by default) made finite weights NaN/Inf."""
        lr = ", ".join(f"{v:.3g}" for v in (tracker.lr or tracker.last_lr)) or "?"
        _report_nonfinite(
            tracker, "optimizer", module,
            f"the gradients were finite, but the optimizer's update made {module}'s weights "
            f"NaN/Inf (learning rate {lr})",
            "Lower the learning rate, clip gradients (torch.nn.utils.clip_grad_norm_), and "
            "check the optimizer's settings (eps, weight decay).", step)

    def on_batch(self, tracker: Any, path: str, shape: Optional[tuple], finite: bool) -> None:
        """The first batch of a step, as it reached the first module called."""
        where = tracker.batch_index if tracker.batch_index is not None else tracker.step - 1
        if not finite:
            tracker.nonfinite = tracker.nonfinite or "data"
            self.diverged = True  # what follows a NaN batch is the data's doing, not the rate
        if not finite and self.data_reported < MAX_SHAPE_NOTES:
            self.data_reported += 1
            tracker.report(Diagnostic(
                code=codes.DATA_NON_FINITE, severity="error", phase=Phase.FORWARD,
                message=f"Step {tracker.step}: batch {where} already holds NaN/Inf when it "
                        f"reaches {path or '(root)'}: it comes from the data, not the model",
                module=path, step=tracker.step,
                details=(("batch index", str(where)),),
                fix="Clean the data (look for missing values, divisions by zero in "
                    "preprocessing), or filter the batch with torch.isfinite(x).all()."))
        if shape is None:
            return
        if self.first_shape is None:
            self.first_shape = shape
        elif shape != self.first_shape and shape not in self.shapes_noted \
                and len(self.shapes_noted) < MAX_SHAPE_NOTES:
            self.shapes_noted.add(shape)
            tracker.report(Diagnostic(
                code=codes.BATCH_SHAPE, severity="info", phase=Phase.FORWARD,
                message=f"Step {tracker.step}: batch {where} has shape {list(shape)}, the first "
                        f"batch had {list(self.first_shape)}",
                module=path, step=tracker.step,
                fix="Usually the last, smaller batch of an epoch (DataLoader(drop_last=True) "
                    "drops it); otherwise check the data pipeline."))


def diverging_loss(figures: StepFigures, modules: tuple[str, ...], how: str,
                   file: Optional[str], term: Optional[tuple] = None,
                   scripted: bool = False) -> Diagnostic:
    """``scripted``: module paths start with the script's variable (``reg.0``), which the
    clipping fix names instead of ``model``."""
    lr = figures.lr[0] if figures.lr else None
    facts = [f"learning rate {lr:.3g}" if lr is not None else "no optimizer seen"]
    line = None
    if term is not None:
        op, term_file, line, value, growth = term
        at = short_location(term_file, line)
        facts.insert(0, f"the term {op}" + (f" at {at}" if at else "") + (
            f" turned {value}" if not math.isfinite(value) else
            f" grew the most ({value:.4g}, {_times(growth)} its lowest)"))
        file = term_file or file
    module = None
    ratios = [(r, i) for i, r in enumerate(figures.module_update_ratios) if math.isfinite(r)]
    if ratios:
        largest, index = max(ratios)
        module = modules[index] if index < len(modules) else None
        facts.append(f"largest update-to-weight ratio {largest:.3g} in {module}")
    scale = _input_scale(figures)
    if scale:
        facts.append(scale)
    fixes = []
    if lr is not None:
        fixes.append(f"lower the learning rate (try {lr / 10:.3g})")
    name = (module or (modules[0] if modules else "")).split(".")[0] if scripted else ""
    fixes.append(f"clip gradients with torch.nn.utils.clip_grad_norm_("
                 f"{name if name.isidentifier() else 'model'}.parameters(), 1.0) "
                 "before optimizer.step()")
    if scale:
        fixes.append("normalise the inputs ((x - mean) / std)")
    return Diagnostic(
        code=codes.DIVERGING_LOSS, severity="warning", phase=Phase.LOSS,
        message=f"Step {figures.step}: the loss {how}; " + ", ".join(facts),
        module=module, file=file, line=line, step=figures.step,
        details=tuple((k, v) for k, v in (("learning rate", f"{lr:.3g}" if lr else ""),
                                          ("inputs", scale),
                                          ("term", term[0] if term else "")) if v),
        fix=_sentence("; ".join(fixes)))


def _times(ratio: float) -> str:
    """"340x", or "2e+13x" rather than fourteen digits."""
    return f"{ratio:.0f}x" if ratio < 1e6 else f"{ratio:.2g}x"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _input_scale(figures: StepFigures) -> str:
    mean, std = figures.input_mean, figures.input_std
    if mean is None or std is None:
        return ""
    if abs(mean) > FAR_FROM_NORMALISED or std > FAR_FROM_NORMALISED or \
            0 < std < 1 / FAR_FROM_NORMALISED:
        return f"inputs far from normalised (mean {mean:.3g}, std {std:.3g})"
    return ""


def report_once(tracker: Any, diagnostic: Diagnostic) -> None:
    """Report a step's non-finite finding unless one was already explained in this step."""
    if not _already_nonfinite(tracker.ctx):
        tracker.report(diagnostic)


def _report_nonfinite(tracker: Any, phase: str, module: str, what: str, fix: str,
                      step: Optional[int] = None) -> None:
    """A light step's NaN/Inf, unless a detector already explained one in this step."""
    if _already_nonfinite(tracker.ctx):
        return
    step = tracker.step if step is None else step
    tracker.report(Diagnostic(code=codes.NON_FINITE, severity="error", phase=phase,
                              message=f"Step {step}: {what}", module=module, step=step,
                              fix=fix))


def _already_nonfinite(ctx: SessionContext) -> bool:
    record = ctx.record
    start = getattr(record, "_step_diagnostics", 0)
    return any(d.code in (codes.NON_FINITE, codes.DATA_NON_FINITE) for d in record.diagnostics[start:])


def _fmt(value: Optional[float]) -> str:
    return "?" if value is None else f"{value:.4g}"
