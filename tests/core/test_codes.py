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
from torchlens_gui.core.recording.events import CallStatus, PauseKind, PauseReason, Phase, RunStatus

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


def package_trees():
    """(path relative to the package, parsed module) for every Python file of the package."""
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as fh:
                    yield os.path.relpath(path, PACKAGE), ast.parse(fh.read(), path)


def test_the_readme_table_lists_every_code_with_its_severities():
    assert readme_table() == {code: info.severities for code, info in CODES.items()}


def test_codes_are_named_only_through_the_table():
    """``code="..."`` literals anywhere in the package would bypass the table."""
    offenders = []
    for path, tree in package_trees():
        if path == os.path.join("core", "diagnostics", "codes.py"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "code" and \
                    isinstance(node.value, ast.Constant):
                offenders.append(f"{path}:{node.value.lineno}")
    assert offenders == []


def test_phases_are_named_only_through_the_phase_enum():
    """``phase="..."`` literals would bring back a second spelling of a phase."""
    offenders = []
    for path, tree in package_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "phase" and \
                    isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                offenders.append(f"{path}:{node.value.lineno}")
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
                                     codes.COMPILED_MODEL, *codes.STEP_CODES, *codes.OUTCOME_CODES}


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


# ---- the run's vocabularies: end statuses, call statuses, pause kinds and reasons --------------

VOCABULARIES = (RunStatus, CallStatus, PauseKind, PauseReason)
VOCABULARY_WORDS = {member.value for vocabulary in VOCABULARIES for member in vocabulary}
# Names a vocabulary word is given to or compared with ...
VOCABULARY_FIELDS = {"status", "ended_as", "kind", "reason"}
# ... functions and events that take one as an argument ...
VOCABULARY_CARRIERS = {"SessionEnded", "_Abort", "_end", "_end_record", "PauseLocation",
                       "should_pause", "checkpoint", "problem_pause_wanted", "histogram_wanted"}


def _name(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else \
        node.attr if isinstance(node, ast.Attribute) else ""


def _is_field(node: ast.AST) -> bool:
    """``status``, ``call.status``, ``self._stop_status``, ``PROBLEM_REASONS``..."""
    name = _name(node).lower()
    return any(field in name for field in VOCABULARY_FIELDS)


def _words(node: ast.AST) -> list[ast.Constant]:
    """The vocabulary words spelled as literals in ``node`` (a constant, a tuple/list/set of
    them, or either branch of ``a if c else b``)."""
    if isinstance(node, ast.Constant):
        return [node] if isinstance(node.value, str) and node.value in VOCABULARY_WORDS else []
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [c for item in node.elts for c in _words(item)]
    if isinstance(node, ast.IfExp):
        return _words(node.body) + _words(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [c for value in node.values for c in _words(value)]
    return []


def vocabulary_literals(tree: ast.AST) -> list[ast.Constant]:
    """Literal vocabulary words where a status, pause kind or pause reason goes: a keyword,
    comparison or assignment of a name holding one of VOCABULARY_FIELDS, an argument of
    VOCABULARY_CARRIERS, a value returned by a function typed to return a vocabulary, or the
    keys of a table keyed by them (two words or more). Other vocabularies that share a word
    (html_color("ok"), a tensor role "grad", a severity "error") are left alone."""
    enum_names = {v.__name__ for v in VOCABULARIES}
    found: list[ast.Constant] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in VOCABULARY_FIELDS:
            found += _words(node.value)
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_field(o) for o in operands):
                found += [c for o in operands for c in _words(o)]
        elif isinstance(node, ast.Call) and _name(node.func) in VOCABULARY_CARRIERS:
            found += [c for arg in node.args for c in _words(arg)]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    found += [c for t, v in zip(target.elts, node.value.elts) if _is_field(t)
                              for c in _words(v)]
                elif _is_field(target):
                    found += _words(node.value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns and \
                any(name in ast.unparse(node.returns) for name in enum_names):
            found += [c for ret in ast.walk(node) if isinstance(ret, ast.Return) and ret.value
                      for c in _words(ret.value)]
        elif isinstance(node, ast.Dict):
            keys = [c for key in node.keys if key is not None for c in _words(key)]
            if len(keys) >= 2 and len(keys) == len(node.keys):  # keyed by them, not a record
                found += keys                                  # with a "step" and a "loss"
    return found


def test_vocabulary_literals_are_found_where_a_status_or_pause_word_goes():
    """The scan below finds each way a literal could come back (and leaves other words be)."""
    source = '''
def ended(record) -> RunStatus:
    return "problems" if record.nodes else "ok"
SessionEnded("failed", 0.0)
gate.should_pause(Phase.FORWARD, "enter", "", 0)
PauseLocation(Phase.FORWARD, kind="exit", path="", call_index=0, depth=0, reason="run-to")
if call.status == "running" or location.reason in ("non-finite", "exception"):
    status = "stopped"
call.elapsed_s, call.status = 0.5, "done"
PROBLEM_REASONS = ("non-finite", "exception")
ENDED_TEXT = {"ok": "Finished", "failed": "Failed"}
html_color("ok"); {"ok": 1, "bad": 2}; TensorSummary(kind="value")
'''
    found = sorted((c.lineno, c.col_offset, c.value) for c in vocabulary_literals(ast.parse(source)))
    assert [value for _, _, value in found] == [
        "problems", "ok", "failed", "enter", "exit", "run-to", "running", "non-finite",
        "exception", "stopped", "done", "non-finite", "exception", "ok", "failed"]


def test_statuses_and_pause_words_are_named_only_through_their_enums():
    """A literal "ok", "failed", "enter" or "breakpoint" where a run status, call status, pause
    kind or pause reason goes would bring back a spelling the enums do not own."""
    offenders = [f"{path}:{c.lineno} {c.value!r}"
                 for path, tree in package_trees() for c in vocabulary_literals(tree)]
    assert offenders == []


def test_the_vocabularies_serialise_as_the_public_strings():
    """Members are their strings: ``check --json`` and comparisons with plain strings keep
    working byte for byte."""
    import json

    assert json.dumps({"status": RunStatus.PROBLEMS, RunStatus.OK: PauseReason.RUN_TO}) == \
        '{"status": "problems", "ok": "run-to"}'
    assert [s.value for s in RunStatus] == ["ok", "problems", "failed", "stopped"]
    assert f"{RunStatus.STOPPED} {PauseKind.EXIT}" == "stopped exit" == \
        " ".join([str(RunStatus.STOPPED), str(PauseKind.EXIT)])
    assert RunStatus("failed") is RunStatus.FAILED and CallStatus.DONE == "done"
    assert {RunStatus.OK: 0}["ok"] == 0  # tables keyed by members answer plain strings
    assert [s.phase for s in RunStatus] == [Phase.DONE, Phase.DONE, Phase.FAILED, Phase.STOPPED]
