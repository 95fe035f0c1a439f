"""SmolLM2's features in IOI and facts: feature patching and steering."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.smollm_features.analysis import SmolFeatures, run
    from experiments.smollm_features.config import Config

_EXPORTS = {
    "SmolFeatures": "experiments.smollm_features.analysis",
    "run": "experiments.smollm_features.analysis",
    "Config": "experiments.smollm_features.config",
}
__all__ = ["Config", "SmolFeatures", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
