"""Head classification: every head of a model scored for every kind (see `kinds`)."""

from mechscope.heads.detect import DetectionSettings, detect_heads
from mechscope.heads.kinds import THRESHOLDS, HeadKind
from mechscope.heads.scores import HeadScores
from mechscope.heads.targets import Normalisation
from mechscope.heads.verify import Verification, verify

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
