"""Training steps: where one ends, and the figures each one measured.

A step ends at each optimizer step (torch's global optimizer step hooks; with several
optimizers, at the step of the first one that ever stepped). A run with no optimizer ends its
steps at each backward, and one with neither at each outermost module call. The last two are
only known once the next step begins (an optimizer step may still follow a backward), so those
steps close lazily: at the next outermost module call or backward, or at the end of the run.

Per step the tracker measures the loss (the value backward started from), the global gradient
norm, the learning rate of every param group, and per parameterised module its gradient norm and
update-to-weight ratio ||w_after - w_before|| / ||w_before|| (core/engine/update_meter.py): a few kernels and
one host transfer per optimizer step. Everything leaves as immutable events.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import weakref
from typing import Any, Callable, Iterator, Optional

import torch
import torch.nn as nn

from ..recording import events as ev
from ..recording.events import PauseKind, PauseReason, Phase
from ..usercode.context import SessionContext
from ..usercode.loader import TrainsAtImport
from ..usercode.tree import own_parameters
from ..recording.structures import tensors
from ..diagnostics import training as training_checks
from ..diagnostics.loss_watch import LossWatch, born_nonfinite, read_loss
from ..diagnostics.nonfinite import loss_nonfinite
from .gate import StepGate
from .outcomes import internal_error
from .grad_scaler_watch import GradScalerWatch
from .optimizer_cycle import OptimizerCycle
from .update_meter import OTHER, Samples, UpdateMeter


# Before the first backward, a module called again within a step whose outputs take part in
# autograd (a siamese encoder, a GAN's discriminator on real then fake data) belongs to the same
# step, up to this many outermost calls: a backward is probably coming.
TENTATIVE_CALLS = 4
# Before the first optimizer step of a run that holds an optimizer, backwards stay in step 1
# (gradient accumulation), up to this many.
TENTATIVE_BACKWARDS = 64


class StepLimitReached(BaseException):
    """Raised on the session thread once ``max_steps`` steps are done: unwinds the script
    (BaseException, so its ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def refusing_training() -> Iterator[None]:
    """Raise TrainsAtImport on the first backward or optimizer step of this thread inside the
    block (a model file that trains when imported stops at once instead of training)."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    thread = threading.get_ident()
    original = torch.autograd.backward

    def refuse(what: str) -> None:
        if threading.get_ident() == thread:
            raise TrainsAtImport(what)

    def backward(*args, **kwargs):
        refuse("it calls backward()")
        return original(*args, **kwargs)

    handle = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: refuse("it calls optimizer.step()"))
    torch.autograd.backward = backward
    try:
        yield
    finally:
        torch.autograd.backward = original
        handle.remove()


class StepTracker:
    """Numbers the steps of a run, measures them and pauses at step starts when asked."""

    def __init__(self, ctx: SessionContext, emit: Callable[[ev.Event], None],
                 report: Callable[[ev.Diagnostic], None], gate: StepGate, *,
                 max_steps: Optional[int] = None, full_steps: int = 1) -> None:
        self.ctx = ctx
        self.emit = emit
        self.report = report
        self.gate = gate
        self.max_steps = max_steps
        self.full_steps = full_steps  # the first N steps summarise every module call
        self.thread = threading.get_ident()
        self.step = 0  # the open step, 0 before the first
        self.open = False
        self.kind = "module"  # what ends steps: "module" < "backward" < "optimizer"
        self._pending = ""  # a lazy close waiting for the next step's first activity
        self.cycle = OptimizerCycle(self._trains_this_run)
        self.optimizer_steps = 0  # outermost optimizer steps done (GradScaler's skips aside)
        self.backward_seen = False
        self._hook_failed = False  # one of our hooks raised (reported once)
        self._snapshot: Optional[tuple] = None  # (params, their Samples), pre-hook to post-hook
        self._optimizers_held: Optional[bool] = None  # the run holds an optimizer (step 1)
        self._scaled: Optional[tuple] = None  # (weakref to scaler.scale's result, the loss)
        self._scaler = GradScalerWatch(self._on_scaled, self._on_skipped,
                                       lambda: self.optimizer_steps)
        self._handles: list[Any] = []
        self._original_backward: Optional[Callable] = None
        # Commands from other threads (the GUI): read on the session thread at a step start.
        self.break_at_step: Optional[int] = None
        self.break_at_next_step = False
        self.pause_at_first_step = False
        self.next_batch_index: Optional[int] = None  # set by a loop that knows its batches
        # Called as a step ends, before StepEnded (the hooks send a shown step's calls).
        self.before_step_ended: Optional[Callable[[], None]] = None
        self._reset_step()
        self.checks = training_checks.TrainingChecks()
        self.meter = UpdateMeter(ctx)
        # Script mode has no loss phase: its ops between the model's outermost call and
        # backward are kept by a LossWatch (terms, and the op that made a NaN/Inf loss).
        self.watch_loss = False
        self._loss_watch: Optional[LossWatch] = None

    # ---- install / remove -------------------------------------------------------------------

    def install(self) -> None:
        from torch.optim.optimizer import (register_optimizer_step_post_hook,
                                           register_optimizer_step_pre_hook)

        self._handles.append(register_optimizer_step_pre_hook(
            lambda *args: self._safely(self._on_optimizer_pre, *args)))
        self._handles.append(register_optimizer_step_post_hook(
            lambda *args: self._safely(self._on_optimizer_post, *args)))
        self._scaler.install()
        # Tensor.backward calls torch.autograd.backward through the module attribute.
        self._original_backward = torch.autograd.backward
        original = self._original_backward
        # A weak reference: torch keeps tables keyed by its functions (dynamo's), and one that
        # saw this wrapper must not keep the tracker, its session and their record alive.
        tracker_ref = weakref.ref(self)

        def backward(tensors, *args, **kwargs):
            tracker = tracker_ref()
            if tracker is None or threading.get_ident() != tracker.thread:
                return original(tensors, *args, **kwargs)
            tracker._safely(tracker._before_backward, tensors)
            previous = tracker.ctx.phase
            tracker._set_phase(Phase.BACKWARD)
            try:
                with torch.autograd.set_multithreading_enabled(False):
                    return original(tensors, *args, **kwargs)
            finally:
                tracker._set_phase(previous)
                tracker._safely(tracker._after_backward)

        torch.autograd.backward = backward

    def _safely(self, hook: Callable, *args: Any) -> None:
        """Run one of our hooks inside the user's backward or optimizer step: a bug of ours is
        reported once (internal-error) and must not break their training."""
        try:
            hook(*args)
        except Exception as exc:
            self._hook_bug(exc)

    def _hook_bug(self, exc: Exception) -> None:
        if not self._hook_failed:
            self._hook_failed = True
            self.report(internal_error(exc, self.ctx.phase))

    def remove(self) -> None:
        if self._loss_watch is not None:
            self._loss_watch.stop()
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._scaler.remove()
        if self._original_backward is not None:
            torch.autograd.backward = self._original_backward
            self._original_backward = None

    # ---- what the session and hooks tell the tracker ----------------------------------------

    @property
    def full(self) -> bool:
        """Whether this step summarises every module call (the first steps, or someone is
        stepping or has breakpoints)."""
        return self.step <= self.full_steps or not self.gate.free_running

    def top_level_call(self, path: str, inputs: tuple) -> None:
        """An outermost module call is about to run (no other module is running). A lazy close
        waits for the step's first module to be called again (a loss module called after the
        model belongs to the model's step)."""
        if self._loss_watch is not None:
            self._loss_watch.stop()
        if self._pending and path == self.first_module:
            if self._pending == "module" and self._backward_likely() or \
                    self._pending == "backward" and self._optimizer_likely():
                self._pending = ""  # the same step: its backward / optimizer step is to come
            else:
                self._close(self._pending)
        if not self.open:
            self._start(path)
        self._top_calls += 1
        if self.first_module is None:
            self.first_module = path
        # The batch is what the first call with gradients gets (not an evaluation under
        # no_grad that follows the previous optimizer step).
        if self.first_input is None and (torch.is_grad_enabled() or self.kind == "module"):
            self._note_inputs(path, inputs)

    def _optimizer_likely(self) -> bool:
        """No optimizer has stepped yet, but the run holds one for its modules (gradient
        accumulation: several backwards, then the step): the backwards stay in step 1, up to
        TENTATIVE_BACKWARDS of them."""
        if self.optimizer_steps or self._backwards >= TENTATIVE_BACKWARDS:
            return False
        if self._optimizers_held is None:  # one walk over the objects, once
            self._optimizers_held = bool(self.cycle.held())
        return self._optimizers_held

    def _backward_likely(self) -> bool:
        """Step 1, no backward yet, and its outermost outputs take part in autograd."""
        return self.step == 1 and not self.backward_seen and self._grad_output \
            and self._top_calls < TENTATIVE_CALLS

    def top_level_exit(self, path: str = "", output: Any = None) -> None:
        if self.kind == "module":
            self._pending = "module"
            self._grad_output = any(t.requires_grad for t in tensors(output))
        # A script that has not called backward by its second step is not training: unwatched.
        if self.watch_loss and self.open and (self.kind != "module" or self.step == 1) \
                and torch.is_grad_enabled():
            if self._loss_watch is None:
                self._loss_watch = LossWatch(self.ctx.user_file)
            self._loss_watch.start(path, output)

    def finish(self) -> None:
        """The run is over: close the open step (a training run's trailing calls with no
        backward, an evaluation after the last optimizer step, are not a step of their own)."""
        if self._loss_watch is not None:
            self._loss_watch.stop()
        if self.meter.unverified and not self.nonfinite:
            self.verify_updates(pause=False)  # the run is over: nothing left to pause in
        if not self.open:
            return
        failed = any(d.step == self.step and d.severity == "error"
                     for d in self.ctx.record.diagnostics)
        if self.kind != "module" and self.loss is None and not self._pending and not failed:
            self.open = False
            return
        self._close(self._pending or "end", final=True)

    def loss_value(self, value: Optional[float]) -> None:
        self.loss = value

    def _set_phase(self, phase: Phase) -> None:
        if self.ctx.phase != phase:
            self.ctx.phase = phase
            self.emit(ev.PhaseChanged(phase))

    # ---- steps ------------------------------------------------------------------------------

    def _reset_step(self) -> None:
        self.loss: Optional[float] = None
        self.terms: tuple[tuple[str, Optional[str], Optional[int], float], ...] = ()
        self.nonfinite = ""
        self.first_input: Optional[tuple] = None
        self.first_module: Optional[str] = None  # the step's first outermost module
        self.batch_index: Optional[int] = None
        self.grad_norms: dict[str, float] = {}
        self.update_ratios: dict[str, float] = {}
        self.lr: tuple[float, ...] = ()
        self.started = time.perf_counter()
        self._scaler_in_step = False  # the loss went through GradScaler.scale
        self._top_calls = 0  # outermost module calls
        self._backwards = 0
        self._closure_step = False  # the optimizer step runs the script's closure (LBFGS)
        self._grad_output = False  # the last outermost output took part in autograd

    def _start(self, path: str = "") -> None:
        self.step += 1
        self.open = True
        self._reset_step()
        if self._loss_watch is not None:
            self._loss_watch.kept.clear()  # a step without backward leaves its ops behind
        self.batch_index = self.next_batch_index
        self.emit(ev.StepStarted(self.step))
        if self.meter.unverified and self.full:  # a recorded step starts from checked weights
            self.verify_updates()
        wanted = self.pause_at_first_step and self.step == 1
        if self.break_at_next_step and self.step > 1:
            wanted, self.break_at_next_step = True, False
        if self.break_at_step is not None and self.step == self.break_at_step:
            wanted = True
        if wanted:
            self.gate.pause(ev.PauseLocation(Phase.FORWARD, PauseKind.START, path, 0, 0,
                                             PauseReason.STEP_START))

    def _close(self, ended_by: str, final: bool = False) -> None:
        self._pending = ""
        self.cycle.step_ended()
        if not self.open:
            return
        if ended_by not in ("optimizer", "skipped") and not self.grad_norms \
                and not self._scaler_in_step:  # (a GradScaler's gradients are scaled)
            self._read_gradients(None)
        figures = self._figures(ended_by)
        for diagnostic in self.checks.after_step(figures, self._modules, self.ctx, self.terms):
            self.report(diagnostic)
        if self.before_step_ended is not None:
            self.before_step_ended()
        self.emit(ev.StepEnded(figures, self._modules))
        self.open = False
        if not final and self.max_steps is not None and self.step >= self.max_steps:
            raise StepLimitReached()

    def _figures(self, ended_by: str) -> ev.StepFigures:
        modules = self._modules = tuple(self.grad_norms) if self.grad_norms else ()
        norms = tuple(self.grad_norms[m] for m in modules)
        ratios = tuple(self.update_ratios.get(m, math.nan) for m in modules)
        finite = [n for n in norms if not math.isnan(n)]
        grad_norm = math.sqrt(sum(n * n for n in finite)) if finite else None
        mean, std = (self.first_input[1], self.first_input[2]) if self.first_input else (None,
                                                                                         None)
        if self.lr:
            self.last_lr = self.lr
        return ev.StepFigures(
            step=self.step, loss=self.loss, grad_norm=grad_norm,
            lr=self.lr or self.last_lr,  # a step cut short before its update: the last rate
            nonfinite=self.nonfinite, ended_by=ended_by, module_grad_norms=norms,
            module_update_ratios=ratios, batch_index=self.batch_index, input_mean=mean,
            input_std=std, elapsed_s=time.perf_counter() - self.started, full=self.full)

    _modules: tuple[str, ...] = ()
    last_lr: tuple[float, ...] = ()

    # ---- backward ---------------------------------------------------------------------------

    def _before_backward(self, tensors: Any) -> None:
        if self._pending == "backward" and not self._optimizer_likely():
            self._close(self._pending)  # (a forward's backward belongs to its step)
        self._backwards += 1
        if not self.open:
            self._start()
        if self.kind == "module":
            self.kind = "backward"
        self._pending = ""
        self.backward_seen = True
        trace, self.ctx.loss_trace = self.ctx.loss_trace, None
        root = tensors if isinstance(tensors, torch.Tensor) else None
        scaled, self._scaled = self._scaled, None
        if scaled is not None and root is not None and scaled[0]() is root:
            root = scaled[1]  # scaler.scale(loss).backward(): the loss, unscaled
            self._scaler_in_step = True
        terms, kept = [], []
        if trace is not None and root is not None:  # a model file's loss rule traced it
            terms = [t for t in trace.terms if t.value.data_ptr() != root.data_ptr()]
        watch = self._loss_watch
        if watch is not None:
            watch.stop()
            terms, kept = watch.take(root)
        if root is not None and root.numel() == 1 and root.device.type != "meta":
            value, self.terms = read_loss(root, terms)  # one host transfer on an accelerator
            self.loss = value
            if not math.isfinite(value):
                self.watch_loss = False  # nothing more to learn from the next steps' losses
                if not self.nonfinite:
                    self.nonfinite = "loss"
                    # Model files: the loss rule reports it. Scripts: the op the watch kept.
                    culprit = born_nonfinite(kept).culprit() if kept else None
                    if culprit is not None:
                        training_checks.report_once(self, loss_nonfinite(self.ctx, value,
                                                                         culprit))
                    self._break_on_nonfinite(Phase.LOSS, self.first_module or "",
                                             PauseKind.LOSS)

    def _after_backward(self) -> None:
        if self.kind == "backward":
            self._pending = "backward"
            # No optimizer seen (yet): read now, as the loop's next zero_grad() (or the model
            # file's session) clears them. Not a GradScaler's scaled gradients: their Inf only
            # makes it skip the step.
            if not self._scaler_in_step:
                self._read_gradients(None)

    # ---- optimizer --------------------------------------------------------------------------

    def _on_optimizer_pre(self, optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        if threading.get_ident() != self.thread:
            return
        cycle = self.cycle
        cycle.depth += 1
        if cycle.depth > 1:
            return  # an optimizer stepping inside another's step (a wrapper's): counted once
        if self._loss_watch is not None:
            self._loss_watch.stop()  # still on the stack after a backward dispatched through it
        self._optimizer_begins(optimizer)
        self._pending = ""
        self._phase_before = self.ctx.phase
        closure = kwargs.get("closure") or next(  # (args: torch's hook passes the optimizer)
            (a for a in args if callable(a) and a is not optimizer), None)
        # An optimizer given a closure (LBFGS) runs forward and backward inside its step:
        # they are recorded as the step's forward, not hidden in the optimizer phase.
        self._set_phase(Phase.FORWARD if callable(closure) else Phase.OPTIMIZER)
        self._closure_step = callable(closure)
        self._snapshot = self._read_gradients(optimizer)
        # (float() reads a tensor learning rate too)
        self.lr = self.lr + tuple(float(g.get("lr", math.nan)) for g in optimizer.param_groups)

    def _on_optimizer_post(self, optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        if threading.get_ident() != self.thread:
            return
        self.cycle.depth -= 1
        if self.cycle.depth > 0:
            return
        self.optimizer_steps += 1
        self._set_phase(getattr(self, "_phase_before", Phase.FORWARD))
        params, before = self._snapshot if self._snapshot else ([], [])
        self._snapshot = None
        if params:
            self._read_updates(params, before)
        elif self._closure_step and not self.grad_norms:
            self._read_gradients(None)  # a closure's first step made its gradients inside
        if self.cycle.finished(optimizer):
            self._close("optimizer")

    def _trains_this_run(self, optimizer: torch.optim.Optimizer) -> bool:
        """Whether ``optimizer`` updates parameters of this run's modules."""
        return any(self.meter.owner(p) != OTHER for group in optimizer.param_groups
                   for p in group["params"])

    # ---- GradScaler -------------------------------------------------------------------------

    def _on_scaled(self, result: Any, loss: Any) -> None:
        if isinstance(result, torch.Tensor) and isinstance(loss, torch.Tensor):
            self._scaled = (weakref.ref(result), loss)

    def _on_skipped(self, optimizer: torch.optim.Optimizer) -> None:
        """scaler.step(optimizer) skipped the update (Inf/NaN in the scaled gradients)."""
        if not self.open:
            self.kind = "optimizer"
            return
        self._optimizer_begins(optimizer)
        if self.cycle.finished(optimizer):
            self._close("skipped")

    def _optimizer_begins(self, optimizer: torch.optim.Optimizer) -> None:
        """An outermost optimizer step (or a GradScaler's skip of one) is under way: a new
        step when this optimizer already stepped in the open one."""
        self.kind = "optimizer"
        if self.cycle.started(optimizer) and self.open:
            self._close("optimizer")  # it stepped already in this step: a new iteration
        if not self.open:
            self._start()

    # ---- measuring --------------------------------------------------------------------------

    def _trained_params(self, optimizer: Optional[torch.optim.Optimizer]) -> list[nn.Parameter]:
        if optimizer is not None:
            return [p for group in optimizer.param_groups for p in group["params"]
                    if p.grad is not None]
        seen, out = set(), []
        for module in self.ctx.modules.values():
            for _, p in own_parameters(module):
                if p.grad is not None and id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        return out

    def _read_gradients(self, optimizer: Optional[torch.optim.Optimizer]):
        """Per-module gradient norms of the parameters about to be updated; returns
        (params, copies of a sample of their values) for the update ratios, or None. (A bug
        of ours here is reported once; the step still ends.)"""
        try:
            return self._measure_gradients(optimizer)
        except Exception as exc:
            self._hook_bug(exc)
            return None

    def _measure_gradients(self, optimizer: Optional[torch.optim.Optimizer]):
        params = self._trained_params(optimizer)
        if not params:
            return None
        norms, bad = self.meter.gradient_norms(params)
        self.grad_norms.update(norms)
        before = self.meter.sample(params) if optimizer is not None else []
        if bad is not None and not self.nonfinite:
            self.nonfinite = "backward"
            self.checks.nonfinite_gradient(self, bad)
            self._break_on_nonfinite(Phase.BACKWARD, bad)
        return params, before

    def _read_updates(self, params: list, before: Samples) -> None:
        """Update-to-weight ratios from the samples taken before the step, and whether the
        update broke finite weights (read whole in a fully recorded step, else from the
        samples; the rest is verified at the next NaN birth, full step or the run's end)."""
        try:
            ratios, bad = self.meter.update_ratios(params, before, self.step,
                                                   verify_all=self.full,
                                                   trusted=not self.nonfinite)
        except Exception as exc:
            self._hook_bug(exc)
            return
        self.update_ratios.update(ratios)
        if bad is not None and not self.nonfinite:
            self._update_broke(bad, self.step)

    def verify_updates(self, pause: bool = True) -> bool:
        """Read whole the weights the last light step's update left unverified: True when the
        update had made one non-finite (reported, at the step that made it)."""
        if not self.meter.unverified:
            return False
        step = self.meter.unverified_step
        bad = self.meter.verify()
        if bad is None:
            return False
        self._update_broke(bad, step, pause)
        return True

    def _update_broke(self, module: str, step: int, pause: bool = True) -> None:
        if step == self.step:
            self.nonfinite = "optimizer"
        self.checks.nonfinite_update(self, module, step)
        if pause:
            self._break_on_nonfinite(Phase.OPTIMIZER, module)

    def _break_on_nonfinite(self, phase: Phase, module: str,
                            kind: PauseKind = PauseKind.GRAD) -> None:
        """Pause where a light step found NaN/Inf (in the window, which breaks on them)."""
        if self.gate.problem_pause_wanted(PauseReason.NON_FINITE):
            self.gate.pause(ev.PauseLocation(phase, kind, module, 0, 0,
                                             PauseReason.NON_FINITE))

    def _note_inputs(self, path: str, inputs: tuple) -> None:
        """The scale of the step's first batch (the first tensor into its first module)."""
        tensor = next((t for t in inputs if isinstance(t, torch.Tensor)), None)
        if tensor is None or tensor.device.type == "meta":
            self.first_input = (path, None, None, None, True)
            return
        shape = tuple(tensor.shape)
        mean = std = None
        finite = True
        if tensor.is_floating_point() and tensor.numel() > 0:
            with torch.no_grad():
                values = torch.stack([tensor.float().mean(), tensor.float().std()
                                      if tensor.numel() > 1 else tensor.float().mean() * 0]
                                     ).tolist()
            mean, std = values
            finite = math.isfinite(mean) and math.isfinite(std)
            if not finite:
                finite = bool(torch.isfinite(tensor).all())
        self.first_input = (path, mean if finite else None, std if finite else None, shape,
                            finite)
        was = self.nonfinite
        self.checks.on_batch(self, path, shape, finite)
        if not finite and not was:  # the batch brings NaN/Inf into the run: stop before it
            self._break_on_nonfinite(Phase.FORWARD, path, PauseKind.ENTER)
