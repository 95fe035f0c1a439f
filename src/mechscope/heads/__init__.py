"""Attention heads: patterns, head kinds and `detect_heads`, syntax heads, verify.

- `patterns`: attention patterns of a batch (`attention_patterns`, `sentence_attention`);
- `kinds`, `targets`, `detect`, `scores`: every head scored for every kind in one pass
  (`detect_heads` -> `HeadScores`);
- `syntax`: dependency relations from CoNLL-U (Clark et al. 2019);
- `aggregation`: semantic aggregation heads (attention onto sentiment words, entity mentions);
- `coreference`: antecedent selection by attention on GUM's mentions (Clark et al. 2019, §5);
- `verify`: head labels checked causally by ablation.

Names are imported on first use (as in `mechscope`), so reading `HeadKind` for the CLI's
help does not import torch and TransformerLens.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.heads.aggregation import (
        AggregationScores,
        aggregation_scores,
        entity_targets,
        sentiment_targets,
    )
    from mechscope.heads.coreference import (
        CoreferenceScores,
        coreference_scores,
        coreference_windows,
        pronoun_metric,
        verify_coreference,
    )
    from mechscope.heads.detect import detect_heads, repeated_rows
    from mechscope.heads.kinds import THRESHOLDS, HeadKind
    from mechscope.heads.patterns import (
        QueryKey,
        SentenceAttention,
        attention_mass,
        attention_patterns,
        query_key,
        sentence_attention,
    )
    from mechscope.heads.scores import HeadScores
    from mechscope.heads.settings import DetectionSettings, Normalisation
    from mechscope.heads.syntax import (
        DependencyAccumulator,
        SyntaxScores,
        align_all,
        dependency_scores,
    )
    from mechscope.heads.verification import Verification, verify

_EXPORTS = {
    "AggregationScores": "mechscope.heads.aggregation",
    "aggregation_scores": "mechscope.heads.aggregation",
    "entity_targets": "mechscope.heads.aggregation",
    "sentiment_targets": "mechscope.heads.aggregation",
    "CoreferenceScores": "mechscope.heads.coreference",
    "coreference_scores": "mechscope.heads.coreference",
    "coreference_windows": "mechscope.heads.coreference",
    "pronoun_metric": "mechscope.heads.coreference",
    "verify_coreference": "mechscope.heads.coreference",
    "align_all": "mechscope.heads.syntax",
    "attention_mass": "mechscope.heads.patterns",
    "attention_patterns": "mechscope.heads.patterns",
    "dependency_scores": "mechscope.heads.syntax",
    "DependencyAccumulator": "mechscope.heads.syntax",
    "detect_heads": "mechscope.heads.detect",
    "DetectionSettings": "mechscope.heads.settings",
    "HeadKind": "mechscope.heads.kinds",
    "HeadScores": "mechscope.heads.scores",
    "Normalisation": "mechscope.heads.settings",
    "repeated_rows": "mechscope.heads.detect",
    "sentence_attention": "mechscope.heads.patterns",
    "query_key": "mechscope.heads.patterns",
    "QueryKey": "mechscope.heads.patterns",
    "SentenceAttention": "mechscope.heads.patterns",
    "SyntaxScores": "mechscope.heads.syntax",
    "THRESHOLDS": "mechscope.heads.kinds",
    "Verification": "mechscope.heads.verification",
    "verify": "mechscope.heads.verification",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "AggregationScores",
    "aggregation_scores",
    "entity_targets",
    "sentiment_targets",
    "CoreferenceScores",
    "coreference_scores",
    "coreference_windows",
    "pronoun_metric",
    "verify_coreference",
    "DependencyAccumulator",
    "DetectionSettings",
    "HeadKind",
    "HeadScores",
    "Normalisation",
    "SentenceAttention",
    "QueryKey",
    "query_key",
    "SyntaxScores",
    "THRESHOLDS",
    "Verification",
    "align_all",
    "attention_mass",
    "attention_patterns",
    "dependency_scores",
    "detect_heads",
    "repeated_rows",
    "sentence_attention",
    "verify",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
