"""Every diagnostic code, in one table: the stable string, its severities and what it means.

Rules and the session name codes through these constants, never through string literals; the
README's diagnostics table is checked against :data:`CODES` by a test
(tests/core/test_codes.py). A new code is one line here and one row there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodeInfo:
    """One diagnostic code. ``severities``: the first is the usual one."""

    code: str
    severities: tuple[str, ...]
    meaning: str

    @property
    def severity(self) -> str:
        return self.severities[0]


CODES: dict[str, CodeInfo] = {}


def _code(code: str, severities: str, meaning: str) -> str:
    CODES[code] = CodeInfo(code, tuple(severities.split("/")), meaning)
    return code


LOAD_ERROR = _code("load-error", "error", "the model file could not be loaded or breaks the "
                   "contract")
CREATION_ERROR = _code("creation-error", "error", "build_model() raised")
DEVICE_UNAVAILABLE = _code("device-unavailable", "error", "the requested device does not exist")
OUT_OF_MEMORY = _code("out-of-memory", "error", "the device ran out of memory")
TIMEOUT = _code("timeout", "error", "the run did not finish within the time limit")
SHAPE_MISMATCH = _code("shape-mismatch", "error", "a layer or op got a tensor of the wrong shape")
DTYPE_MISMATCH = _code("dtype-mismatch", "error", "tensors of different dtypes met")
DEVICE_MISMATCH = _code("device-mismatch", "error", "tensors on different devices met")
LOSS_SHAPE_MISMATCH = _code("loss-shape-mismatch", "error/warning",
                            "output and target disagree in the loss")
LABEL_OUT_OF_RANGE = _code("label-out-of-range", "error", "class labels outside [0, C)")
SOFTMAX_BEFORE_CROSS_ENTROPY = _code("softmax-before-cross-entropy", "warning/info",
                                     "probabilities passed where logits are expected")
HAND_WRITTEN_CROSS_ENTROPY = _code("hand-written-cross-entropy", "warning",
                                   "log-probabilities multiplied by class indices")
NON_FINITE = _code("non-finite", "error", "where a NaN or Inf was born")
EXPLODING_GRADIENT = _code("exploding-gradient", "warning", "gradients grow along depth")
VANISHING_GRADIENT = _code("vanishing-gradient", "warning", "gradients shrink along depth")
NO_GRADIENT = _code("no-gradient", "warning", "a trainable parameter received no gradient")
UNREGISTERED_MODULE = _code("unregistered-module", "warning",
                            "layers kept in a plain list or dict")
INPLACE_MODIFICATION = _code("inplace-modification", "error",
                             "an in-place op changed a tensor autograd needs")
RUNTIME_ERROR = _code("runtime-error", "error", "any other exception in forward, loss or backward")
LAZY_MODULE = _code("lazy-module", "info", "a lazy layer and the shapes it took")
FROZEN_PARAMETERS = _code("frozen-parameters", "info", "parameters with requires_grad=False")
DRY_RUN = _code("dry-run", "info", "what a dry run cannot see")
DRY_RUN_INCOMPLETE = _code("dry-run-incomplete", "info",
                           "a dry run stopped at an op the meta device cannot run")
COMPILED_MODEL = _code("compiled-model", "info",
                       "a torch.compile'd model is debugged through its original module, eagerly")
RNN_BATCH_FIRST = _code("rnn-batch-first", "warning",
                        "an RNN with batch_first=False reads batch-major input as time steps")
DIVERGING_LOSS = _code("diverging-loss", "warning", "the training loss rose 100x over its "
                       "running minimum or turned non-finite")
DATA_NON_FINITE = _code("data-non-finite", "error", "a training batch already held NaN/Inf")
BATCH_SHAPE = _code("batch-shape", "info", "a batch's shape differs from the first batch's")
COLLATE_SIZE_MISMATCH = _code("collate-size-mismatch", "error",
                              "a DataLoader's items differ in size")
SCRIPT_EXIT = _code("script-exit", "error", "the script called sys.exit with a failure status")
SCRIPT_THREADS = _code("script-threads", "warning", "the script left threads running")
NO_MODULE_CALLED = _code("no-module-called", "warning", "the script never called a module")
INTERRUPTED = _code("interrupted", "error",
                    "the run was interrupted (Ctrl+C or KeyboardInterrupt)")
INTERNAL_ERROR = _code("internal-error", "error", "a bug of torchlens-gui (with its traceback)")
NOTHING_TO_BACKWARD = _code("nothing-to-backward", "warning",
                            "forward returned nothing backward can start from")
NO_PARAMETERS = _code("no-parameters", "info", "the model has no trainable parameters")
META_MODEL = _code("meta-model", "error", "the model was built on the meta device")
MODULE_ADDED_IN_FORWARD = _code("module-added-in-forward", "warning",
                                "a submodule registered during forward")
RUN_ABANDONED = _code("run-abandoned", "warning",
                      "a stopped run stuck in a C call was left to finish in the background")
# How a run ends when it cannot end normally, and what it returned (engine/outcomes.py, the
# session and the window's controller), not by a Rule.
OUTCOME_CODES = (INTERRUPTED, INTERNAL_ERROR, NOTHING_TO_BACKWARD, NO_PARAMETERS, META_MODEL,
                 RUN_ABANDONED)

# The codes that say where a NaN/Inf was born (RunRecord.nonfinite_birth asks for them).
NONFINITE_CODES = (NON_FINITE, DATA_NON_FINITE)

# Reported by the step tracker (diagnostics/training.py) and script mode, not by a Rule.
STEP_CODES = (DIVERGING_LOSS, DATA_NON_FINITE, BATCH_SHAPE, SCRIPT_EXIT, SCRIPT_THREADS,
              NO_MODULE_CALLED)
