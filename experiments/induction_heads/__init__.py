"""Reproduce the induction-head findings (Elhage et al. 2021; Olsson et al. 2022).

A 2-layer and a 1-layer attention-only byte-level model, trained with the same recipe
(`mechscope.training`), show:

1. the phase change: in the 2-layer model the loss on the second copy of repeated random
   tokens drops suddenly, at the step where the induction scores jump and the ICL score
   falls, with a visible bump in the training loss curve;
2. the 1-layer model never forms induction heads, and its ICL score stays near 0;
3. the mechanism: a layer-0 previous-token head and layer-1 induction heads, joined by
   K-composition well above the random-matrix baseline;
4. ablating the induction heads (zero and mean) puts the repeated-half loss back near the
   first-half loss and removes most of the ICL score (paired differences with standard
   errors over held-out windows);
5. their attention patterns on a repeated sequence (circuitsvis).

The ICL score is Olsson et al.'s late-minus-early loss adapted to a 128-byte context: mean
loss over predictions 96-126 minus predictions 16-31 of each held-out window
(`mechscope.core.metrics.icl_per_window`), averaged over thousands of windows.

Heads are scored with `mechscope.heads.detect_heads`, ablations run on the batched
`mechscope.interventions.ablation_effects`; this package only chooses prompts and draws.
"""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.induction_heads.analysis import run
    from experiments.induction_heads.config import Config
    from experiments.induction_heads.result import InductionResult, PhaseChange

_EXPORTS = {
    "run": "experiments.induction_heads.analysis",
    "Config": "experiments.induction_heads.config",
    "InductionResult": "experiments.induction_heads.result",
    "PhaseChange": "experiments.induction_heads.result",
}
__all__ = ["Config", "InductionResult", "PhaseChange", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
