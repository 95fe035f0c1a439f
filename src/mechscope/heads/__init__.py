"""Attention heads: patterns, head kinds and `detect_heads`, syntax heads, verify.

- `patterns`: attention patterns of a batch (`attention_patterns`, `sentence_attention`);
- `kinds`, `targets`, `detect`, `scores`: every head scored for every kind in one pass
  (`detect_heads` -> `HeadScores`);
- `syntax`: dependency relations from CoNLL-U (Clark et al. 2019);
- `verify`: head labels checked causally by ablation.

Names are imported on first use (as in `mechscope`), so reading `HeadKind` for the CLI's
help does not import torch and TransformerLens.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.heads.detect import detect_heads
    from mechscope.heads.kinds import THRESHOLDS, HeadKind
    from mechscope.heads.patterns import (
        SentenceAttention,
        attention_mass,
        attention_patterns,
        sentence_attention,
    )
    from mechscope.heads.scores import HeadScores
    from mechscope.heads.settings import DetectionSettings, Normalisation
    from mechscope.heads.syntax import SyntaxScores, dependency_scores
    from mechscope.heads.verification import Verification, verify

_EXPORTS = {
    "DetectionSettings": "mechscope.heads.settings",
    "detect_heads": "mechscope.heads.detect",
    "THRESHOLDS": "mechscope.heads.kinds",
    "HeadKind": "mechscope.heads.kinds",
    "SentenceAttention": "mechscope.heads.patterns",
    "attention_mass": "mechscope.heads.patterns",
    "attention_patterns": "mechscope.heads.patterns",
    "sentence_attention": "mechscope.heads.patterns",
    "HeadScores": "mechscope.heads.scores",
    "SyntaxScores": "mechscope.heads.syntax",
    "dependency_scores": "mechscope.heads.syntax",
    "Normalisation": "mechscope.heads.settings",
    "Verification": "mechscope.heads.verification",
    "verify": "mechscope.heads.verification",
}
__all__ = [
    "DetectionSettings",
    "HeadKind",
    "HeadScores",
    "Normalisation",
    "SentenceAttention",
    "SyntaxScores",
    "THRESHOLDS",
    "Verification",
    "attention_mass",
    "attention_patterns",
    "dependency_scores",
    "detect_heads",
    "sentence_attention",
    "verify",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
