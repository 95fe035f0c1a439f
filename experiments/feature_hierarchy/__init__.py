"""The feature hierarchy: how abstract each layer's SAE features are (MiniLM, SmolLM2)."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.feature_hierarchy.analysis import FeatureHierarchy, run
    from experiments.feature_hierarchy.config import Config

_EXPORTS = {
    "FeatureHierarchy": "experiments.feature_hierarchy.analysis",
    "run": "experiments.feature_hierarchy.analysis",
    "Config": "experiments.feature_hierarchy.config",
}
__all__ = ["Config", "FeatureHierarchy", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
