"""Command line: `torchlens-gui [FILE]` opens the app, `torchlens-gui check FILE` runs headless."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

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
    parser.add_argument("--dry-run", action="store_true",
                        help="build and run on the meta device: shapes and dtypes only, no "
                             "memory or compute (values, NaNs and gradients are not seen)")
    parser.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                        help="stop a run that takes longer than this (default 600; 0: no limit)")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="run N training steps (forward, loss, backward, optimizer step, "
                             "zero_grad) cycling through batches() or example_inputs()")
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
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    return parser


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchlens-gui",
        description="Step-through debugger for PyTorch models. "
                    "`torchlens-gui check FILE` runs the same engine headless.")
    parser.add_argument("file", nargs="?", help="model file to open")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--run", action="store_true",
                        help="run to the end (or the first break) right after loading")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="with --run: save the window to PNG when the run stops, then exit")
    parser.add_argument("--version", action="version", version=f"torchlens-gui {__version__}")
    return parser


def run_check(argv: Sequence[str]) -> int:
    args = _check_parser().parse_args(argv)
    from .core.engine.session import Session
    from .core.engine.watchdog import run_with_timeout

    err = sys.stderr  # the real stream: the session redirects sys.stderr while it runs

    def listener(event) -> None:
        from .core.recording.events import LogWritten

        if isinstance(event, LogWritten):
            err.write(event.text)

    if args.steps is not None:
        if args.steps < 1:
            _check_parser().error("--steps needs a number of steps >= 1")
        from .core.engine.training_session import TrainingSession

        session = TrainingSession(args.file, steps=args.steps, device=args.device,
                                  listener=listener, values=True, histograms=True,
                                  dry_run=args.dry_run)
    else:
        session = Session(args.file, device=args.device, listener=listener, values=True,
                          histograms=True, dry_run=args.dry_run)
    record = run_with_timeout(session, args.timeout)
    return _print_report(record, args.json)


def _print_report(record, as_json: bool) -> int:
    from .core.recording.report import exit_code, to_json, to_text

    if as_json:
        sys.stdout.write(json.dumps(to_json(record), allow_nan=False) + "\n")
    else:
        sys.stdout.write(to_text(record) + "\n")
    sys.stdout.flush()
    return exit_code(record)


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
    from .core.recording.events import LogWritten

    err = sys.stderr  # the script's prints go to stderr: stdout carries the report

    def listener(event) -> None:
        if isinstance(event, LogWritten):
            err.write(event.text)

    session = ScriptSession(args.script, args.args, max_steps=args.steps, listener=listener,
                            values=True, histograms=True)
    record = run_with_timeout(session, args.timeout)
    return _print_report(record, args.json)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `torchlens-gui` console script and `python -m torchlens_gui`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check":
        return run_check(argv[1:])
    if argv and argv[0] == "run":
        return run_script(argv[1:])
    args = _app_parser().parse_args(argv)
    if args.screenshot and not args.run:
        _app_parser().error("--screenshot needs --run")
    from .gui.app import run_app

    return run_app(file=args.file, device=args.device, run=args.run, screenshot=args.screenshot)
