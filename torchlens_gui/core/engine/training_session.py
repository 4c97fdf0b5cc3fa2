"""Training steps for model files: ``check --steps N`` and the window's "Run N steps".

Each step is forward, loss, backward, optimizer step and zero_grad, cycling through the file's
``batches()`` (or reusing ``example_inputs()``). The first step (and any step someone steps
through) runs exactly as a single ``check`` run, detectors and all; the others run the light
recording of StepHooks. Step boundaries and figures come from the StepTracker, as in script mode.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Optional

import torch
import torch.nn as nn

from .compiled import compiled_code_eager
from ..diagnostics import codes
from ..recording import events as ev
from ..recording.events import PauseReason, Phase, RunStatus
from ..recording.structures import map_tensors
from ..usercode.context import SessionContext
from ..usercode.loader import ModelSpec, split_batch
from .gate import SessionStopped
from .session import FORWARD_FAILED, Session, _Abort
from .step_hooks import StepHooks
from .steps import StepTracker


_PROBLEMS = (PauseReason.NON_FINITE, PauseReason.EXCEPTION)


class TrainingSession(Session):
    """A Session that runs ``steps`` training steps (a model file or a ModelSpec)."""

    def __init__(self, source, *, steps: int = 1, max_steps: Optional[int] = None,
                 full_steps: int = 1, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.steps = steps
        self.max_steps = max_steps
        self.full_steps = full_steps
        self.tracker: Optional[StepTracker] = None
        self.break_at_step: Optional[int] = None  # pause at the start of this step
        self._params_step = 0  # the step whose parameters a pause sent

    def set_break_at_step(self, step: Optional[int]) -> None:
        """Pause at the start of ``step`` (None: no such break). Safe from any thread."""
        self.break_at_step = step
        if self.tracker is not None:
            self.tracker.break_at_step = step

    def break_at_next_step(self) -> None:
        """Pause at the start of the next step. Safe from any thread."""
        self._next_step_wanted = True
        if self.tracker is not None:
            self.tracker.break_at_next_step = True

    # ---- shared with script mode -------------------------------------------------------------

    def report(self, diagnostic: ev.Diagnostic) -> None:
        """Every diagnostic of a training run carries the step it was found at."""
        tracker = self.tracker
        if tracker is not None and diagnostic.step is None and tracker.step:
            step = tracker.step
            if not tracker.open and diagnostic.severity == "error" and self.ctx is not None \
                    and self.ctx.phase != ev.Phase.DONE:
                step += 1  # raised between steps (fetching the next batch): the next one's
            diagnostic = dataclasses.replace(diagnostic, step=step)
        super().report(diagnostic)

    def _install_steps(self, ctx: SessionContext, roots: Optional[dict] = None) -> StepTracker:
        tracker = self.tracker = StepTracker(ctx, self.emit, self.report, self.gate,
                                             max_steps=self.max_steps,
                                             full_steps=self.full_steps)
        tracker.break_at_step = self.break_at_step
        tracker.break_at_next_step = getattr(self, "_next_step_wanted", False)
        self._hooks = StepHooks(ctx, self.emit, self.gate, self.diagnostician, self.report,
                                values=self.values, histograms=self.histograms,
                                zeros=self.zero_counts, tracker=tracker, roots=roots)
        self._hooks.install()
        tracker.install()
        self.gate.before_pause = self._before_pause
        return tracker

    def _before_pause(self, location: ev.PauseLocation) -> None:
        """A pause inside a step shows it as far as it ran: a light step's module calls, and
        the parameters and gradients of this moment (also after a NaN/Inf in a full step's
        gradients or update, which no module event shows)."""
        shown = self._hooks.send_light_calls()
        step = self.tracker.step
        # Once per shown step (stepping on through it pauses at every module), and at every
        # problem.
        if (shown and self._params_step != step) or location.reason in _PROBLEMS:
            self._params, self._params_step = None, step
            self.emit(ev.ParamsUpdated(self._param_infos(self.ctx)))

    def _fail_in_phase(self, exc: BaseException, phase: Phase, ctx: SessionContext) -> None:
        if isinstance(self._hooks, StepHooks):  # a light step's calls first: the failure marks them
            self._hooks.send_light_calls()
        super()._fail_in_phase(exc, phase, ctx)

    def run(self):
        try:
            return super().run()
        finally:
            self.gate.before_pause = None  # the gate outlives the session: let go of it
            if self.tracker is not None:
                self.tracker.remove()

    # ---- the steps ---------------------------------------------------------------------------

    def _run_phases(self) -> RunStatus:
        if self.dry_run:  # meta tensors have no values to train on: the one-pass dry run
            return super()._run_phases()
        spec, ctx, model, example = self._load_and_build()
        device = ctx.device
        optimizer = self._make_optimizer(spec, model)
        tracker = self._install_steps(ctx)
        batches = self._batches(spec, example, device)
        try:
            for _ in range(self.steps):
                index, (inputs, target) = next(batches)
                tracker.next_batch_index = index
                with compiled_code_eager():  # torch.compile'd code runs eagerly (compiled.py)
                    stepped = self._one_step(spec, model, inputs, target, optimizer, ctx)
                if not stepped:
                    break
        finally:
            tracker.finish()
        self._params = None
        self.emit(ev.ParamsUpdated(self._param_infos(ctx)))
        return self._ended_status()

    def _one_step(self, spec: ModelSpec, model: nn.Module, inputs: Any, target: Any,
                  optimizer: Optional[torch.optim.Optimizer], ctx: SessionContext) -> bool:
        """One forward, loss, backward, optimizer step; False when the run cannot go on."""
        self._params = None  # the parameters' statistics belong to one step
        output = self._forward(model, inputs, ctx)
        if output is FORWARD_FAILED:
            return False
        step_spec = spec if spec.target_loss is None else dataclasses.replace(
            spec, loss=lambda out: spec.target_loss(out, target))
        value = self._loss(step_spec, output, ctx)
        if value is None:
            return False
        self._backward(value, ctx)
        if self._has_errors_now():
            return False
        if optimizer is not None:
            self._phase(Phase.OPTIMIZER)
            try:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            except (SessionStopped, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fail_in_phase(exc, "optimizer", ctx)
                return False
        else:
            model.zero_grad(set_to_none=True)
        return True

    def _has_errors_now(self) -> bool:
        return any(d.severity == "error" for d in self.record.diagnostics)

    def _make_optimizer(self, spec: ModelSpec, model: nn.Module
                        ) -> Optional[torch.optim.Optimizer]:
        if spec.optimizer is None or self.dry_run:
            return None
        try:
            optimizer = spec.optimizer(model)
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.report(self._contract_error(f"optimizer(model) raised {type(exc).__name__}: "
                                             f"{exc}", exc))
            raise _Abort(RunStatus.FAILED) from None
        if not isinstance(optimizer, torch.optim.Optimizer):
            self.report(self._contract_error(
                f"optimizer(model) returned a {type(optimizer).__name__}, not a torch "
                "optimizer", None))
            raise _Abort(RunStatus.FAILED)
        return optimizer

    def _contract_error(self, message: str, exc: Optional[BaseException]) -> ev.Diagnostic:
        from ..diagnostics.base import user_location

        file, line = user_location(exc, self.ctx) if exc is not None else (self.ctx.user_file,
                                                                             None)
        return ev.Diagnostic(code=codes.LOAD_ERROR, severity="error", phase=Phase.BUILD, message=message,
                             file=file, line=line,
                             fix="Return an optimizer over the model's parameters, for example "
                                 "torch.optim.SGD(model.parameters(), lr=0.01).")

    def _batches(self, spec: ModelSpec, example: Any, device: torch.device
                 ) -> Iterator[tuple[int, tuple[Any, Any]]]:
        """(index in the loop, (inputs, target)) forever: batches() again and again, or the
        example inputs."""
        loss = spec.target_loss
        if spec.batches is None:
            while True:
                yield 0, (example, None)
        index = 0
        while True:
            count = 0
            for item in self._call_user(spec.batches, "batches()"):
                inputs, target = split_batch(item, loss)
                yield index, (map_tensors(inputs, lambda t: t.to(device)),
                              map_tensors(target, lambda t: t.to(device)))
                index += 1
                count += 1
            if count == 0:
                self.report(self._contract_error("batches() yielded nothing", None))
                raise _Abort(RunStatus.FAILED)

    def _call_user(self, fn, what: str):
        try:
            return iter(fn())
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.report(self._contract_error(f"{what} raised {type(exc).__name__}: {exc}", exc))
            raise _Abort(RunStatus.FAILED) from None
