"""The induction circuit read from the weights and the residual stream (Elhage et al. 2021).

Copying scores of every head's OV circuit, positional QK preferences, K-composition from the
previous-token head into the induction heads, and direct logit attribution of the correct
token on the second copy of repeated random tokens.
"""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.induction_circuits.analysis import InductionCircuitsResult, run
    from experiments.induction_circuits.config import Config

_EXPORTS = {
    "InductionCircuitsResult": "experiments.induction_circuits.analysis",
    "run": "experiments.induction_circuits.analysis",
    "Config": "experiments.induction_circuits.config",
}
__all__ = ["Config", "InductionCircuitsResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
