"""Which optimizers a training step waits for before it ends.

A step ends at the optimizer step, and with several optimizers (a GAN's discriminator and
generator, an encoder and a head on their own rates) at the step of the last one of the
iteration, so that one step is one iteration of the script's loop whatever order it calls its
models in. The run's optimizers (live ones that train its modules) are found once, at the
first optimizer step. An optimizer held but not stepped every iteration shows itself when
another one steps a second time within a step: from then on a step waits only for those that
did step.

Optimizers stepping inside another's step (a wrapper's inner optimizer) are not counted: only
the outermost step is.
"""

from __future__ import annotations

import gc
import weakref
from typing import Callable, Optional

import torch


class OptimizerCycle:
    """The optimizers of an iteration, and those that stepped in the open step."""

    def __init__(self, belongs: Callable[[torch.optim.Optimizer], bool]) -> None:
        self._belongs = belongs
        self._expected: Optional[weakref.WeakSet] = None  # found at the first step
        self._stepped: list[int] = []  # ids, in the open step, in order
        self.depth = 0  # optimizer steps in progress (an inner optimizer's inside a wrapper's)

    def started(self, optimizer: torch.optim.Optimizer) -> bool:
        """An outermost optimizer step begins. True when this optimizer already stepped in
        the open step: the step should have ended before it (the first steps' guess held an
        optimizer that is not stepped every iteration; it is dropped from the cycle)."""
        if self._expected is None:
            self._expected = weakref.WeakSet(_held_optimizers(self._belongs))
        self._expected.add(optimizer)  # (one made after the first step joins the cycle)
        if id(optimizer) in self._stepped:
            kept = set(self._stepped)
            for other in list(self._expected):
                if id(other) not in kept:
                    self._expected.discard(other)
            return True
        return False

    def held(self) -> list[torch.optim.Optimizer]:
        """The run's live optimizers now (one walk over the objects)."""
        return _held_optimizers(self._belongs)

    def finished(self, optimizer: torch.optim.Optimizer) -> bool:
        """An outermost optimizer step ended (or was skipped): True when every optimizer of
        the iteration has now stepped, so the step ends here."""
        self._stepped.append(id(optimizer))
        expected = self._expected
        done = expected is None or all(id(o) in self._stepped for o in expected)
        return done

    def step_ended(self) -> None:
        self._stepped.clear()


def _held_optimizers(belongs: Callable[[torch.optim.Optimizer], bool]
                     ) -> list[torch.optim.Optimizer]:
    """The live optimizers of this run (those ``belongs`` accepts: they train its modules).
    One walk over the collector's objects, once per run (reading the frames' locals instead
    would pin them in the frames' locals snapshots)."""
    found = []
    for candidate in gc.get_objects():
        if isinstance(candidate, torch.optim.Optimizer):
            try:
                if belongs(candidate):
                    found.append(candidate)
            except Exception:  # a hostile optimizer subclass: not counted
                continue
    return found
