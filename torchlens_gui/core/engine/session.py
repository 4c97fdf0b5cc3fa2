"""The session: load -> build -> forward -> loss -> backward on the caller's thread, under hooks.

Listeners get immutable events; a StepGate may pause the run at any module event. Whatever
happens, hooks are removed and stdout/stderr/warnings are restored before ``run`` returns.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any, Callable, Optional

import torch
import torch.nn as nn

from ..recording import events as ev
from .capture import capture_output
from ..usercode.context import SessionContext
from ..usercode.creation_sites import CreationSites
from .devices import DeviceUnavailable, is_out_of_memory, resolve_device, synchronize
from ..diagnostics import Diagnostician, default_diagnostician, load_error
from .gate import SessionStopped, StepGate
from .isolation import ProcessState
from .outcomes import internal_error, interrupted, no_parameters, nothing_to_backward
from .hooks import ModuleHooks
from ..usercode.loader import LoadError, ModelSpec, load_model_file
from ..recording.record import RunRecord
from ..statistics.stats import summarize
from ..recording.structures import map_tensors, tensors
from ..usercode.tree import all_param_infos, describe_module_tree

Listener = Callable[[ev.Event], None]

SURROGATE_LOSS_TEXT = "sum of every floating-point output (no loss() in the file)"
_FAILED = object()  # what _forward returns when forward raised (None is a valid output)


class _Abort(Exception):
    """Ends the run early after a diagnostic has been reported."""

    def __init__(self, status: str):
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
    statistic on large tensors (a third of the statistics' time).
    """

    def __init__(self, source: str | ModelSpec, *, device: str = "auto",
                 listener: Optional[Listener] = None, gate: Optional[StepGate] = None,
                 values: bool = True, histograms: bool | str = False, dry_run: bool = False,
                 echo_output: bool = False, zero_counts: bool = True,
                 diagnostician: Optional[Diagnostician] = None) -> None:
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
        self.record = RunRecord()
        self.ctx: Optional[SessionContext] = None
        self._hooks: Optional[ModuleHooks] = None
        self._params: Optional[tuple] = None  # ParamsUpdated's content, once computed
        self._started = 0.0
        self._spec: Optional[ModelSpec] = None  # a loaded file's, unloaded when the run ends

    # ---- events ---------------------------------------------------------------------------

    def emit(self, event: ev.Event) -> None:
        self.record.apply(event)
        if self.listener is not None:
            self.listener(event)

    def report(self, diagnostic: ev.Diagnostic) -> None:
        self.emit(ev.DiagnosticRaised(diagnostic))

    def _phase(self, phase: str) -> None:
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
        status = "failed"
        try:
            try:
                self._start_events(file)
                with capture_output(self._on_output, self._on_warning, echo=self.echo_output):
                    status = self._run_phases()
            except SessionStopped:
                status = "stopped"
            except _Abort as abort:
                status = abort.status
            except KeyboardInterrupt as exc:
                self.report(interrupted(exc, self.record.phase, self.ctx))
                status = "stopped"
            except BaseException as exc:  # a bug of ours (RecursionError, MemoryError included)
                self.report(internal_error(exc, self.record.phase))
                status = "failed"
        except BaseException:  # a second stop arriving while the first was being handled
            status = "stopped" if status == "failed" else status
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

    def _finish(self, status: str, state: ProcessState) -> None:
        """Remove hooks, restore the process state, then say the session ended. Retried if a
        late stop (an asynchronous SessionStopped) lands in the middle: every step is safe to
        run twice, and the end must be told whatever happens."""
        for _attempt in range(5):
            try:
                if self._hooks is not None:
                    self._hooks.remove()
                state.restore()
                if self.record.status is None:
                    final_phase = {"ok": "done", "problems": "done"}.get(status, status)
                    if self.record.phase != final_phase:
                        self._phase(final_phase)
                    elapsed = time.perf_counter() - self._started
                    self.emit(ev.SessionEnded(status, elapsed, tuple(self.record.diagnostics)))
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

    def _run_phases(self) -> str:
        self._params = None
        self._phase("loading")
        spec = self._load()
        device = self._resolve_device()
        ctx = self.ctx = SessionContext(spec.file, device, self.dry_run, self.record,
                                        CreationSites())
        self._phase("building")
        model = self._build(spec, ctx)
        inputs = self._prepare_inputs(spec, device)
        for diagnostic in self.diagnostician.after_build(ctx):
            self.report(diagnostic)

        self._hooks = ModuleHooks(ctx, self.emit, self.gate, self.diagnostician, self.report,
                                  values=self.values, histograms=self.histograms,
                                  zeros=self.zero_counts)
        self._hooks.install()
        output = self._forward(model, inputs, ctx)
        if output is not _FAILED and not self.dry_run:
            loss_value = self._loss(spec, output, ctx)
            if loss_value is not None:
                self._backward(loss_value, ctx)
        self.emit(ev.ParamsUpdated(self._param_infos(ctx)))
        return "problems" if self._has_problems() else "ok"

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

    def _has_problems(self) -> bool:
        return any(d.severity in ("error", "warning") for d in self.record.diagnostics)

    # ---- phases -----------------------------------------------------------------------------

    def _load(self) -> ModelSpec:
        if isinstance(self.source, ModelSpec):
            return self.source
        try:
            self._spec = load_model_file(self.source)
            return self._spec
        except LoadError as exc:
            self.report(load_error(exc))
            raise _Abort("failed") from None

    def _resolve_device(self) -> torch.device:
        try:
            return resolve_device(self.device_name)
        except DeviceUnavailable as exc:
            self.report(ev.Diagnostic(
                code="device-unavailable", severity="error", phase="build", message=str(exc),
                fix="Choose CPU (--device cpu), or install a CUDA build of PyTorch on a machine "
                    "with an NVIDIA GPU."))
            raise _Abort("failed") from None

    def _build(self, spec: ModelSpec, ctx: SessionContext) -> nn.Module:
        device_ctx = torch.device("meta") if self.dry_run else contextlib.nullcontext()
        try:
            with ctx.sites.recording(spec.file), device_ctx:
                model = spec.build()
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:  # SystemExit in build_model included
            self.report(self._oom_or(exc, "build", ctx)
                        or self.diagnostician.creation_error(exc, ctx))
            raise _Abort("failed") from None
        if not isinstance(model, nn.Module):
            self.report(ev.Diagnostic(
                code="load-error", severity="error", phase="build",
                message=f"build_model() returned a {type(model).__name__}, not an nn.Module",
                file=spec.file, fix="Return the model instance from build_model()."))
            raise _Abort("failed")
        if not self.dry_run and _on_meta(model):
            self.report(ev.Diagnostic(
                code="meta-model", severity="error", phase="build",
                message="The model was built on the meta device (device='meta', "
                        "torch.device('meta') or torch.set_default_device('meta')): its "
                        "parameters hold no data, so it cannot run for real",
                file=spec.file, fix="Build it on a real device (remove the meta device from "
                "the file), or check shapes and dtypes only: torchlens-gui check FILE "
                "--dry-run."))
            raise _Abort("failed")
        try:
            if not _all_on(model, ctx.device):  # a live model run again is already there
                model.to(ctx.device)
        except Exception as exc:
            self.report(self._oom_or(exc, "build", ctx) or self.diagnostician.creation_error(exc, ctx))
            raise _Abort("failed") from None
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
            from ..diagnostics.base import user_location
            file, line = user_location(exc, self.ctx)
            self.report(ev.Diagnostic(
                code="load-error", severity="error", phase="build",
                message=f"example_inputs() raised {type(exc).__name__}: {exc}", file=file,
                line=line, fix="Fix example_inputs() so it returns the model's inputs."))
            raise _Abort("failed") from None
        wrong = _non_tensor_array(inputs)
        if wrong is not None:
            self.report(ev.Diagnostic(
                code="load-error", severity="error", phase="build",
                message=f"example_inputs() returned {wrong}, but models take torch tensors",
                file=spec.file,
                fix="Convert it in example_inputs(), for example torch.as_tensor(x, "
                    "dtype=torch.float32)."))
            raise _Abort("failed")
        return map_tensors(inputs, lambda t: t.to(device))

    def _forward(self, model: nn.Module, inputs: Any, ctx: SessionContext) -> Any:
        self._phase("forward")
        try:
            with self.diagnostician.phase_guard("forward", ctx):
                if isinstance(inputs, dict):
                    output = model(**inputs)
                elif isinstance(inputs, tuple):
                    output = model(*inputs)
                else:
                    output = model(inputs)
                synchronize(ctx.device)
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fail_in_phase(exc, "forward", ctx)
            return _FAILED
        ctx.output = output
        for diagnostic in self.diagnostician.after_forward(ctx):
            self.report(diagnostic)
        return output

    def _loss(self, spec: ModelSpec, output: Any, ctx: SessionContext) -> Optional[torch.Tensor]:
        self._phase("loss")
        surrogate = spec.loss is None
        if surrogate and not backward_starts(output):
            self.report(no_parameters(spec.file) if not _trainable(ctx)
                        else nothing_to_backward(output, spec.file))
            self.emit(ev.LossComputed(None, surrogate))
            return None
        try:
            with self.diagnostician.phase_guard("loss", ctx):
                value = surrogate_loss(output) if surrogate else spec.loss(output)
                synchronize(ctx.device)
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fail_in_phase(exc, "loss", ctx)
            return None
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            what = f"a tensor of shape {list(value.shape)}" if isinstance(value, torch.Tensor) \
                else f"a {type(value).__name__}"
            self.report(ev.Diagnostic(
                code="runtime-error", severity="error", phase="loss",
                message=f"loss(output) returned {what}; backward needs a scalar tensor",
                file=spec.file, fix="Reduce the loss to a scalar (for example .mean())."))
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
            self.report(ev.Diagnostic(
                code="no-gradient", severity="warning", phase="loss",
                message="The loss does not require grad: no parameter takes part in it, so "
                        "backward cannot run",
                file=spec.file, fix="Make sure the loss is computed from the model's output "
                "without .detach(), torch.no_grad() or .item()."))
            return None
        return value

    def _backward(self, loss_value: torch.Tensor, ctx: SessionContext) -> None:
        self._phase("backward")
        try:
            # Hooks must fire on this thread so they can pause it and read live tensors.
            with torch.autograd.set_multithreading_enabled(False), \
                    self.diagnostician.phase_guard("backward", ctx):
                loss_value.backward()
                synchronize(ctx.device)
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fail_in_phase(exc, "backward", ctx)
            return
        self._param_infos(ctx)
        for diagnostic in self.diagnostician.after_backward(ctx):
            self.report(diagnostic)

    # ---- failures ---------------------------------------------------------------------------

    def _fail_in_phase(self, exc: BaseException, phase: str, ctx: SessionContext) -> None:
        failing = ctx.stack[-1] if ctx.stack and phase == "forward" else None
        diagnostic = self._oom_or(exc, phase, ctx) or self.diagnostician.explain_exception(
            exc, phase, ctx, failing)
        for call in reversed(ctx.stack):
            self.emit(ev.ModuleFailed(call.path, call.call_index, call.depth, diagnostic.message))
        self.report(diagnostic)
        if failing is not None and self.gate.problem_pause_wanted("exception"):
            self.gate.pause(ev.PauseLocation(phase, "error", failing.path, failing.call_index,
                                             failing.depth, "exception"))
        ctx.stack.clear()

    def _oom_or(self, exc: BaseException, phase: str, ctx: SessionContext
                ) -> Optional[ev.Diagnostic]:
        if not is_out_of_memory(exc):
            return None
        from .devices import free_cached_memory

        free_cached_memory(ctx.device)
        failing = ctx.stack[-1] if ctx.stack else None
        from ..diagnostics.base import user_location

        file, line = user_location(exc, ctx)
        return ev.Diagnostic(
            code="out-of-memory", severity="error", phase=phase,
            message=f"Out of memory on {ctx.device} during {phase}"
                    + (f" in {failing.path or '(root)'}" if failing else "")
                    + f": {str(exc).splitlines()[0][:200]}",
            module=failing.path if failing else None, file=file, line=line,
            fix="Use a smaller batch in example_inputs(), a smaller model, or check shapes "
                "first without memory: torchlens-gui check FILE --dry-run.")

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
    from ..recording.structures import iter_leaves

    for name, leaf in iter_leaves(inputs):
        kind = type(leaf).__module__.split(".")[0]
        if kind in ("numpy", "pandas", "jax", "tensorflow"):
            where = f" at {name}" if name else ""
            return f"a {type(leaf).__module__}.{type(leaf).__name__}{where}"
    return None
