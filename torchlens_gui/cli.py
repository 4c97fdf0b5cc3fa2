"""Command line: `torchlens-gui [FILE]` opens the app, `torchlens-gui check FILE` runs headless."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence, TextIO

from . import __version__


def _check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchlens-gui check",
        description="Run a model file's forward, loss and backward under the debugger without a "
                    "window and print what every module did and every problem found. "
                    "Exit status: 0 clean, 1 problems found, 2 could not load or build.")
    parser.add_argument("file", help="model file (defines build_model() and example_inputs())")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    parser.add_argument("--full", action="store_true",
                        help="with --json: every histogram even for a model of more than "
                             "2,000 modules (whose report is compact by default)")
    parser.add_argument("--dry-run", action="store_true",
                        help="build and run on the meta device: shapes and dtypes only, no "
                             "memory or compute (values, NaNs and gradients are not seen)")
    parser.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                        help="stop a run that takes longer than this (default 600; 0: no limit)")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="run N training steps (forward, loss, backward, optimizer step, "
                             "zero_grad) cycling through batches() or example_inputs()")
    add_output_options(parser)
    return parser


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchlens-gui run",
        description="Run an unmodified training script as __main__ under the debugger "
                    "(like `python SCRIPT ARGS...`). Everything after SCRIPT belongs to the "
                    "script. Exit status with --headless: 0 clean, 1 problems found, 2 could "
                    "not start.")
    parser.add_argument("--headless", action="store_true",
                        help="no window: print the report (as `check` does) when it ends")
    parser.add_argument("--json", action="store_true", help="with --headless: one JSON object")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="stop the script cleanly after N training steps")
    parser.add_argument("--timeout", type=float, default=0.0, metavar="SECONDS",
                        help="stop a script that runs longer than this (default: no limit)")
    parser.add_argument("--run", action="store_true",
                        help="window: run right away instead of pausing before the first step")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="window: save it to PNG when the run stops (a break or the end), "
                             "then exit")
    parser.add_argument("script", help="the training script")
    add_output_options(parser)
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    return parser


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """--save/--html and the tensor options (check; run --headless adds the same)."""
    group = parser.add_argument_group("keeping and sharing the run")
    group.add_argument("--save", metavar="SNAPSHOT",
                       help="write a snapshot of the run (open it with `torchlens-gui SNAPSHOT`)")
    group.add_argument("--save-tensors", action="store_true",
                       help="with --save: also keep the actual input/output/gradient tensors of "
                            "calls with problems and of pinned modules")
    group.add_argument("--tensor-limit", type=float, default=256.0, metavar="MB",
                       help="with --save-tensors: at most this many MB of tensors (default 256)")
    group.add_argument("--pin", action="append", default=[], metavar="MODULE",
                       help="with --save-tensors: keep this module's tensors too (dotted path, "
                            "repeatable)")
    group.add_argument("--html", metavar="REPORT.html",
                       help="write a self-contained HTML report of the run (summary, "
                            "diagnostics with source, module table, charts)")


def tensor_keeper(args: argparse.Namespace):
    """The TensorKeeper the options ask for, or None."""
    if not args.save_tensors:
        return None
    from .core.engine.tensor_keeper import TensorKeeper

    return TensorKeeper(pinned=args.pin, max_bytes=int(max(args.tensor_limit, 0) * 2**20))


def write_outputs(args: argparse.Namespace, record, keeper, err) -> bool:
    """Write the --save and --html files; False (and the reason on ``err``) when one cannot
    be written."""
    ok = True
    if args.save:
        from .core.recording.snapshot import save_snapshot

        try:
            size = save_snapshot(record, args.save, tensors=keeper is not None,
                                 tensors_skipped=keeper.skipped if keeper else 0)
            err.write(f"snapshot saved to {args.save} ({size / 1024:.1f} KiB"
                      + (f", {len(record.tensors)} tensors" if keeper else "") + ")\n")
            if keeper is not None and keeper.skipped:
                err.write(f"  {keeper.skipped} tensors left out: over --tensor-limit\n")
        except OSError as exc:
            err.write(f"torchlens-gui: cannot write snapshot {args.save}: "
                      f"{exc.strerror or exc}\n")
            ok = False
    if getattr(args, "html", None):
        from .core.recording.html_report import write_html_report

        try:
            write_html_report(record, args.html)
            err.write(f"report written to {args.html}\n")
        except OSError as exc:
            err.write(f"torchlens-gui: cannot write report {args.html}: {exc.strerror or exc}\n")
            ok = False
    return ok


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchlens-gui",
        description="Step-through debugger for PyTorch models. "
                    "`torchlens-gui check FILE` runs the same engine headless.")
    parser.add_argument("file", nargs="?",
                        help="model file to open, or a snapshot (opened read-only)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--run", action="store_true",
                        help="run to the end (or the first break) right after loading")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="with --run (or a snapshot): save the window to PNG when the run "
                             "stops (the snapshot is shown), then exit")
    parser.add_argument("--version", action="version", version=f"torchlens-gui {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation without a screen: open the window "
                             "offscreen, debug the bundled NaN example, print one line "
                             "(versions, device, result, seconds); exit 0 when it passed")
    return parser


def _log_writer(err):
    """A session listener that writes what the user's code printed to ``err``."""
    from .core.recording.events import LogWritten

    def listener(event) -> None:
        if isinstance(event, LogWritten):
            err.write(event.text)

    return listener


def run_check(argv: Sequence[str]) -> int:
    args = _check_parser().parse_args(argv)
    from .core.engine.session import Session
    from .core.engine.watchdog import run_with_timeout

    # --json owns file descriptor 1: from here on, whatever else writes to stdout (the model's
    # other threads, C code, subprocesses it starts) lands on stderr.
    out = claim_stdout() if args.json else sys.stdout
    err = sys.stderr  # the real stream: the session redirects sys.stderr while it runs
    listener = _log_writer(err)
    keeper = tensor_keeper(args)
    options = dict(device=args.device, listener=listener, values=True, histograms=True,
                   dry_run=args.dry_run, tensor_keeper=keeper)
    if args.steps is not None:
        if args.steps < 1:
            _check_parser().error("--steps needs a number of steps >= 1")
        from .core.engine.training_session import TrainingSession

        session = TrainingSession(args.file, steps=args.steps, **options)
    else:
        session = Session(args.file, **options)
    record = run_with_timeout(session, args.timeout)
    return _print_report(record, args, keeper, err, out)


def _print_report(record, args: argparse.Namespace, keeper, err, out: TextIO) -> int:
    """Print the report (text or --json) to ``out``, write --save/--html; the exit status."""
    from .core.recording.report import exit_code, to_json_text, to_text

    # The header says what ran: "run --steps 3: train.py --lr 0.1", "check: model.py".
    command = ("run" if hasattr(args, "script") else "check") + (
        f" --steps {args.steps}" if getattr(args, "steps", None) else "")
    ran = (command, getattr(args, "args", ()))
    text = to_json_text(record, full=getattr(args, "full", False)) if args.json \
        else to_text(record, *ran)
    out.write(text + "\n")
    out.flush()
    if out is not sys.stdout and out is not sys.__stdout__:
        out.close()
    if not write_outputs(args, record, keeper, err):
        return 2
    return exit_code(record)


def claim_stdout() -> TextIO:
    """Keep file descriptor 1 for the caller alone: return a stream on a duplicate of it and
    point fd 1 (and sys.stdout) at stderr, so no other writer can reach the real stdout."""
    try:
        if sys.stdout.fileno() != 1:
            return sys.stdout
    except (AttributeError, OSError, ValueError):  # replaced by the embedding code (tests)
        return sys.stdout
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(saved, "w", encoding="utf-8")


def run_script(argv: Sequence[str]) -> int:
    """`torchlens-gui run [OPTIONS] SCRIPT [ARGS...]`."""
    args = _run_parser().parse_args(argv)
    if args.steps is not None and args.steps < 1:
        _run_parser().error("--steps needs a number of steps >= 1")
    if not args.headless:
        from .gui.app import run_app

        return run_app(file=args.script, script_args=args.args, steps=args.steps, run=args.run,
                       screenshot=args.screenshot)
    from .core.engine.script_session import ScriptSession
    from .core.engine.watchdog import run_with_timeout

    out = claim_stdout() if args.json else sys.stdout
    err = sys.stderr  # the script's prints go to stderr: stdout carries the report
    listener = _log_writer(err)
    keeper = tensor_keeper(args)
    session = ScriptSession(args.script, args.args, max_steps=args.steps, listener=listener,
                            values=True, histograms=True, tensor_keeper=keeper)
    record = run_with_timeout(session, args.timeout)
    return _print_report(record, args, keeper, err, out)


def _is_snapshot(path: Optional[str]) -> bool:
    from .core.recording.snapshot import looks_like_snapshot

    return bool(path) and looks_like_snapshot(path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `torchlens-gui` console script and `python -m torchlens_gui`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check":
        return run_check(argv[1:])
    if argv and argv[0] == "run":
        return run_script(argv[1:])
    args = _app_parser().parse_args(argv)
    if args.self_test:
        from .gui.self_test import run_self_test

        return run_self_test(device=args.device)
    if args.screenshot and not args.run and not _is_snapshot(args.file):
        _app_parser().error("--screenshot needs --run (or a snapshot file)")
    from .gui.app import run_app

    return run_app(file=args.file, device=args.device, run=args.run, screenshot=args.screenshot)
