"""Gradient norms by layer at initialisation: post-LN vs pre-LN (Xiong et al. 2020)."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.gradient_health.analysis import GradientHealthResult, run
    from experiments.gradient_health.config import Config

_EXPORTS = {
    "GradientHealthResult": "experiments.gradient_health.analysis",
    "run": "experiments.gradient_health.analysis",
    "Config": "experiments.gradient_health.config",
}
__all__ = ["Config", "GradientHealthResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
