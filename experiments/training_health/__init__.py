"""Gradient health and attention-entropy collapse over training (Zhai et al. 2023)."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.training_health.analysis import TrainingHealthResult, run
    from experiments.training_health.config import Config

_EXPORTS = {
    "TrainingHealthResult": "experiments.training_health.analysis",
    "run": "experiments.training_health.analysis",
    "Config": "experiments.training_health.config",
}
__all__ = ["Config", "TrainingHealthResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
