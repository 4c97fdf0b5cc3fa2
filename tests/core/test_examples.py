"""Every bundled example shows the problem its docstring names, and the healthy ones none."""

from __future__ import annotations

import os

import pytest

from torchlens_gui.core.engine.gate import StepGate
from torchlens_gui.core.engine.session import Session

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "resources", "examples")

# file -> (code, module) of the first error or warning it must produce (None: healthy).
EXPECTED = {
    "mlp_nan.py": ("non-finite", "norm"),
    "nan_backward.py": ("non-finite", "distance"),
    "shape_mismatch.py": ("shape-mismatch", "4"),
    "dtype_mismatch.py": ("dtype-mismatch", "0"),
    "deep_sigmoid.py": ("vanishing-gradient", "0"),
    "exploding_gradient.py": ("exploding-gradient", "24"),
    "inplace_modification.py": ("inplace-modification", "1"),
    "label_out_of_range.py": ("label-out-of-range", None),
    "loss_broadcast.py": ("loss-shape-mismatch", None),
    "softmax_cross_entropy.py": ("softmax-before-cross-entropy", "3"),
    "unregistered_module.py": ("unregistered-module", "blocks[0]"),
    "healthy_cnn.py": None,
    "healthy_transformer.py": None,
}
# Training scripts, run with `torchlens-gui run` (checked in test_script_mode.py).
SCRIPTS = {"diverging_training.py"}


def test_every_example_is_listed_here():
    assert sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py")) == sorted(
        set(EXPECTED) | SCRIPTS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_shows_its_problem(name):
    gate = StepGate(pause_at_start=False, break_on_problems=False)
    record = Session(os.path.join(EXAMPLES, name), gate=gate).run()
    problems = [(d.code, d.module) for d in record.diagnostics
                if d.severity in ("error", "warning")]
    if EXPECTED[name] is None:
        assert record.status == "ok" and problems == []
    else:
        assert problems[:1] == [EXPECTED[name]]
