"""The layer hierarchy: what each layer of MiniLM and SmolLM2 encodes.

Also linear CKA across the induction model's phase change.
"""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.layer_hierarchy.analysis import HierarchyResult, run
    from experiments.layer_hierarchy.config import Config

_EXPORTS = {
    "HierarchyResult": "experiments.layer_hierarchy.analysis",
    "run": "experiments.layer_hierarchy.analysis",
    "Config": "experiments.layer_hierarchy.config",
}
__all__ = ["Config", "HierarchyResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
