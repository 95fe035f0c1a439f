"""Diagnostics: attention collapse, rank collapse, anisotropy, class geometry, gradients.

- `attention`: per-head entropy, max weight, span, sink mass; effective heads; collapse flags;
- `rank`: effective rank and res(X) of token representations by layer; feature redundancy
  (mean absolute feature correlation, principal components for 90 % of the variance);
- `anisotropy`: Ethayarajh 2019's baseline, self- and intra-sentence similarity;
  `class_geometry` of labelled representations, `class_geometry_by_layer` at every boundary;
- `gradients`: gradient norms per layer and component, vanishing/exploding flags.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.diagnostics.anisotropy import (
        Anisotropy,
        ClassGeometry,
        anisotropy_stats,
        class_geometry,
        class_geometry_by_layer,
    )
    from mechscope.diagnostics.attention import AttentionStats, attention_stats
    from mechscope.diagnostics.gradients import (
        HISTOGRAM_EDGES,
        GradientNorms,
        gradient_flags,
        gradient_norms,
    )
    from mechscope.diagnostics.rank import (
        FeatureRedundancy,
        RankStats,
        distance_to_rank_one,
        effective_rank,
        feature_redundancy,
        rank_of_representations,
        rank_stats,
        redundancy_of_representations,
        redundancy_stats,
        without_skips,
    )

_EXPORTS = {
    "Anisotropy": "mechscope.diagnostics.anisotropy",
    "anisotropy_stats": "mechscope.diagnostics.anisotropy",
    "attention_stats": "mechscope.diagnostics.attention",
    "AttentionStats": "mechscope.diagnostics.attention",
    "class_geometry": "mechscope.diagnostics.anisotropy",
    "class_geometry_by_layer": "mechscope.diagnostics.anisotropy",
    "ClassGeometry": "mechscope.diagnostics.anisotropy",
    "distance_to_rank_one": "mechscope.diagnostics.rank",
    "effective_rank": "mechscope.diagnostics.rank",
    "feature_redundancy": "mechscope.diagnostics.rank",
    "FeatureRedundancy": "mechscope.diagnostics.rank",
    "redundancy_of_representations": "mechscope.diagnostics.rank",
    "redundancy_stats": "mechscope.diagnostics.rank",
    "gradient_flags": "mechscope.diagnostics.gradients",
    "HISTOGRAM_EDGES": "mechscope.diagnostics.gradients",
    "gradient_norms": "mechscope.diagnostics.gradients",
    "GradientNorms": "mechscope.diagnostics.gradients",
    "rank_of_representations": "mechscope.diagnostics.rank",
    "rank_stats": "mechscope.diagnostics.rank",
    "RankStats": "mechscope.diagnostics.rank",
    "without_skips": "mechscope.diagnostics.rank",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "Anisotropy",
    "AttentionStats",
    "ClassGeometry",
    "FeatureRedundancy",
    "GradientNorms",
    "HISTOGRAM_EDGES",
    "RankStats",
    "anisotropy_stats",
    "attention_stats",
    "class_geometry",
    "class_geometry_by_layer",
    "distance_to_rank_one",
    "effective_rank",
    "feature_redundancy",
    "gradient_flags",
    "gradient_norms",
    "rank_of_representations",
    "rank_stats",
    "redundancy_of_representations",
    "redundancy_stats",
    "without_skips",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
