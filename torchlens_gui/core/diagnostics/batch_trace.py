"""Loss-side batch and class-count problems traced back to the line that caused them.

- A view/reshape in forward that changed the batch size (``x.view(-1, 16*4*4)`` regrouping 16
  images into 25 rows): the loss sees a batch mismatch, the cause is the view line.
- An RNN built with ``batch_first=False`` and fed ``[batch, seq, features]``: its input's dim 0
  is the labels' batch size and dim 1 is not. Reported as ``rnn-batch-first`` (warning) when it
  runs silently, and named in the fix of a batch mismatch it causes.
- One-hot or probability targets over another number of classes than the output: a
  ``loss-shape-mismatch`` naming both counts and the line that built the target.

The op watch records batch-changing reshapes (:class:`ReshapeRecord`) as they run; the checks
here run inside the loss checks, just before torch runs the loss.
"""

from __future__ import annotations

import ast
import math
import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from ..recording.events import Diagnostic, Phase, shape_text
from . import codes
from ..usercode.context import SessionContext

from .sources import _parsed_file, change_fix, described, short_location

RESHAPES = frozenset({torch.Tensor.view, torch.Tensor.reshape, torch.reshape})


@dataclass(frozen=True)
class ReshapeRecord:
    """A view/reshape whose output's dim 0 differs from its input's (the batch changed)."""

    op: str
    before: tuple[int, ...]
    after: tuple[int, ...]
    module: Optional[str]
    file: Optional[str]
    line: Optional[int]


def batch_change_cause(ctx: SessionContext, reshapes: list[ReshapeRecord], output_batch: int,
                       target_batch: int, consumer: Optional[str], where: dict
                       ) -> Optional[Diagnostic]:
    """The view that turned the labels' batch into the output's, as a loss-shape-mismatch at
    the view's line; else an RNN reading the batch as time steps; else None."""
    for record in reshapes:
        if record.before[0] != target_batch or record.after[0] != output_batch:
            continue
        features = math.prod(record.before[1:])
        at = short_location(record.file, record.line)
        layer = ctx.module_at(consumer)
        width = ""
        if isinstance(layer, nn.Linear) and layer.in_features != features:
            width = f", and {change_fix(ctx, consumer, layer, 0, 'in_features', features)} " \
                    f"({' x '.join(map(str, record.before[1:]))} = {features} features per " \
                    "sample)"
        return Diagnostic(
            code=codes.LOSS_SHAPE_MISMATCH, severity="error", phase=where["phase"],
            message=f"{record.op} at {at or 'a line in forward'} turned "
                    f"{shape_text(record.before)} (batch {target_batch}) into "
                    f"{shape_text(record.after)}: the -1 regrouped the values into "
                    f"{output_batch} rows, so the loss got {output_batch} outputs for "
                    f"{target_batch} labels. The flattened size does not match the features "
                    "per sample.",
            module=record.module, file=record.file, line=record.line,
            fix=f"Keep the batch dimension at {at or 'that line'}: x = x.flatten(1) (or "
                f"x.view(x.size(0), -1)){width}.",
            details=(("before", shape_text(record.before)), ("after", shape_text(record.after))))
    rnn = _seq_first_rnn(ctx, target_batch)
    if rnn is not None:
        path, shape = rnn
        return Diagnostic(
            code=codes.LOSS_SHAPE_MISMATCH, severity="error", phase=where["phase"],
            message=f"The loss got {output_batch} outputs for {target_batch} labels: "
                    f"{_rnn_story(ctx, path, shape)}",
            module=path, **_site(ctx, path), fix=_batch_first_fix(ctx, path))
    return None


def rnn_batch_first(ctx: SessionContext, target_batch: int) -> list[Diagnostic]:
    """``rnn-batch-first``: a silent run of an RNN reading the batch as time steps."""
    rnn = _seq_first_rnn(ctx, target_batch)
    if rnn is None:
        return []
    path, shape = rnn
    return [Diagnostic(
        code=codes.RNN_BATCH_FIRST, severity="warning", phase=Phase.LOSS,
        message=f"{_rnn_story(ctx, path, shape)} It runs without an error, but each step mixes "
                "different samples and the result is meaningless.",
        module=path, **_site(ctx, path), fix=_batch_first_fix(ctx, path))]


def _seq_first_rnn(ctx: SessionContext, batch: int) -> Optional[tuple[str, tuple[int, ...]]]:
    """(path, input shape) of the first RNN with batch_first=False whose input has the labels'
    batch size in dim 0 and not in dim 1."""
    for path, module in ctx.modules.items():
        if not isinstance(module, nn.RNNBase) or module.batch_first:
            continue
        calls = ctx.record.calls_of(path)
        if not calls or not calls[0].inputs or not calls[0].inputs[0].is_tensor:
            continue
        shape = tuple(calls[0].inputs[0].shape or ())
        if len(shape) == 3 and shape[0] == batch and shape[1] != batch:
            return path, shape
    return None


def _rnn_story(ctx: SessionContext, path: str, shape: tuple[int, ...],
               evidence: str = "the labels") -> str:
    return (f"{described(ctx, path)} has batch_first=False, so it reads its input "
            f"{shape_text(shape)} as [seq, batch, features]: {shape[1]} sequences of "
            f"{shape[0]} steps, while {evidence} say the batch is {shape[0]}.")


def _batch_first_fix(ctx: SessionContext, path: str) -> str:
    module = ctx.module_at(path)
    site = ctx.site_of(path)
    name = f"nn.{type(module).__name__}(..., batch_first=True)"
    return (f"Build it with {name}" + (f" at {site.short()}" if site else "") + " (or pass "
            "x.transpose(0, 1)); an initial hidden state stays [layers, batch, hidden].")


def _site(ctx: SessionContext, path: str) -> dict:
    site = ctx.site_of(path)
    return dict(file=site.file if site else ctx.user_file, line=site.line if site else None)


def class_count_mismatch(name: str, output: torch.Tensor, target: torch.Tensor, where: dict
                         ) -> Optional[Diagnostic]:
    """Probability (or one-hot) targets over another number of classes than the output."""
    if output.dim() < 2 or target.shape[0] != output.shape[0] or \
            target.dim() != output.dim() or target.shape[1] == output.shape[1]:
        return None
    classes, given = int(output.shape[1]), int(target.shape[1])
    file, line = target_line(where.get("file"), where.get("line")) or (where.get("file"),
                                                                        where.get("line"))
    at = short_location(file, line)
    return Diagnostic(
        code=codes.LOSS_SHAPE_MISMATCH, severity="error", phase=where["phase"],
        message=f"{name} got class probabilities (one-hot) over {given} classes as target "
                f"{shape_text(target.shape)}, but the output {shape_text(output.shape)} has "
                f"{classes} classes" + (f"; the target is built at {at}" if at else "") + ".",
        module=where.get("module"), call_index=where.get("call_index"), file=file, line=line,
        fix=f"Build the target over {classes} classes (F.one_hot(labels, num_classes="
            f"{classes})), or give the output layer {given} outputs if there are {given} "
            "classes; class-index targets (labels of shape [N]) need no one-hot at all.",
        details=(("output classes", str(classes)), ("target classes", str(given))))


def target_line(file: Optional[str], line: Optional[int]) -> Optional[tuple[str, int]]:
    """Where the loss call at ``file:line`` got its target: the last assignment, before that
    line in the same function, of the name passed as the call's second argument."""
    if not file or not line or not os.path.exists(file):
        return None
    tree = _parsed_file(file, os.path.getmtime(file))
    if tree is None:
        return None
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                             ast.AsyncFunctionDef))
                 and n.lineno <= line <= (n.end_lineno or n.lineno)]
    if not functions:
        return None
    scope = min(functions, key=lambda n: (n.end_lineno or n.lineno) - n.lineno)
    names = [call.args[1].id for call in ast.walk(scope) if isinstance(call, ast.Call)
             and call.lineno == line and len(call.args) >= 2 and isinstance(call.args[1], ast.Name)]
    if not names:
        return None
    assigned = [node.lineno for node in ast.walk(scope) if isinstance(node, ast.Assign)
                and node.lineno < line and any(isinstance(t, ast.Name) and t.id == names[0]
                                               for t in node.targets)]
    return (file, max(assigned)) if assigned else None
