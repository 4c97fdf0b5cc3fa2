"""Errors torch raises about the batch itself, explained with the fix that applies:

- BatchNorm in training mode given one value per channel (a batch of 1): the batch variance
  is undefined; use a batch of at least 2 (``drop_last=True`` for a last batch of 1) or
  ``model.eval()`` to predict one sample with the running statistics.
- An RNN's hidden-state size error when the RNN has ``batch_first=False`` and its input's
  dim 0 is the batch the hidden state was built for: ``batch_first=True`` is the fix.
"""

from __future__ import annotations

import re
from typing import Optional

import torch.nn as nn

from ..recording.events import Diagnostic, shape_text
from . import codes
from ..usercode.context import SessionContext
from .batch_trace import _batch_first_fix, _rnn_story, _site

from .sources import described
from .where import Where

_ONE_VALUE = re.compile(r"Expected more than 1 value per channel when training, got input size "
                        r"torch\.Size\((\[[\d, ]*\])\)")
_HIDDEN = re.compile(r"Expected hidden\[?\d?\]? size \((\d+), (\d+), (\d+)\), got \[(\d+), (\d+), "
                     r"(\d+)\]")


def explain_batch_errors(exc: BaseException, text: str, phase: str, ctx: SessionContext,
                         where: Where) -> Optional[Diagnostic]:
    match = _ONE_VALUE.search(text)
    if match is not None:
        return _batchnorm_single(ctx, phase, where, match.group(1))
    match = _HIDDEN.search(text)
    if match is not None:
        return _rnn_hidden(ctx, phase, where, int(match.group(5)))
    return None


def _batchnorm_single(ctx: SessionContext, phase: str, where: Where, shape: str
                      ) -> Diagnostic:
    path = where.module
    module = ctx.module_at(path)
    kind = type(module).__name__ if isinstance(module, nn.modules.batchnorm._NormBase) \
        else "BatchNorm"
    return Diagnostic(
        code=codes.SHAPE_MISMATCH, severity="error", phase=phase,
        message=f"{described(ctx, path) if path is not None else kind} is in training mode and "
                f"got {shape}: one value per channel, so there is no batch variance to "
                "normalise with (a batch of 1, or a last batch of 1).",
        module=path, call_index=where.call_index, **_site(ctx, path) if path else {},
        fix="Use a batch of at least 2 in example_inputs() (DataLoader(..., drop_last=True) "
            "keeps a last batch of 1 out of training), or call model.eval() to run one sample "
            "with the running statistics.", details=(("input", shape),))


def _rnn_hidden(ctx: SessionContext, phase: str, where: Where, hidden_batch: int
                ) -> Optional[Diagnostic]:
    path = where.module
    module = ctx.module_at(path)
    if not isinstance(module, nn.RNNBase) or where.failing is None or not where.failing.inputs:
        return None
    given = where.failing.inputs[0]
    shape = tuple(given.shape or ())
    if module.batch_first or len(shape) != 3 or shape[0] != hidden_batch:
        return None
    return Diagnostic(
        code=codes.SHAPE_MISMATCH, severity="error", phase=phase,
        message=f"{_rnn_story(ctx, path, shape, 'the initial hidden state and the input')} "
                f"The RNN expects a hidden state for a batch of {shape[1]}.",
        module=path, call_index=where.call_index, **_site(ctx, path),
        fix=_batch_first_fix(ctx, path), details=(("input", shape_text(shape)),))
