"""Head classification: every head of a model scored for every kind (see `kinds`).

Names are imported on first use (as in `mechscope`), so reading `HeadKind` for the CLI's
help does not import torch and TransformerLens.
"""

from typing import TYPE_CHECKING

from mechscope.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.heads.detect import DetectionSettings, detect_heads
    from mechscope.heads.kinds import THRESHOLDS, HeadKind
    from mechscope.heads.scores import HeadScores
    from mechscope.heads.targets import Normalisation
    from mechscope.heads.verify import Verification, verify

_EXPORTS = {
    "DetectionSettings": "mechscope.heads.detect",
    "detect_heads": "mechscope.heads.detect",
    "THRESHOLDS": "mechscope.heads.kinds",
    "HeadKind": "mechscope.heads.kinds",
    "HeadScores": "mechscope.heads.scores",
    "Normalisation": "mechscope.heads.targets",
    "Verification": "mechscope.heads.verify",
    "verify": "mechscope.heads.verify",
}
__all__ = [
    "THRESHOLDS",
    "DetectionSettings",
    "HeadKind",
    "HeadScores",
    "Normalisation",
    "Verification",
    "detect_heads",
    "verify",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
