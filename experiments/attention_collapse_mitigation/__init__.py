"""Which attention remedies prevent the entropy collapse of too high a learning rate."""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.attention_collapse_mitigation.analysis import CollapseMitigationResult, run
    from experiments.attention_collapse_mitigation.config import Config

_EXPORTS = {
    "CollapseMitigationResult": "experiments.attention_collapse_mitigation.analysis",
    "run": "experiments.attention_collapse_mitigation.analysis",
    "Config": "experiments.attention_collapse_mitigation.config",
}
__all__ = ["CollapseMitigationResult", "Config", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
