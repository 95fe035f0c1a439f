"""SmolLM2's attribution graphs: facts, IOI and induction over per-layer transcoders."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.smollm_graphs.analysis import SmolGraphs, run
    from experiments.smollm_graphs.config import Config

_EXPORTS = {
    "SmolGraphs": "experiments.smollm_graphs.analysis",
    "run": "experiments.smollm_graphs.analysis",
    "Config": "experiments.smollm_graphs.config",
}
__all__ = ["Config", "SmolGraphs", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
