"""The session: load -> build -> forward -> loss -> backward on the caller's thread, under hooks.

Listeners get immutable events; a StepGate may pause the run at any module event. Whatever
happens, hooks are removed and stdout/stderr/warnings are restored before ``run`` returns.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from typing import Any, Callable, Optional

import torch
import torch.nn as nn

from ..recording import events as ev
from ..recording.events import PauseKind, PauseReason, Phase, RunStatus
from .capture import capture_output
from .compiled import compiled_code_eager, compiled_model_info, original_module
from ..usercode.context import SessionContext
from ..usercode.creation_sites import CreationSites
from .devices import (DeviceUnavailable, free_cached_memory, is_out_of_memory, resolve_device,
                      synchronize)
from ..diagnostics import Diagnostician, default_diagnostician, run_failures
from ..diagnostics.backward_replay import capture_rng, replay_backward
from .gate import Command, SessionStopped, StepGate
from .isolation import ProcessState
from .outcomes import (internal_error, interrupted, meta_model, no_parameters,
                       nothing_to_backward)
from .hooks import ModuleHooks
from .tensor_keeper import TensorKeeper
from ..usercode.loader import LoadError, ModelSpec, load_model_file
from ..recording.record import RunRecord
from ..statistics.stats import summarize
from ..recording.structures import iter_leaves, map_tensors, tensors
from ..usercode.tree import all_param_infos, describe_module_tree

Listener = Callable[[ev.Event], None]

FORWARD_FAILED = object()  # what _forward returns when forward raised (None is a valid output)


class _Abort(Exception):
    """Ends the run early after a diagnostic has been reported."""

    def __init__(self, status: RunStatus):
        super().__init__(status)
        self.status = status


class Session:
    """One run of a model file (or live model) under the debugger.

    ``source`` is a path to a model file or a ModelSpec. ``values=False`` records structure and
    shapes only. ``histograms=True`` adds a histogram to every summary (the report wants them);
    ``histograms="auto"`` only while someone steps (the gate is not free-running) and for
    tensors holding NaN/Inf, so a run in continue pays nothing for them. ``dry_run`` builds and
    runs on the meta device: shapes and dtypes only, no memory, no compute, no backward.
    ``zero_counts=False`` leaves every zero_fraction None: counting non-zeros is the costliest
    statistic on large tensors (a third of the statistics' time). ``tensor_keeper`` chooses which
    actual tensors are copied out as TensorKept events (None: none).
    """

    def __init__(self, source: str | ModelSpec, *, device: str = "auto",
                 listener: Optional[Listener] = None, gate: Optional[StepGate] = None,
                 values: bool = True, histograms: bool | str = False, dry_run: bool = False,
                 echo_output: bool = False, zero_counts: bool = True,
                 diagnostician: Optional[Diagnostician] = None,
                 tensor_keeper: Optional[TensorKeeper] = None) -> None:
        self.source = os.path.abspath(source) if isinstance(source, str) else source
        self.device_name = "meta" if dry_run else device
        self.listener = listener
        self.gate = gate or StepGate()
        self.values = values and not dry_run
        self.histograms = histograms
        self.zero_counts = zero_counts
        self.dry_run = dry_run
        self.echo_output = echo_output
        self.diagnostician = diagnostician or default_diagnostician()
        self.tensor_keeper = tensor_keeper
        self.record = RunRecord()
        self.ctx: Optional[SessionContext] = None
        self._hooks: Optional[ModuleHooks] = None
        self._params: Optional[tuple] = None  # ParamsUpdated's content, once computed
        self._started = 0.0
        # Ending is done once, by the session thread or, when that thread is stuck in a C call
        # past a stop, by abandon() on the watchdog's: whichever comes first, under this lock.
        self._end_lock = threading.Lock()
        self._ended = False
        self._stop_reason: Optional[ev.Diagnostic] = None
        self._stop_status: Optional[RunStatus] = None
        self._spec: Optional[ModelSpec] = None  # a loaded file's, unloaded when the run ends

    # ---- events ---------------------------------------------------------------------------

    def emit(self, event: ev.Event) -> None:
        if self._ended:  # an abandoned thread woke up: its record was already closed
            return
        self.record.apply(event)
        if self.listener is not None:
            self.listener(event)

    def report(self, diagnostic: ev.Diagnostic) -> None:
        self.emit(ev.DiagnosticRaised(diagnostic))

    def _phase(self, phase: Phase) -> None:
        if self.ctx is not None:
            self.ctx.phase = phase
        self.emit(ev.PhaseChanged(phase))

    # ---- the run ----------------------------------------------------------------------------

    def run(self) -> RunRecord:
        """Run to the end (or to a stop) and return the record. Never raises: whatever ends the
        run (a user error, a stop, KeyboardInterrupt, a bug of ours) ends it with a diagnostic,
        a SessionEnded event and the process state as it was before."""
        self._started = time.perf_counter()
        file = self.source if isinstance(self.source, str) else self.source.file
        state = ProcessState(os.path.dirname(file) if file else None)
        status = RunStatus.FAILED
        try:
            try:
                self._start_events(file)
                with capture_output(self._on_output, self._on_warning, echo=self.echo_output):
                    status = self._run_phases()
            except SessionStopped:
                status = RunStatus.STOPPED
            except _Abort as abort:
                status = abort.status
            except KeyboardInterrupt as exc:
                self.report(interrupted(exc, self.record.phase, self.ctx))
                status = RunStatus.STOPPED
            except BaseException as exc:  # a bug of ours (RecursionError, MemoryError included)
                self.report(internal_error(exc, self.record.phase))
                status = RunStatus.FAILED
        except BaseException:  # a second stop arriving while the first was being handled
            status = RunStatus.STOPPED if status == RunStatus.FAILED else status
        self._finish(status, state)
        return self.record

    def _start_events(self, file: Optional[str]) -> None:
        self.gate.on_pause = lambda loc: self.emit(ev.Paused(loc))
        self.gate.on_resume = lambda: self.emit(ev.Resumed())
        try:
            shown_device = str(resolve_device(self.device_name))
        except DeviceUnavailable:
            shown_device = self.device_name
        self.emit(ev.SessionStarted(file, shown_device, self.dry_run))

    def _finish(self, status: RunStatus, state: ProcessState) -> None:
        """Remove hooks, restore the process state, then say the session ended. Retried if a
        late stop (an asynchronous SessionStopped) lands in the middle: every step is safe to
        run twice, and the end must be told whatever happens."""
        for _attempt in range(5):
            try:
                if self._hooks is not None:
                    self._hooks.remove()
                state.restore()
                self._end(status)
                break
            except BaseException:
                continue
        # Let go of the model, its inputs and outputs now: the gate outlives the session (the
        # GUI keeps it until the next start) and its callbacks would keep all of it alive.
        self.gate.on_pause = self.gate.on_resume = None
        self._hooks = None
        if self.ctx is not None:
            # Output tensors carry our gradient hooks, which point back at the context: a
            # cycle through autograd's C++ graph that no garbage collection can break.
            self.ctx.release()
        self.ctx = None
        if isinstance(self.source, str) and self._spec is not None:
            self._spec.unload()
        self._spec = None

    def stop(self, reason: Optional[ev.Diagnostic] = None,
             ended_as: Optional[RunStatus] = None) -> None:
        """Ask the run to stop (from any thread). ``reason`` (a timeout) is reported when it
        ends, which then counts as a problem instead of a plain stop (or as ``ended_as``)."""
        self._stop_reason = reason
        self._stop_status = ended_as
        self.gate.command(Command.STOP)

    def abandon(self) -> None:
        """End the record from another thread when the session thread did not unwind after
        stop() (a C call that never returns); anything that thread emits later is dropped."""
        self._end(RunStatus.STOPPED)

    def _end(self, status: RunStatus) -> None:
        with self._end_lock:
            if self._ended:
                return
            phase = status.phase
            if self._stop_reason is not None:
                self.report(self._stop_reason)
                status = self._stop_status or (RunStatus.PROBLEMS if self.record.nodes
                                               else RunStatus.FAILED)
            self._phase(phase)
            elapsed = time.perf_counter() - self._started
            self.emit(ev.SessionEnded(status, elapsed, tuple(self.record.diagnostics)))
            self._ended = True

    def _run_phases(self) -> RunStatus:
        spec, ctx, model, inputs = self._load_and_build()
        self._hooks = ModuleHooks(ctx, self.emit, self.gate, self.diagnostician, self.report,
                                  values=self.values, histograms=self.histograms,
                                  zeros=self.zero_counts, tensor_keeper=self.tensor_keeper)
        self._hooks.install()
        rng = None if self.dry_run else capture_rng(ctx.device)
        with compiled_code_eager():
            output = self._forward(model, inputs, ctx)
            if output is not FORWARD_FAILED and not self.dry_run:
                loss_value = self._loss(spec, output, ctx)
                if loss_value is not None:
                    ctx.replay_backward = functools.partial(
                        replay_backward, ctx, rng=rng,
                        forward_and_loss=lambda: self._loss_again(spec, model, inputs))
                    self._backward(loss_value, ctx)
        self.emit(ev.ParamsUpdated(self._param_infos(ctx)))
        return self._ended_status()

    def _load_and_build(self) -> tuple[ModelSpec, SessionContext, nn.Module, Any]:
        """Load the file, build the model on the device and prepare the inputs (also the
        start of a training run)."""
        self._params = None
        self._phase(Phase.LOAD)
        spec = self._load()
        device = self._resolve_device()
        ctx = self.ctx = SessionContext(spec.file, device, self.dry_run, self.record,
                                        CreationSites())
        self._phase(Phase.BUILD)
        model = self._build(spec, ctx)
        inputs = self._prepare_inputs(spec, device)
        for diagnostic in self.diagnostician.after_build(ctx):
            self.report(diagnostic)
        return spec, ctx, model, inputs

    def _param_infos(self, ctx: SessionContext) -> tuple:
        """Statistics of every parameter and gradient, computed once: after a backward the
        detectors read them from ``ctx.param_infos`` before ParamsUpdated carries them out."""
        if self._params is None:
            self._params = all_param_infos(ctx.modules, grads=not self.dry_run,
                                           values=self.values, zeros=self.zero_counts,
                                           histogram=self._hooks.histogram_wanted())
            ctx.param_infos = {path: {info.name: info for info in infos}
                               for path, infos in self._params}
        return self._params

    def _ended_status(self) -> RunStatus:
        """How a run that got to its end ended."""
        return RunStatus.PROBLEMS if self._has_problems() else RunStatus.OK

    def _has_problems(self) -> bool:
        return any(d.severity in ("error", "warning") for d in self.record.diagnostics)

    # ---- phases -----------------------------------------------------------------------------

    def _load(self) -> ModelSpec:
        if isinstance(self.source, ModelSpec):
            return self.source
        from .steps import refusing_training

        try:
            with refusing_training():
                self._spec = load_model_file(self.source)
            return self._spec
        except LoadError as exc:
            self.report(run_failures.load_error(exc))
            raise _Abort(RunStatus.FAILED) from None

    def _resolve_device(self) -> torch.device:
        try:
            return resolve_device(self.device_name)
        except DeviceUnavailable as exc:
            self.report(run_failures.device_unavailable(str(exc)))
            raise _Abort(RunStatus.FAILED) from None

    def _build(self, spec: ModelSpec, ctx: SessionContext) -> nn.Module:
        device_ctx = torch.device("meta") if self.dry_run else contextlib.nullcontext()
        try:
            with ctx.sites.recording(spec.file), device_ctx:
                model = spec.build()
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:  # SystemExit in build_model included
            stop = self.diagnostician.explain_exception(exc, Phase.BUILD, ctx, None) \
                if self.dry_run else None
            if stop is not None and stop.severity == "info":  # dry-run-incomplete: no bug
                self.report(stop)
                raise _Abort(RunStatus.OK) from None
            self.report(self._oom_or(exc, Phase.BUILD, ctx)
                        or self.diagnostician.creation_error(exc, ctx))
            raise _Abort(RunStatus.FAILED) from None
        original = original_module(model) if isinstance(model, nn.Module) else None
        if original is not None:
            self.report(compiled_model_info(model, original, spec.file))
            model = original
        if not isinstance(model, nn.Module):
            self.report(run_failures.not_a_module(model, spec.file))
            raise _Abort(RunStatus.FAILED)
        if not self.dry_run and _on_meta(model):
            self.report(meta_model(spec.file))
            raise _Abort(RunStatus.FAILED)
        try:
            if not _all_on(model, ctx.device):  # a live model run again is already there
                model.to(ctx.device)
        except Exception as exc:
            self.report(self._oom_or(exc, Phase.BUILD, ctx) or self.diagnostician.creation_error(exc, ctx))
            raise _Abort(RunStatus.FAILED) from None
        ctx.model = model
        entries = describe_module_tree(model, ctx.sites)
        for node, module in entries:
            ctx.paths[id(module)] = node.path
            ctx.modules[node.path] = module
        self.emit(ev.TreeBuilt(tuple(node for node, _ in entries)))
        return model

    def _prepare_inputs(self, spec: ModelSpec, device: torch.device) -> Any:
        try:
            inputs = spec.inputs()
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.report(run_failures.inputs_raised(exc, self.ctx))
            raise _Abort(RunStatus.FAILED) from None
        wrong = _non_tensor_array(inputs)
        if wrong is not None:
            self.report(run_failures.inputs_not_tensors(wrong, spec.file))
            raise _Abort(RunStatus.FAILED)
        return map_tensors(inputs, lambda t: t.to(device))

    def _forward(self, model: nn.Module, inputs: Any, ctx: SessionContext) -> Any:
        self._phase(Phase.FORWARD)
        try:
            with self.diagnostician.phase_guard(Phase.FORWARD, ctx), \
                    ctx.sites.recording(ctx.user_file, in_forward=True):
                output = call_model(model, inputs)
                synchronize(ctx.device)
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fail_in_phase(exc, Phase.FORWARD, ctx)
            return FORWARD_FAILED
        ctx.output = output
        self._hooks.keep_histograms()  # the last calls of the forward get a histogram
        for diagnostic in self.diagnostician.after_forward(ctx):
            self.report(diagnostic)
        return output

    def _loss(self, spec: ModelSpec, output: Any, ctx: SessionContext) -> Optional[torch.Tensor]:
        self._phase(Phase.LOSS)
        surrogate = spec.loss is None
        if surrogate and not backward_starts(output):
            self.report(no_parameters(spec.file) if not _trainable(ctx)
                        else nothing_to_backward(output, spec.file))
            self.emit(ev.LossComputed(None, surrogate))
            return None
        try:
            with self.diagnostician.phase_guard(Phase.LOSS, ctx), \
                    ctx.sites.recording(ctx.user_file, in_forward=True):
                value = surrogate_loss(output) if surrogate else spec.loss(output)
                synchronize(ctx.device)
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fail_in_phase(exc, Phase.LOSS, ctx)
            return None
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            self.report(run_failures.loss_not_scalar(value, spec.file))
            self.emit(ev.LossComputed(None, surrogate))
            return None
        summary = summarize(value.detach(), "loss", values=self.values)
        self.emit(ev.LossComputed(summary.mean if summary.finite else float("nan"),
                                  surrogate, summary))
        for diagnostic in self.diagnostician.on_loss(ctx, output, value, surrogate):
            self.report(diagnostic)
        if not value.requires_grad and not _trainable(ctx):
            self.report(no_parameters(spec.file))
            return None
        if not value.requires_grad:
            self.report(run_failures.loss_without_grad(spec.file))
            return None
        return value

    @staticmethod
    def _loss_again(spec: ModelSpec, model: nn.Module, inputs: Any) -> torch.Tensor:
        """Forward and loss once more, unwatched (a failed backward's re-run)."""
        output = call_model(model, inputs)
        return surrogate_loss(output) if spec.loss is None else spec.loss(output)

    def _backward(self, loss_value: torch.Tensor, ctx: SessionContext) -> None:
        self._phase(Phase.BACKWARD)
        try:
            # Hooks must fire on this thread so they can pause it and read live tensors.
            with torch.autograd.set_multithreading_enabled(False), \
                    self.diagnostician.phase_guard(Phase.BACKWARD, ctx):
                loss_value.backward()
                synchronize(ctx.device)
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fail_in_phase(exc, Phase.BACKWARD, ctx)
            return
        self._param_infos(ctx)
        for diagnostic in self.diagnostician.after_backward(ctx):
            self.report(diagnostic)

    # ---- failures ---------------------------------------------------------------------------

    def _fail_in_phase(self, exc: BaseException, phase: Phase, ctx: SessionContext) -> None:
        failing = ctx.stack[-1] if ctx.stack and phase == Phase.FORWARD else None
        diagnostic = self._oom_or(exc, phase, ctx) or self.diagnostician.explain_exception(
            exc, phase, ctx, failing)
        if diagnostic.severity == "info":  # a dry run's limit (dry-run-incomplete), no failure
            self.report(diagnostic)
            ctx.stack.clear()
            return
        if self._hooks is not None:
            self._hooks.keep_histograms(failing)
        for call in reversed(ctx.stack):
            self.emit(ev.ModuleFailed(call.path, call.call_index, call.depth, diagnostic.message))
        self.report(diagnostic)
        if failing is not None and self.gate.problem_pause_wanted(PauseReason.EXCEPTION):
            self.gate.pause(ev.PauseLocation(phase, PauseKind.ERROR, failing.path, failing.call_index,
                                             failing.depth, PauseReason.EXCEPTION))
        ctx.stack.clear()

    def _oom_or(self, exc: BaseException, phase: Phase, ctx: SessionContext
                ) -> Optional[ev.Diagnostic]:
        if not is_out_of_memory(exc):
            return None
        free_cached_memory(ctx.device)
        return run_failures.out_of_memory(exc, phase, ctx)

    # ---- captured output --------------------------------------------------------------------

    def _on_output(self, stream: str, text: str) -> None:
        self.emit(ev.LogWritten(stream, text))

    def _on_warning(self, warning) -> None:
        if self.ctx is None:
            return
        for diagnostic in self.diagnostician.on_warning(self.ctx, warning):
            self.report(diagnostic)


def _all_on(model: nn.Module, device: torch.device) -> bool:
    """Whether every parameter and buffer already lives on ``device`` (model.to would be a
    no-op that still walks every module)."""
    if device.type == "meta" or device.index is None and device.type != "cpu":
        return False
    return all(t.device == device for t in model.parameters()) and \
        all(t.device == device for t in model.buffers())


def call_model(model: nn.Module, inputs: Any) -> Any:
    """model(**dict), model(*tuple) or model(x): the model-file contract for inputs."""
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def surrogate_loss(output: Any) -> torch.Tensor:
    """Backward's starting point when the file has no loss(): the sum of every floating-point
    output tensor (accumulated in float32), so every output element gets gradient 1; a
    complex output adds its real and imaginary parts."""
    parts = [_as_real(t).float().sum() for t in tensors(output) if _differentiable(t)]
    if not parts:
        return torch.zeros(())
    return torch.stack(parts).sum()


def backward_starts(output: Any) -> bool:
    """Whether the output holds a tensor the surrogate loss can start backward from."""
    return any(_differentiable(t) for t in tensors(output))


def _differentiable(t: torch.Tensor) -> bool:
    return (t.is_floating_point() or t.is_complex()) and t.requires_grad and \
        t.layout == torch.strided and not t.is_nested


def _as_real(t: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(t) if t.is_complex() else t


def _on_meta(model: nn.Module) -> bool:
    return any(t.is_meta for t in model.parameters()) or any(t.is_meta for t in model.buffers())


def _trainable(ctx: SessionContext) -> bool:
    return ctx.model is not None and any(p.requires_grad for p in ctx.model.parameters())


def _non_tensor_array(inputs: Any) -> Optional[str]:
    """Describe an array-like input that is not a tensor (numpy, pandas, lists of numbers)."""
    for name, leaf in iter_leaves(inputs):
        kind = type(leaf).__module__.split(".")[0]
        if kind in ("numpy", "pandas", "jax", "tensorflow"):
            where = f" at {name}" if name else ""
            return f"a {type(leaf).__module__}.{type(leaf).__name__}{where}"
    return None
