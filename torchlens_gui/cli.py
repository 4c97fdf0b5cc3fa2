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
    parser.add_argument("--dry-run", action="store_true",
                        help="build and run on the meta device: shapes and dtypes only, no "
                             "memory or compute (values, NaNs and gradients are not seen)")
    parser.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                        help="stop a run that takes longer than this (default 600; 0: no limit)")
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
    from .core.recording.report import exit_code, to_json_text, to_text
    from .core.engine.session import Session
    from .core.engine.watchdog import run_with_timeout

    # --json owns file descriptor 1: from here on, whatever else writes to stdout (the model's
    # other threads, C code, subprocesses it starts) lands on stderr.
    out = claim_stdout() if args.json else sys.stdout
    err = sys.stderr  # the real stream: the session redirects sys.stderr while it runs

    def listener(event) -> None:
        from .core.recording.events import LogWritten

        if isinstance(event, LogWritten):
            err.write(event.text)

    session = Session(args.file, device=args.device, listener=listener, values=True,
                      histograms=True, dry_run=args.dry_run)
    record = run_with_timeout(session, args.timeout)
    if args.json:
        out.write(to_json_text(record) + "\n")
    else:
        out.write(to_text(record) + "\n")
    out.flush()
    if out is not sys.stdout and out is not sys.__stdout__:
        out.close()
    return exit_code(record)


def claim_stdout() -> TextIO:
    """Keep file descriptor 1 for the caller alone: return a stream on a duplicate of it and
    point fd 1 (and sys.stdout) at stderr, so no other writer can reach the real stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(saved, "w", encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `torchlens-gui` console script and `python -m torchlens_gui`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check":
        return run_check(argv[1:])
    args = _app_parser().parse_args(argv)
    if args.screenshot and not args.run:
        _app_parser().error("--screenshot needs --run")
    from .gui.app import run_app

    return run_app(file=args.file, device=args.device, run=args.run, screenshot=args.screenshot)
