"""ViT attention on the image grid (Dosovitskiy et al. 2020; Abnar & Zuidema 2020).

On the shipped ViTs: distance by layer, [CLS] and rollout on the object, head kinds, class
lens, patching.
"""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.vit_attention.analysis import VitAttentionResult, run
    from experiments.vit_attention.config import Config

_EXPORTS = {
    "VitAttentionResult": "experiments.vit_attention.analysis",
    "run": "experiments.vit_attention.analysis",
    "Config": "experiments.vit_attention.config",
}
__all__ = ["Config", "VitAttentionResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
