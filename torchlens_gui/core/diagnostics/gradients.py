"""Gradient diagnostics after backward: ``non-finite`` (backward), ``exploding-gradient``,
``vanishing-gradient`` and ``no-gradient``.

Exploding / vanishing compare the layers along depth. For every layer with a weight matrix
(Linear, ConvNd, and any module whose own weight has 2+ dims; embeddings excluded, their
gradient touches only the rows used) that ran in forward, the relative gradient
r = ||grad W|| / ||W|| is taken, and the input-most layer's r is compared with the output-most
layer's r:

- ``exploding-gradient`` when r grows by more than EXPLODING_DEPTH_RATIO (1e3) from the output
  side to the input side, or any layer's gradient norm exceeds EXPLODING_ABSOLUTE_NORM (1e6);
- ``vanishing-gradient`` when r shrinks by more than 1 / VANISHING_DEPTH_RATIO (1e3) from the
  output side to the input side AND by more than a per-layer factor on average: the geometric
  mean decay d = ratio ** (1 / (layers - 1)) is below VANISHING_PER_LAYER_SATURATING (0.25, a
  sigmoid's steepest slope) when a saturating activation (Sigmoid, Tanh, ...) ran, below
  VANISHING_PER_LAYER (0.1) otherwise. A 5-layer sigmoid MLP (ratio ~3.8e-4, d ~0.13) is
  flagged; a freshly initialised 2-layer BERT (ratio ~2e-5 over 14 weight layers, d ~0.43:
  attention's query/key projections get little gradient through a near-uniform softmax) is not.

At least MIN_LAYERS_FOR_DEPTH (3) layers are needed for the depth comparison. Relative norms make
the comparison independent of layer sizes and of the loss's scale. The depth comparison is skipped
when backward started from the surrogate loss (the sum of the outputs): that sum is not a training
signal (the sum of a LayerNorm's or a softmax's output does not depend on its input, so the layers
before it get almost no gradient by construction) and would raise false alarms.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import torch
import torch.nn as nn

from ..usercode.context import ActiveCall, SessionContext
from ..recording.events import Diagnostic, Phase, TensorSummary
from ..statistics.stats import all_finite
from ..recording.structures import tensors
from ..usercode.tree import subtree_all
from .backward_nonfinite import BackwardWatch, backward_nonfinite
from . import codes
from .findings import count_text, listing, number
from .graph_cuts import cut_text, cuts_after
from .op_watch import WatchState
from .rule import Rule
from .sources import described, short_location

EXPLODING_DEPTH_RATIO = 1e3
VANISHING_DEPTH_RATIO = 1e-3
VANISHING_PER_LAYER_SATURATING = 0.25
VANISHING_PER_LAYER = 0.1
EXPLODING_ABSOLUTE_NORM = 1e6
MIN_LAYERS_FOR_DEPTH = 3
SATURATING = (nn.Sigmoid, nn.Tanh, nn.Softsign, nn.Hardtanh, nn.Hardsigmoid)


class GradientChecks(Rule):
    """Owns the backward graph watch of one session and judges gradients after backward."""

    name = "gradients"
    reports = (codes.NON_FINITE, codes.NO_GRADIENT, codes.EXPLODING_GRADIENT,
               codes.VANISHING_GRADIENT)

    def __init__(self, state: WatchState) -> None:
        super().__init__(state)
        self.watch = BackwardWatch()
        self.forward_finite = True
        self.surrogate = False

    def on_module_output(self, ctx: SessionContext, call: ActiveCall, args: tuple, kwargs: dict,
                         output: Any, inputs: tuple[TensorSummary, ...],
                         outputs: tuple[TensorSummary, ...]) -> Iterable[Diagnostic]:
        if not ctx.dry_run and torch.is_grad_enabled():
            self.watch.on_module_output(call, args, output)
        return ()

    def on_loss(self, ctx: SessionContext, output: Any, loss_value: Any, surrogate: bool
                ) -> Iterable[Diagnostic]:
        if ctx.dry_run or not isinstance(loss_value, torch.Tensor) or not loss_value.requires_grad:
            return ()
        self.surrogate = surrogate
        values = [loss_value.detach()] + [t.detach() for t in tensors(output)
                                          if t.is_floating_point()]
        self.forward_finite = all(all_finite(values))
        if self.forward_finite:
            self.watch.install(ctx, loss_value)
        return ()

    def after_backward(self, ctx: SessionContext) -> list[Diagnostic]:
        try:
            if ctx.dry_run:
                return []
            if not self.forward_finite:
                return self.no_gradient(ctx)  # NaN from forward: reported there, not again
            found = backward_nonfinite(ctx, self.watch)
        finally:
            self.watch.remove()
        found += self.no_gradient(ctx)
        if not any(d.code == codes.NON_FINITE for d in found) and not self.surrogate:
            found += self.depth(ctx)
        return found

    # ---- no-gradient ---------------------------------------------------------------------------

    def no_gradient(self, ctx: SessionContext) -> list[Diagnostic]:
        """One warning per top-most module whose trainable parameters all got no gradient."""
        starved = subtree_all(ctx.modules, lambda p: p.requires_grad, lambda p: p.grad is None)
        found = []
        for path in starved:
            parent = ctx.record.nodes[path].parent if path in ctx.record.nodes else None
            if parent in starved:
                continue
            module = ctx.modules[path]
            names = [n for n, p in module.named_parameters() if p.requires_grad]
            ran = bool(ctx.record.calls_of(path))
            why = ("ran in forward, but its output never reached the loss (it is unused, "
                   "detached with .detach()/.data, or computed under torch.no_grad())") if ran \
                else "never ran in forward (an unused layer or head)"
            fix = ("Use its output in the loss, or remove the .detach()/no_grad on its path"
                   if ran else "Remove it, or call it in forward") + \
                "; if it is meant to stay fixed, freeze it with requires_grad_(False) so the " \
                "optimizer skips it."
            site = ctx.site_of(path)
            file, line = (site.file, site.line) if site else (ctx.user_file, None)
            cuts = self._cuts_after(ctx, path) if ran else []
            if cuts:
                why = (f"ran in forward, but the graph from its output to the loss is cut by "
                       f"{cut_text(cuts)}: autograd cannot follow a Python number, a detached "
                       "tensor or a NumPy array")
                fix = (f"Keep the computation in torch tensors at "
                       f"{short_location(cuts[0].file, cuts[0].line)}: no .item()/float(), "
                       ".detach()/.data or NumPy round trip on the way to the loss (torch ops "
                       "instead of NumPy ones); if the cut is meant, freeze the layers before it "
                       "with requires_grad_(False).")
                file, line = cuts[0].file, cuts[0].line
            found.append(Diagnostic(
                code=codes.NO_GRADIENT, severity="warning", phase=Phase.BACKWARD,
                message=f"{described(ctx, path, module)} got no gradient for "
                        f"{count_text(len(names), 'parameter')} ({listing(names)}): it {why}.",
                module=path, file=file, line=line, fix=fix))
        return sorted(found, key=lambda d: d.module or "")

    def _cuts_after(self, ctx: SessionContext, path: str) -> list:
        calls = ctx.record.calls_of(path)
        if not calls:
            return []
        params = {id(p) for p in ctx.modules[path].parameters()}
        return cuts_after(self.state.cuts, calls[0].order, params)

    # ---- exploding / vanishing ----------------------------------------------------------------

    def depth(self, ctx: SessionContext) -> list[Diagnostic]:
        layers = _layers_in_forward_order(ctx)
        ratio, story = _depth_story(ctx, layers)
        if ratio is not None and ratio > EXPLODING_DEPTH_RATIO:
            return [self._exploding(ctx, layers[0][0], story, layers)]
        huge = [(path, g) for path, g, _ in layers if g > EXPLODING_ABSOLUTE_NORM]
        if huge:
            path, g = max(huge, key=lambda item: item[1])
            return [self._exploding(ctx, path, f"{path} has a gradient norm of {number(g)} "
                                    f"(above {number(EXPLODING_ABSOLUTE_NORM)})", layers)]
        if ratio is not None and ratio < VANISHING_DEPTH_RATIO and ratio > 0:
            per_layer = ratio ** (1 / (len(layers) - 1))
            saturating = _saturating_ran(ctx)
            limit = VANISHING_PER_LAYER_SATURATING if saturating else VANISHING_PER_LAYER
            if per_layer < limit:
                story += f", {number(per_layer)}x per layer on average"
                return [self._vanishing(ctx, layers[0][0], story, layers, saturating)]
        return []

    def _exploding(self, ctx, path: str, story: str, layers) -> Diagnostic:
        site = ctx.site_of(path)
        return Diagnostic(
            code=codes.EXPLODING_GRADIENT, severity="warning", phase=Phase.BACKWARD,
            message=f"Gradients explode: {story}. Look at {described(ctx, path)}.",
            module=path,
            file=site.file if site else ctx.user_file, line=site.line if site else None,
            fix="Scale the initialisation down (nn.init.xavier_uniform_ / kaiming_uniform_ "
                "instead of large weights), put normalisation (nn.LayerNorm / nn.BatchNorm) "
                "between the layers, and clip: torch.nn.utils.clip_grad_norm_(model.parameters(),"
                " 1.0).", details=_norm_details(layers))

    def _vanishing(self, ctx, path: str, story: str, layers, saturating: list[str]
                   ) -> Diagnostic:
        site = ctx.site_of(path)
        cause = f" {count_text(len(saturating), 'saturating activation')} " \
                f"({type(ctx.modules[saturating[0]]).__name__}, e.g. {saturating[0]}) " \
                f"{'shrinks' if len(saturating) == 1 else 'shrink'} the gradient on the way." \
            if saturating else ""
        return Diagnostic(
            code=codes.VANISHING_GRADIENT, severity="warning", phase=Phase.BACKWARD,
            message=f"Gradients vanish toward the input: {story}; {described(ctx, path)} "
                    f"barely learns.{cause}", module=path,
            file=site.file if site else ctx.user_file, line=site.line if site else None,
            fix=("Replace the saturating activations with nn.ReLU / nn.GELU, " if saturating
                 else "") + "add residual connections or normalisation (nn.LayerNorm / "
                 "nn.BatchNorm) between layers, and use a fan-in aware initialisation.",
            details=_norm_details(layers))


def _depth_story(ctx: SessionContext, layers) -> tuple[Optional[float], str]:
    """(input-side relative gradient / output-side relative gradient, the sentence saying so)."""
    if len(layers) < MIN_LAYERS_FOR_DEPTH:
        return None, ""
    (first, g_in, w_in), (last, g_out, w_out) = layers[0], layers[-1]
    if w_in == 0 or w_out == 0 or g_out == 0:
        return None, ""
    r_in, r_out = g_in / w_in, g_out / w_out
    ratio = r_in / r_out
    return ratio, (f"the relative gradient ||grad||/||weight|| is {number(r_out)} at the "
                   f"output-side layer {_named(ctx, last)} and {number(r_in)} at the input-side "
                   f"layer {_named(ctx, first)} ({number(ratio)}x across {len(layers)} layers)")


def _saturating_ran(ctx: SessionContext) -> list[str]:
    """Paths of the saturating activation modules (sigmoid, tanh...) that ran in forward."""
    return [p for p, m in ctx.modules.items() if isinstance(m, SATURATING)
            and ctx.record.calls_of(p)]


def _named(ctx: SessionContext, path: str) -> str:
    module = ctx.modules.get(path)
    return f"{path} ({type(module).__name__})" if module is not None else path


def _layers_in_forward_order(ctx: SessionContext) -> list[tuple[str, float, float]]:
    """(path, ||grad W||, ||W||) for every weight-matrix layer that ran, in forward order."""
    first_call = {}
    for call in ctx.record.calls:
        first_call.setdefault(call.path, call.order)
    out = []
    for path, module in ctx.modules.items():
        weight = getattr(module, "weight", None)
        if path not in first_call or isinstance(module, nn.Embedding) or \
                not isinstance(weight, nn.Parameter) or weight.dim() < 2 or weight.grad is None:
            continue
        g, w = _norm(ctx.grad_summary(path, "weight"), weight.grad), \
            _norm(ctx.param_summary(path, "weight"), weight)
        out.append((first_call[path], path, g, w))
    return [(path, g, w) for _, path, g, w in sorted(out)]


def _norm(summary: Optional[TensorSummary], t: torch.Tensor) -> float:
    """L2 norm of ``t``: from its summary where the run computed one (finite values only, so
    only for finite tensors), else one reduction."""
    if summary is not None and summary.finite and summary.norm is not None:
        return summary.norm
    with torch.no_grad():
        return float(torch.linalg.vector_norm(t.float()))


def _norm_details(layers) -> tuple[tuple[str, str], ...]:
    return tuple((path, f"grad {number(g)} / weight {number(w)}") for path, g, w in layers[:12])
