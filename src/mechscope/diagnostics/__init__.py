"""Diagnostics: attention collapse, rank collapse, anisotropy, class geometry, gradients.

- `attention`: per-head entropy, max weight, span, sink mass; effective heads; collapse flags;
- `rank`: effective rank and res(X) of token representations by layer; feature redundancy
  (mean absolute feature correlation, principal components for 90 % of the variance);
- `anisotropy`: Ethayarajh 2019's baseline, self- and intra-sentence similarity;
  `class_geometry` of labelled representations, `class_geometry_by_layer` at every boundary;
- `gradients`: gradient norms per layer and component, vanishing/exploding flags;
- `corpus`: `diagnose`, all of them on a corpus, batch by batch, from parts that add up
  (`DiagnosisParts`; `mechscope.executors.sharded_diagnose` adds up shards' parts).
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.diagnostics.anisotropy import (
        Anisotropy,
        AnisotropySums,
        ClassGeometry,
        LabelledPoints,
        anisotropy_stats,
        class_geometry,
        class_geometry_by_layer,
    )
    from mechscope.diagnostics.attention import AttentionStats, AttentionSums, attention_stats
    from mechscope.diagnostics.corpus import DiagnosisParts, diagnose, diagnosis_parts
    from mechscope.diagnostics.gradients import (
        HISTOGRAM_EDGES,
        GradientNorms,
        GradientSum,
        gradient_flags,
        gradient_norms,
        summed_gradients,
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
    "AnisotropySums": "mechscope.diagnostics.anisotropy",
    "AttentionSums": "mechscope.diagnostics.attention",
    "DiagnosisParts": "mechscope.diagnostics.corpus",
    "diagnose": "mechscope.diagnostics.corpus",
    "diagnosis_parts": "mechscope.diagnostics.corpus",
    "GradientSum": "mechscope.diagnostics.gradients",
    "LabelledPoints": "mechscope.diagnostics.anisotropy",
    "summed_gradients": "mechscope.diagnostics.gradients",
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
    "AnisotropySums",
    "AttentionStats",
    "AttentionSums",
    "ClassGeometry",
    "DiagnosisParts",
    "FeatureRedundancy",
    "GradientNorms",
    "GradientSum",
    "LabelledPoints",
    "HISTOGRAM_EDGES",
    "RankStats",
    "anisotropy_stats",
    "attention_stats",
    "class_geometry",
    "class_geometry_by_layer",
    "diagnose",
    "diagnosis_parts",
    "distance_to_rank_one",
    "effective_rank",
    "feature_redundancy",
    "gradient_flags",
    "gradient_norms",
    "rank_of_representations",
    "rank_stats",
    "redundancy_of_representations",
    "redundancy_stats",
    "summed_gradients",
    "without_skips",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
