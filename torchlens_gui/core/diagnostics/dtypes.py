"""``dtype-mismatch``: a float64 batch into a float32 model, float indices into an embedding,
float labels into cross_entropy. Says which side to convert, and where that side comes from."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Optional

import torch

from . import codes
from ..usercode.context import SessionContext
from ..recording.events import Diagnostic, Phase
from ..statistics.stats import dtype_name
from .sources import described, function_return_line, short_location
from .where import Where, modules_running

_DTYPE = re.compile(r"must have the same dtype|to have the same dtype|Input type \(\w+\) and "
                    r"(bias|weight) type|expected scalar type \w+ but found \w+|mixed dtype|"
                    r"Found dtype \w+ but expected \w+|same dtype")
_INDEX_DTYPE = re.compile(r"'indices' to have one of the following scalar types")
_TARGET_DTYPE = re.compile(r"expected target dtype to be Long|Expected dtype int32/int64 for "
                           r"index")


def explain_dtype(exc, text: str, phase: Phase, ctx: SessionContext, where: Where
                  ) -> Optional[Diagnostic]:
    if _INDEX_DTYPE.search(text):
        return Diagnostic(
            code=codes.DTYPE_MISMATCH, severity="error", phase=phase,
            message=f"{described(ctx, where.module)} looks up rows by integer ids, but got a "
                    "floating-point tensor.",
            fix="Pass token ids as integers: ids.long() (or build them with torch.randint / "
                "dtype=torch.long).", **where.fields())
    if _TARGET_DTYPE.search(text):
        return Diagnostic(
            code=codes.DTYPE_MISMATCH, severity="error", phase=phase,
            message="The loss got floating-point class labels; cross_entropy / nll_loss take "
                    "class indices as int64 (or class probabilities of the output's shape).",
            fix="Convert the labels: target.long().", **where.fields())
    if not _DTYPE.search(text):
        return None
    floats = _float_dtypes(where)
    model_dtype = _model_dtype(ctx, where)
    other = next((d for d in floats if d != model_dtype), None)
    if other is None and model_dtype is not None:  # integers fed to a float layer
        other = next(iter(_integer_dtypes(where)), None)
    if model_dtype is None or other is None:
        return Diagnostic(
            code=codes.DTYPE_MISMATCH, severity="error", phase=phase,
            message=f"An op mixes floating-point dtypes: {text.splitlines()[0]}",
            fix="Convert one side so both match (x.to(weight.dtype)).", **where.fields())
    return float_mix(ctx, phase, where, model_dtype, other)


def float_mix(ctx: SessionContext, phase: Phase, where: Where, model_dtype: torch.dtype,
              other: torch.dtype) -> Diagnostic:
    """A module got floats of another dtype than its parameters: say where they come from (the
    model's inputs, or a tensor made inside forward) and convert that side."""
    name, model_name = dtype_name(other), dtype_name(model_dtype)
    weight = _loss_weight_of(where, other)
    if weight is not None:
        at = short_location(where.file, where.line)
        return Diagnostic(
            code=codes.DTYPE_MISMATCH, severity="error", phase=phase,
            message=f"{where.failure.op}" + (f" at {at}" if at else "") + f" got a {name} "
                    f"{weight} tensor while the model's output is {model_name}: the loss "
                    "computes in one dtype." + (" torch.from_numpy and NumPy arithmetic make "
                                                "float64." if name == "float64" else ""),
            fix=f"Make the {weight} {model_name} where it is built: torch.tensor(..., "
                f"dtype=torch.{model_name}) or .to(torch.{model_name}) (then .to(device) too).",
            details=(("expected", model_name), ("got", name)), **where.fields())
    root = ctx.record.calls_of("")
    from_inputs = bool(root) and any(s.dtype == name for s in root[0].inputs)
    who = described(ctx, where.module) if where.module is not None else "an op"
    integer = not other.is_floating_point and not other.is_complex
    article = "an" if name[0] in "aeiou" else "a"
    message = f"{who} got {article} {name} tensor but its parameters are {model_name}" + \
        (": it computes in floating point, so integer inputs must be converted first."
         if integer else ".")
    if from_inputs:
        message += f" The {name} comes from the model's inputs (example_inputs())" + \
            ("; numpy arrays and torch.from_numpy default to float64." if name == "float64"
             else ".")
        returned = function_return_line(ctx.user_file, "example_inputs")
        at = f" at {short_location(ctx.user_file, returned)}" if returned else ""
        if integer:
            fix = f"Convert the batch: return x.to(torch.{model_name}) from example_inputs()" \
                  f"{at} (integer tensors are for indices, e.g. the ids an nn.Embedding looks up)."
        else:
            fix = f"Convert the batch, not the model: return x.to(torch.{model_name}) (or " \
                  f"torch.as_tensor(x, dtype=torch.{model_name})) from example_inputs(){at}; " \
                  f"only use model.to(torch.{name}) if you really want {name} weights."
        if returned:
            where = replace(where, file=ctx.user_file, line=returned)
    else:
        at = short_location(where.file, where.line)
        message += " It was made inside forward" + (f" before {at}" if at else "") + "."
        fix = f"Create that tensor with dtype=x.dtype (or .to(torch.{model_name})) where it " \
              "is made."
    return Diagnostic(code=codes.DTYPE_MISMATCH, severity="error", phase=phase, message=message,
                      fix=fix, details=(("expected", model_name), ("got", name)),
                      **where.fields())


_LOSS_TENSORS = {"weight": "class-weight", "pos_weight": "pos_weight"}


def _loss_weight_of(where: Where, dtype: torch.dtype) -> Optional[str]:
    """"class-weight" when the failing op is a loss whose weight/pos_weight argument has
    ``dtype`` (the side to convert), else None."""
    failure = where.failure
    if failure is None or "loss" not in failure.op and "entropy" not in failure.op:
        return None
    for fact in failure.tensors:
        key = fact.name.strip("[]'\".").split("'")[-1].split(".")[-1]
        if key in _LOSS_TENSORS and fact.dtype == dtype:
            return _LOSS_TENSORS[key]
    return None


def _operand_dtypes(where: Where) -> list[torch.dtype]:
    """The dtypes of the failing op's tensor arguments, else of the failing module's inputs."""
    if where.failure is not None:
        return [t.dtype for t in where.failure.tensors]
    if where.failing is not None:
        found = (getattr(torch, s.dtype, None) for s in where.failing.inputs
                 if s.is_tensor and s.dtype)
        return [d for d in found if isinstance(d, torch.dtype)]
    return []


def _float_dtypes(where: Where) -> list[torch.dtype]:
    return [d for d in _operand_dtypes(where) if d.is_floating_point]


def _integer_dtypes(where: Where) -> list[torch.dtype]:
    return [d for d in _operand_dtypes(where)
            if not d.is_floating_point and not d.is_complex and d != torch.bool]


def _model_dtype(ctx: SessionContext, where: Where) -> Optional[torch.dtype]:
    for _, module in modules_running(ctx, where) + [("", ctx.model)]:
        if module is None:
            continue
        for p in module.parameters():
            if p.is_floating_point():
                return p.dtype
    return None
