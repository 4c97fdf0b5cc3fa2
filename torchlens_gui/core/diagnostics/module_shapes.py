"""``shape-mismatch`` for the layers whose sizes are fixed at construction: Linear, ConvNd,
Embedding, LayerNorm, BatchNorm.

Each explainer compares what the layer was built for with the input it got, names the module
that produced that input, and writes the fix as the user's own constructor with the right
number ("change nn.Linear(30, 10) at model.py:14 to nn.Linear(20, 10)").
"""

from __future__ import annotations

import math
from typing import Optional

import torch.nn as nn

from . import codes
from ..usercode.context import SessionContext
from ..recording.events import CallStatus, Diagnostic, TensorSummary, shape_text
from ..recording.record import CallRecord
from .findings import number, sentence
from .sources import change_fix, described


def find_producer(ctx: SessionContext, shape: tuple[int, ...]) -> Optional[CallRecord]:
    """The finished module call that last made a tensor of ``shape`` (the failing call and its
    callers are still running, so they are skipped),
    walking back over calls that keep the shape and own no parameters (ReLU, Dropout), so the
    answer is the layer that actually set that size."""
    for call in reversed(ctx.record.calls):
        if call.status != CallStatus.DONE or not call.outputs:
            continue  # still running: the failing call itself and its callers
        if call.outputs[0].shape != shape:
            continue
        keeps_shape = call.inputs and call.inputs[0].shape == shape
        module = ctx.modules.get(call.path)
        if keeps_shape and module is not None and not any(True for _ in module.parameters()):
            continue
        return call
    return None


def _passes_through(ctx: SessionContext, path: str, shape: tuple[int, ...]) -> bool:
    """A parameterless module that keeps the shape (ReLU, Dropout) did not set that size."""
    module = ctx.modules.get(path)
    call = ctx.record.last_call(path)
    return module is not None and not any(True for _ in module.parameters()) and \
        call is not None and bool(call.inputs) and call.inputs[0].shape == shape


def producer_text(ctx: SessionContext, path: str, index: int, shape: tuple[int, ...],
                  maker: Optional[str] = None) -> str:
    """" It comes from fc1 (nn.Linear(10, 20) at model.py:12)." or from the model's inputs.
    ``maker`` is the module known (by tensor identity) to have made it."""
    if maker is None or _passes_through(ctx, maker, shape):
        producer = find_producer(ctx, shape)
        maker = producer.path if producer is not None else None
    if maker is not None:
        return f" That {shape_text(shape)} comes from {described(ctx, maker)}."
    root = ctx.record.calls_of("")
    if root and root[0].inputs and any(s.shape == shape for s in root[0].inputs):
        return f" That {shape_text(shape)} is the model's input from example_inputs()."
    flattened = _flatten_source(ctx, path, index, shape)
    return flattened or ""


def _flatten_source(ctx: SessionContext, path: str, index: int, shape: tuple[int, ...]
                    ) -> str:
    """A 2-D input whose width is the flattened size of an earlier [N, C, H, W] output."""
    if len(shape) != 2:
        return ""
    for call in reversed(ctx.record.calls):
        out = call.outputs[0] if call.outputs and call.status == CallStatus.DONE else None
        if out is not None and out.shape and len(out.shape) >= 3 and out.shape[0] == shape[0] \
                and math.prod(out.shape[1:]) == shape[1]:
            dims = " x ".join(str(d) for d in out.shape[1:])
            return f" That width is {described(ctx, call.path)}'s output " \
                   f"{shape_text(out.shape)} flattened: {dims} = {shape[1]}."
    return ""


def explain_layer_shape(ctx: SessionContext, path: str, index: int, module: nn.Module,
                        x: TensorSummary, exc_text: str, maker: Optional[str] = None
                        ) -> Optional[Diagnostic]:
    """A shape-mismatch diagnostic when ``module`` is a layer built for another input size."""
    if x.shape is None:
        return None
    explain = next((fn for cls, fn in _EXPLAINERS if isinstance(module, cls)), None)
    if explain is None:
        return None
    found = explain(ctx, path, module, x)
    if found is None:
        return None
    message, fix, expected = found
    site = ctx.site_of(path)
    if not isinstance(module, nn.Embedding):
        message += producer_text(ctx, path, index, x.shape, maker)
    return Diagnostic(code=codes.SHAPE_MISMATCH, severity="error", phase=ctx.phase, message=message,
                      module=path, call_index=index, file=site.file if site else ctx.user_file,
                      line=site.line if site else None, fix=fix,
                      details=(("expected", expected), ("got", shape_text(x.shape)),
                               ("torch", exc_text[:300])))


def _linear(ctx, path, module: nn.Linear, x: TensorSummary):
    got = x.shape[-1] if x.shape else None
    if got is None or got == module.in_features:
        return None
    message = f"{described(ctx, path, module)} expects {module.in_features} input features " \
              f"but got a tensor {shape_text(x.shape)} whose last dimension is {got}."
    fix = sentence(change_fix(ctx, path, module, 0, "in_features", got)) + \
        " (or change the layer before it to produce " \
        f"{module.in_features} features)."
    return message, fix, f"[*, {module.in_features}]"


def _conv(ctx, path, module: nn.modules.conv._ConvNd, x: TensorSummary):
    spatial = len(module.kernel_size)
    if len(x.shape) not in (spatial + 1, spatial + 2):
        expected = f"[N, {module.in_channels}, " + ", ".join("?" * spatial) + "]"
        message = f"{described(ctx, path, module)} expects a {spatial + 2}-D input " \
                  f"{expected} but got {shape_text(x.shape)}."
        fix = f"Give {type(module).__name__} batch, channel and {spatial} spatial " \
              f"dimension{'s' if spatial > 1 else ''}: for example x.view(N, " \
              f"{module.in_channels}, ...) or x.unsqueeze(1) for one channel."
        return message, fix, expected
    channels = x.shape[1] if len(x.shape) == spatial + 2 else x.shape[0]
    if channels == module.in_channels:
        return None
    message = f"{described(ctx, path, module)} expects {module.in_channels} input channels " \
              f"but got {channels} (input {shape_text(x.shape)})."
    fix = sentence(change_fix(ctx, path, module, 0, "in_channels", channels)) + \
        f", or feed it {module.in_channels}-channel data."
    return message, fix, f"[N, {module.in_channels}, ...]"


def _embedding(ctx, path, module: nn.Embedding, x: TensorSummary):
    if x.max is None:
        return None
    hi, lo = int(x.max), int(x.min if x.min is not None else 0)
    if 0 <= lo and hi < module.num_embeddings:
        return None
    bad = hi if hi >= module.num_embeddings else lo
    message = f"{described(ctx, path, module)} has {module.num_embeddings} rows (indices 0.." \
              f"{module.num_embeddings - 1}) but got index {number(bad)} in its input " \
              f"{shape_text(x.shape)}."
    if bad >= 0:
        fix = sentence(change_fix(ctx, path, module, 0, "num_embeddings", hi + 1)) + \
            " if the vocabulary really has that many tokens, or fix the ids (tokenizer and " \
            "model vocabulary must agree)."
    else:
        fix = "Indices must be non-negative: map padding ids like -1 to padding_idx."
    return message, fix, f"indices in [0, {module.num_embeddings - 1}]"


def _layer_norm(ctx, path, module: nn.LayerNorm, x: TensorSummary):
    wanted = tuple(module.normalized_shape)
    got = tuple(x.shape[-len(wanted):]) if len(x.shape) >= len(wanted) else tuple(x.shape)
    if got == wanted:
        return None
    value = got[0] if len(got) == 1 else list(got)
    message = f"{described(ctx, path, module)} normalises over the last dims " \
              f"{shape_text(wanted)} but got {shape_text(x.shape)} (last dims " \
              f"{shape_text(got)})."
    fix = sentence(change_fix(ctx, path, module, 0, "normalized_shape", value)) + "."
    return message, fix, f"[*, {', '.join(str(d) for d in wanted)}]"


def _batch_norm(ctx, path, module: nn.modules.batchnorm._NormBase, x: TensorSummary):
    if len(x.shape) < 2 or x.shape[1] == module.num_features:
        return None
    message = f"{described(ctx, path, module)} expects {module.num_features} channels " \
              f"(dim 1) but got {x.shape[1]} (input {shape_text(x.shape)})."
    fix = sentence(change_fix(ctx, path, module, 0, "num_features", x.shape[1])) + "."
    return message, fix, f"[N, {module.num_features}, ...]"


_EXPLAINERS = (
    (nn.Linear, _linear),
    (nn.modules.conv._ConvNd, _conv),
    (nn.Embedding, _embedding),
    (nn.LayerNorm, _layer_norm),
    (nn.modules.batchnorm._NormBase, _batch_norm),
)
