"""Indirect object identification in a real LM (Wang et al. 2022), on SmolLM2-135M.

"When Mary and John went to the store, John gave a drink to" -> " Mary". The clean prompts
come from Wang et al.'s templates with names that are single tokens; the corruptions replace
every name (ABC) or make the second-clause subject the indirect object (swap). The metric is
the logit difference IO - S at the final position. Figures on SmolLM2 describe its
4-bit-dequantised weights.
"""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.smollm_ioi.analysis import IoiResult, run
    from experiments.smollm_ioi.config import Config

_EXPORTS = {
    "IoiResult": "experiments.smollm_ioi.analysis",
    "run": "experiments.smollm_ioi.analysis",
    "Config": "experiments.smollm_ioi.config",
}
__all__ = ["Config", "IoiResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
