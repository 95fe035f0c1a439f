"""Which remedies stop a tiny corpus being memorised, and what they do to the representations."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.overfitting_mitigation.analysis import OverfittingMitigationResult, run
    from experiments.overfitting_mitigation.config import Config

_EXPORTS = {
    "OverfittingMitigationResult": "experiments.overfitting_mitigation.analysis",
    "run": "experiments.overfitting_mitigation.analysis",
    "Config": "experiments.overfitting_mitigation.config",
}
__all__ = ["OverfittingMitigationResult", "Config", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
