"""Direct logit attribution in SmolLM2: facts, IOI, the conveyor belt, copying scores.

Figures on SmolLM2 describe its 4-bit-dequantised weights.
"""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.smollm_dla.analysis import DlaResult, run
    from experiments.smollm_dla.config import Config

_EXPORTS = {
    "DlaResult": "experiments.smollm_dla.analysis",
    "run": "experiments.smollm_dla.analysis",
    "Config": "experiments.smollm_dla.config",
}
__all__ = ["Config", "DlaResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
