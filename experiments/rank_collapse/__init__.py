"""Rank collapse in pure attention (Dong et al. 2021): res(X) by layer with and without skips."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.rank_collapse.analysis import RankCollapseResult, run
    from experiments.rank_collapse.config import Config

_EXPORTS = {
    "RankCollapseResult": "experiments.rank_collapse.analysis",
    "run": "experiments.rank_collapse.analysis",
    "Config": "experiments.rank_collapse.config",
}
__all__ = ["Config", "RankCollapseResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
