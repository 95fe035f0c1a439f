"""Unstable deep recipes beside their remedies: gradient norms by block, histograms, the loss."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.gradient_mitigation.analysis import GradientMitigationResult, run
    from experiments.gradient_mitigation.config import Config

_EXPORTS = {
    "GradientMitigationResult": "experiments.gradient_mitigation.analysis",
    "run": "experiments.gradient_mitigation.analysis",
    "Config": "experiments.gradient_mitigation.config",
}
__all__ = ["GradientMitigationResult", "Config", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
