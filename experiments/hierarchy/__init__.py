"""The whole claim on one page: where each kind of information lives, in SmolLM2 and MiniLM."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.hierarchy.analysis import Hierarchy, run
    from experiments.hierarchy.config import Config

_EXPORTS = {
    "Hierarchy": "experiments.hierarchy.analysis",
    "run": "experiments.hierarchy.analysis",
    "Config": "experiments.hierarchy.config",
}
__all__ = ["Config", "Hierarchy", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
