"""Helpers shared by the tests: locate case files and the lines their marker comments tag."""

from __future__ import annotations

import os
from typing import Any

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")


def case_path(name: str) -> str:
    """Absolute path of tests/cases/<name>(.py)."""
    if not name.endswith(".py"):
        name += ".py"
    return os.path.join(CASES, name)


def marker_line(path: str, marker: str) -> int:
    """The line number carrying the comment ``# <- marker`` (so tests survive edits above it)."""
    tag = f"# <- {marker}"
    with open(path, encoding="utf-8") as fh:
        for number, text in enumerate(fh, 1):
            if text.rstrip().endswith(tag):
                return number
    raise AssertionError(f"no '{tag}' in {path}")


def run_case(name: str, **session_kwargs: Any) -> dict:
    """Run a case file headless and return the `check --json` object."""
    from torchlens_gui.core.recording.report import to_json
    from torchlens_gui.core.engine.session import Session

    from torchlens_gui.core.diagnostics.codes import CODES

    session_kwargs.setdefault("device", "cpu")
    session_kwargs.setdefault("histograms", True)
    report = to_json(Session(case_path(name), **session_kwargs).run())
    for d in report["diagnostics"]:  # every finding of every case keeps to the codes table
        assert d["severity"] in CODES[d["code"]].severities, (d["code"], d["severity"])
    return report


def module_entry(report: dict, path: str) -> dict:
    for module in report["modules"]:
        if module["path"] == path:
            return module
    raise AssertionError(f"module {path!r} not in report: {[m['path'] for m in report['modules']]}")
