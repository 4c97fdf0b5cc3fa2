"""Script mode: run an unmodified training script as ``__main__`` under the debugger.

``ScriptSession(script, args)`` runs the file like ``python SCRIPT ARGS...`` (``sys.argv`` is
``[SCRIPT, *ARGS]``, its folder first on ``sys.path``, ``__name__ == "__main__"``) on the
calling thread, under the global module hooks and the step tracker. Modules it calls at top
level become roots of the tree, under their variable names. ``max_steps`` stops it cleanly after
that many steps (StepLimitReached unwinds the script; ``sys.exit(0)`` ends it normally).
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import gc
import os
import sys
import threading
import time
import types
from typing import Iterator, Optional, Sequence

import torch

from ..diagnostics import codes
from ..recording import events as ev
from ..recording.events import Phase, RunStatus
from ..usercode.context import SessionContext
from ..usercode.creation_sites import CreationSites
from ..usercode.user_frames import innermost_user_line, is_user_file
from .gate import SessionStopped
from .script_batches import numbering_batches
from .script_losses import checking_class_labels
from .session import _Abort
from .steps import StepLimitReached
from .training_session import TrainingSession

# How long threads the script started may take to finish after it returns.
THREAD_GRACE_S = 2.0
# How long an abandoned DataLoader's worker may take to exit before it is terminated.
LOADER_SHUTDOWN_S = 0.2


class ScriptSession(TrainingSession):
    def __init__(self, script: str, args: Sequence[str] = (), *, max_steps: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(script, max_steps=max_steps, **kwargs)
        self.script_args = [str(a) for a in args]
        self.exit_code: Optional[int] = None  # what the script passed to sys.exit, if it did

    def _run_phases(self) -> RunStatus:
        self._phase(Phase.LOAD)
        path = self.source
        code = self._compile(path)
        ctx = self.ctx = SessionContext(path, torch.device("cpu"), False, self.record,
                                        CreationSites())
        self.emit(ev.TreeBuilt((ev.ModuleNode("", ev.SCRIPT_ROOT, None, 0, 0),)))
        main = types.ModuleType("__main__")
        main.__file__ = path
        main.__builtins__ = builtins
        tracker = self._install_steps(ctx, roots=main.__dict__)
        tracker.pause_at_first_step = self.gate_pauses_at_start
        tracker.watch_loss = True  # no loss phase: the loss region is watched (loss_watch.py)
        threads_before = set(threading.enumerate())
        self._phase(Phase.FORWARD)
        try:
            with ctx.sites.recording(path), _as_main(path, self.script_args, main), \
                    checking_class_labels(ctx), numbering_batches(tracker):
                exec(code, main.__dict__)
        except StepLimitReached:
            pass
        except SystemExit as exc:
            self._on_exit(exc, path)
        except (SessionStopped, KeyboardInterrupt):
            raise
        except BaseException as exc:
            phase = ctx.phase if ctx.phase in (Phase.FORWARD, Phase.BACKWARD, Phase.OPTIMIZER) \
                else Phase.FORWARD
            self._fail_in_phase(exc, phase, ctx)
        finally:
            ctx.phase = Phase.DONE
            tracker.finish()
        self._wait_for_threads(threads_before, path)
        if not ctx.modules and not self.record.diagnostics:  # steps of bare tensors too
            self.report(ev.Diagnostic(
                code=codes.NO_MODULE_CALLED, severity="warning", phase=Phase.FORWARD,
                message="The script ran to its end without calling any torch module: there was "
                        "nothing to record",
                file=path, fix="Point torchlens-gui run at the script that trains or runs the "
                                "model (and check the arguments after the script's name)."))
        self._params = None
        self.emit(ev.ParamsUpdated(self._param_infos(ctx)))
        return self._ended_status()

    def report(self, diagnostic: ev.Diagnostic) -> None:
        if diagnostic.code == codes.TIMEOUT:  # a script's loop is meant to run long
            diagnostic = dataclasses.replace(
                diagnostic, fix="A training script runs until its loop ends: stop it after N "
                                "steps with --steps N, or raise the limit with --timeout.")
        super().report(diagnostic)

    @property
    def gate_pauses_at_start(self) -> bool:
        return not self.gate.free_running

    def _compile(self, path: str):
        try:
            with open(path, encoding="utf-8") as fh:
                source = fh.read()
            return compile(source, path, "exec")
        except SyntaxError as exc:
            self.report(ev.Diagnostic(
                code=codes.LOAD_ERROR, severity="error", phase=Phase.LOAD,
                message=f"Syntax error: {exc.msg}", file=path, line=exc.lineno,
                fix="Fix the syntax at the marked line; the script must be valid Python."))
        except (OSError, UnicodeDecodeError) as exc:
            self.report(ev.Diagnostic(
                code=codes.LOAD_ERROR, severity="error", phase=Phase.LOAD,
                message=f"Cannot read {path}: {exc}", file=path,
                fix="Check the path of the script."))
        raise _Abort(RunStatus.FAILED)

    def _on_exit(self, exc: SystemExit, path: str) -> None:
        code = exc.code
        if code is None or code == 0:
            return
        self.exit_code = code if isinstance(code, int) else 1
        self.report(ev.Diagnostic(
            code=codes.SCRIPT_EXIT, severity="error", phase=Phase.FORWARD,
            message=f"The script called sys.exit({code!r})",
            file=path, line=innermost_user_line(exc.__traceback__, path),
            fix="A non-zero exit status means the script reported a failure: read its output "
                "in the Log panel."))

    @staticmethod
    def _threads_since(before: set) -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()
                and t is not threading.current_thread()]

    def _wait_for_threads(self, before: set, path: str) -> None:
        """Threads the script started and left running: wait a moment, then name them."""
        deadline = time.monotonic() + THREAD_GRACE_S
        started = self._threads_since(before)
        if any(t.name == "QueueFeederThread" for t in started):  # multiprocessing queues
            _free_abandoned_loaders()
            started = self._threads_since(before)
        # A library's own threads (tqdm's monitor, a compiler's workers) are not the script's.
        started = [t for t in started if _runs_user_code(t)]
        for thread in started:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in started if t.is_alive()]
        if alive:
            # Python ends daemon threads with the process; the debugger's process goes on.
            fix = ("Daemon threads end with `python SCRIPT`, but under the debugger they keep "
                   "running: stop them (an Event they check) and join them before the script "
                   "ends.") if all(t.daemon for t in alive) else \
                "Join the threads the script starts so it ends cleanly."
            self.report(ev.Diagnostic(
                code=codes.SCRIPT_THREADS, severity="warning", phase=Phase.FORWARD,
                message=f"The script left {len(alive)} thread(s) running after it ended: "
                        + ", ".join(t.name for t in alive[:5]),
                file=path, fix=fix))


def _runs_user_code(thread: threading.Thread) -> bool:
    """Whether the thread runs code outside the libraries (its target, or its class's run):
    a thread the script itself started. Unknown (a partial, a builtin): counted."""
    target = getattr(thread, "_target", None) or getattr(thread, "function", None)  # (Timer)
    function = target if target is not None else type(thread).run
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    return code is None or is_user_file(code.co_filename, None)


def _free_abandoned_loaders() -> None:
    """A DataLoader iterator that an exception abandoned sits in a reference cycle with it,
    its worker processes and their queue threads alive: collect it now. Its shutdown waits up
    to MP_STATUS_CHECK_INTERVAL (5 s) for each worker of a failed batch to exit before
    terminating it; the script is over, so a short wait will do."""
    from torch.utils.data import _utils as data_utils

    saved = data_utils.MP_STATUS_CHECK_INTERVAL
    data_utils.MP_STATUS_CHECK_INTERVAL = min(saved, LOADER_SHUTDOWN_S)
    try:
        gc.collect()
    finally:
        data_utils.MP_STATUS_CHECK_INTERVAL = saved


@contextlib.contextmanager
def _as_main(path: str, args: list[str], main: types.ModuleType) -> Iterator[None]:
    """sys.argv, sys.path[0] and sys.modules['__main__'] as ``python SCRIPT ARGS`` sets them,
    restored afterwards."""
    saved_argv, saved_path = sys.argv, list(sys.path)
    saved_main = sys.modules.get("__main__")
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(path))
    sys.modules["__main__"] = main
    try:
        yield
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
