"""Which module made which tensor: noted for every module output, read when an op fails later
(a shape or label error names the layer that produced the bad tensor). Reports nothing itself.
"""

from __future__ import annotations

from typing import Any

from ..recording.events import TensorSummary
from ..usercode.context import ActiveCall, SessionContext
from .rule import Rule


class ProducerNotes(Rule):
    name = "producers"

    def on_module_output(self, ctx: SessionContext, call: ActiveCall, args: tuple, kwargs: dict,
                         output: Any, inputs: tuple[TensorSummary, ...],
                         outputs: tuple[TensorSummary, ...]) -> tuple:
        self.state.note_outputs(call.path, output)
        return ()
