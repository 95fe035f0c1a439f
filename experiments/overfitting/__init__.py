"""Over-fitting a tiny corpus: the early-stopping signal, class geometry and rank."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.overfitting.analysis import OverfittingResult, run
    from experiments.overfitting.config import Config

_EXPORTS = {
    "OverfittingResult": "experiments.overfitting.analysis",
    "run": "experiments.overfitting.analysis",
    "Config": "experiments.overfitting.config",
}
__all__ = ["Config", "OverfittingResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
