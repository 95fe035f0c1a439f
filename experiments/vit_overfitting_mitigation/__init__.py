"""A ViT on a small subset of the shapes, with each over-fitting remedy alone."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.vit_overfitting_mitigation.analysis import VitOverfittingMitigationResult, run
    from experiments.vit_overfitting_mitigation.config import Config

_EXPORTS = {
    "VitOverfittingMitigationResult": "experiments.vit_overfitting_mitigation.analysis",
    "run": "experiments.vit_overfitting_mitigation.analysis",
    "Config": "experiments.vit_overfitting_mitigation.config",
}
__all__ = ["VitOverfittingMitigationResult", "Config", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
