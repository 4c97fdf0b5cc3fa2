"""``shape-mismatch`` for ops written inside a forward: matmul, broadcasting arithmetic, cat,
view/reshape, and an embedding lookup outside nn.Embedding. The op that raised and its operand
shapes come from the op watch; the line is the user's line that called it.
"""

from __future__ import annotations

import math
import re
from typing import Optional

from . import codes
from ..usercode.context import SessionContext
from ..recording.events import Diagnostic, Phase, shape_text
from .findings import listing
from .sources import described, short_location
from .where import Where

_MATMUL = re.compile(r"shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)|must have "
                     r"same reduction dim|first two dimensions of batch2|Expected size for first")
_BROADCAST = re.compile(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) "
                        r"at non-singleton dimension (\d+)|Attempting to broadcast a dimension")
_CAT = re.compile(r"Sizes of tensors must match except in dimension (\d+)|Tensors must have "
                  r"same number of dimensions")
_VIEW = re.compile(r"shape '\[([-\d, ]*)\]' is invalid for input of size (\d+)")
_STRIDE = re.compile(r"view size is not compatible with input tensor's size and stride")
_INDEX = re.compile(r"index out of range in self")
_GENERIC = re.compile(r"\b(shape|size|sizes|dimension|dimensions)\b", re.IGNORECASE)


def _operands(where: Where) -> list[tuple[int, ...]]:
    return [t.shape for t in where.failure.tensors] if where.failure else []


def _origin_notes(ctx: SessionContext, where: Where) -> str:
    """" [4, 3] is the output of enc (Linear...)." for operands that are a module's output."""
    notes = []
    failure = where.failure
    for index, shape in enumerate(_operands(where)[:3]):
        maker = where.state.maker_of(failure.refs[index]) if failure and \
            index < len(failure.refs) else None
        if maker is not None and maker != where.module:
            notes.append(f"{shape_text(shape)} is the output of {described(ctx, maker)}")
    return (" " + "; ".join(notes) + ".") if notes else ""


def explain_op_shape(exc, text: str, phase: Phase, ctx: SessionContext, where: Where
                     ) -> Optional[Diagnostic]:
    op = where.failure.op if where.failure else "an op"
    shapes = [shape_text(s) for s in _operands(where)]
    at = short_location(where.file, where.line)
    inside = f" in {where.module}" if where.module else ""
    got = f" got {listing(shapes)}" if shapes else ""
    head = f"{op}{' at ' + at if at else ''}{inside}{got}"
    found = _explain(text, head, shapes, where)
    if found is None:
        return None
    message, fix = found
    message += _origin_notes(ctx, where)
    return Diagnostic(code=codes.SHAPE_MISMATCH, severity="error", phase=phase, message=message,
                      fix=fix, details=(("op", op), ("operands", ", ".join(shapes)),
                                        ("torch", text.splitlines()[0][:300])),
                      **where.fields())


def _explain(text: str, head: str, shapes: list[str], where: Where
             ) -> Optional[tuple[str, str]]:
    operands = _operands(where)
    if _MATMUL.search(text):
        inner = ""
        if len(operands) >= 2 and operands[0] and len(operands[1]) >= 2:
            inner = f": the left side's last dimension ({operands[0][-1]}) must equal the " \
                    f"right side's second-to-last ({operands[1][-2]})"
        elif len(operands) >= 2 and operands[0] and operands[1]:
            inner = f": the inner dimensions {operands[0][-1]} and {operands[1][0]} differ"
        return (f"{head}{inner}.",
                "Transpose the operand that is the wrong way round (k.transpose(-2, -1)) or fix "
                "the size of the layer that produced it.")
    match = _BROADCAST.search(text)
    if match:
        detail = f": sizes {match.group(1)} and {match.group(2)} at dimension " \
                 f"{match.group(3)} can neither match nor broadcast" if match.group(1) else \
                 ": the shapes cannot broadcast"
        return (f"{head}{detail}.",
                "Make the sizes equal at that dimension, or 1 where you want broadcasting "
                "(unsqueeze/view the smaller tensor).")
    match = _CAT.search(text)
    if match and match.group(1) is None:
        return (f"{head}: the tensors have different numbers of dimensions.",
                "Give them the same number of dimensions before concatenating (unsqueeze the "
                "smaller one, or expand it to the other's shape).")
    if match:
        dim = int(match.group(1))
        return (f"{head}: torch.cat along dimension {dim} needs every other dimension equal.",
                f"Make the tensors agree except in dimension {dim}, or concatenate along the "
                "dimension where they differ.")
    match = _VIEW.search(text)
    if match:
        return _explain_view(head, match, operands)
    if _STRIDE.search(text):
        return (f"{head}: view needs a contiguous tensor, and this one is a transposed or "
                "permuted view.", "Use .reshape(...) instead of .view(...), or call "
                ".contiguous() first.")
    if _INDEX.search(text):
        return (f"{head}: an index is larger than the table it looks up.",
                "Make the table as large as the largest index (+1), or fix the ids.")
    if _GENERIC.search(text) and shapes:
        return (f"{head}: {text.splitlines()[0]}",
                "Check the operand shapes at that line (step to the module and read the shape "
                "panel).")
    return None


def _explain_view(head: str, match: re.Match, operands: list[tuple[int, ...]]
                  ) -> tuple[str, str]:
    wanted = [int(d) for d in match.group(1).split(",") if d.strip()]
    size = int(match.group(2))
    wanted_size = math.prod(d for d in wanted if d != -1)
    message = f"{head}: the new shape [{', '.join(map(str, wanted))}] needs " \
              f"{'a multiple of ' if -1 in wanted else ''}{wanted_size} values but the tensor " \
              f"has {size}"
    source = operands[0] if operands else None
    if source and wanted and source[0] == wanted[0] and size % source[0] == 0:
        per_sample = size // source[0]
        message += f" ({source[0]} x {per_sample})"
        fix = f"Use x.view(x.size(0), -1) (gives [{source[0]}, {per_sample}]) and make the " \
              f"next layer take {per_sample} features."
    else:
        fix = "Use sizes whose product equals the tensor's number of values (x.numel()), or " \
              "-1 for the one to infer."
    return message + ".", fix
