"""One table of diagnostic codes (core/diagnostics/codes.py): the README agrees with it, every
rule names its codes from it, and no code is spelled as a string literal elsewhere."""

from __future__ import annotations

import ast
import os
import re

import torchlens_gui
from torchlens_gui.core.diagnostics import Diagnostician, codes, default_diagnostician
from torchlens_gui.core.diagnostics.codes import CODES
from torchlens_gui.core.diagnostics.rule import EVENTS, Rule
from torchlens_gui.core.diagnostics.rules import RULES

from case_tools import case_path

PACKAGE = os.path.dirname(torchlens_gui.__file__)
README = os.path.join(os.path.dirname(PACKAGE), "README.md")


def readme_table() -> dict[str, tuple[str, ...]]:
    """code -> severities, from the README's Diagnostics table."""
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    section = text.split("## Diagnostics", 1)[1].split("\n## ", 1)[0]
    table: dict[str, tuple[str, ...]] = {}
    for row in section.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        for code in re.findall(r"`([a-z-]+)`", cells[0]):
            table[code] = tuple(cells[1].split("/"))
    return table


def test_the_readme_table_lists_every_code_with_its_severities():
    assert readme_table() == {code: info.severities for code, info in CODES.items()}


def test_codes_are_named_only_through_the_table():
    """``code="..."`` literals anywhere in the package would bypass the table."""
    offenders = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            path = os.path.join(folder, name)
            if not name.endswith(".py") or path.endswith(os.path.join("diagnostics", "codes.py")):
                continue
            with open(path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.keyword) and node.arg == "code" and \
                        isinstance(node.value, ast.Constant):
                    offenders.append(f"{os.path.relpath(path, PACKAGE)}:{node.value.lineno}")
    assert offenders == []


def test_phases_are_named_only_through_the_phase_enum():
    """``phase="..."`` literals would bring back a second spelling of a phase."""
    offenders = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.keyword) and node.arg == "phase" and \
                        isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    offenders.append(f"{os.path.relpath(path, PACKAGE)}:{node.value.lineno}")
    assert offenders == []


def test_every_rule_reports_codes_of_the_table_and_takes_part_in_some_event():
    for rule in RULES:
        assert set(rule.reports) <= set(CODES), rule.__name__
        assert rule.events(), rule.__name__
        assert rule.name != Rule.name, rule.__name__
    reported = {code for rule in RULES for code in rule.reports}
    # the rest are reported by the session and the watchdog (run_failures.py)
    assert set(CODES) == reported | {codes.LOAD_ERROR, codes.CREATION_ERROR,
                                     codes.DEVICE_UNAVAILABLE, codes.OUT_OF_MEMORY, codes.TIMEOUT,
                                     codes.COMPILED_MODEL, *codes.STEP_CODES}


def test_a_rule_is_called_only_for_the_events_it_overrides():
    calls = []

    class AfterForwardOnly(Rule):
        name = "probe"
        reports = (codes.RUNTIME_ERROR,)

        def after_forward(self, ctx):
            calls.append("after_forward")
            return ()

    assert AfterForwardOnly.events() == ("after_forward",)
    diagnostician = Diagnostician([AfterForwardOnly(None)])
    assert [event for event in EVENTS if diagnostician._taking_part[event]] == ["after_forward"]


def test_a_new_rule_is_one_class_and_one_entry(monkeypatch):
    """A rule added to the list takes part in a real run; one that raises is skipped, noted
    once, and the run and the other rules go on."""
    from torchlens_gui.core.engine.session import Session
    from torchlens_gui.core.diagnostics.op_watch import WatchState
    from torchlens_gui.core.recording.events import Diagnostic

    class CountCalls(Rule):
        name = "counter"
        reports = (codes.RUNTIME_ERROR,)
        outputs = 0

        def on_module_output(self, ctx, call, args, kwargs, output, inputs, outputs):
            CountCalls.outputs += 1
            return ()

        def after_backward(self, ctx):
            return [Diagnostic(code=codes.RUNTIME_ERROR, severity="info", phase="backward",
                               message=f"{CountCalls.outputs} module outputs")]

    class Broken(Rule):
        name = "broken"

        def after_forward(self, ctx):
            raise ValueError("rule bug")

    state = WatchState()
    diagnostician = Diagnostician([rule(state) for rule in RULES + (CountCalls, Broken)])
    record = Session(case_path("diag_nan_div"), device="cpu",
                     diagnostician=diagnostician).run()
    found = [(d.code, d.message) for d in record.diagnostics]
    module_calls = len(record.calls)
    assert ("runtime-error", f"{module_calls} module outputs") in found
    assert found[0][0] == "non-finite"  # the registered rules still ran
    assert diagnostician.broken == ["broken"]


def test_the_default_diagnostician_runs_every_registered_rule_once():
    diagnostician = default_diagnostician()
    assert [type(rule) for rule in diagnostician.rules] == list(RULES)
    states = {id(rule.state) for rule in diagnostician.rules}
    assert len(states) == 1  # one shared watch state per session
