"""How `detect_heads` scores: settings importable without torch (the CLI exposes them all)."""

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Normalisation(Enum):
    """Which destinations a pattern score averages over."""

    DEFINED = "defined"
    """Only destinations where the kind's target exists (e.g. that have an earlier copy)."""
    ALL_DESTINATIONS = "all"
    """Every real destination, as TransformerLens ``detect_head`` does with ``"mul"``."""


@dataclass(frozen=True, kw_only=True)
class DetectionSettings:
    """How `detect_heads` scores; the defaults suit exploration."""

    window: int = 3
    """Local-window kind: mass within ``|d - s| <= window``."""
    normalisation: Normalisation = Normalisation.DEFINED
    """Average over destinations where a kind is defined, or over all (TransformerLens)."""
    exclude_first: bool = False
    """Leave attention to the first token out of pattern scores (TL ``exclude_bos``)."""
    exclude_current: bool = False
    """Leave attention to the token itself out (TL ``exclude_current_token``)."""
    induction_rows: int = 8
    """Repeated-random-token rows generated for the induction kind."""
    induction_half_length: int | None = None
    """Length of the repeated half; default min(32, (n_ctx - 1) // 2)."""
    batch_size: int = 32
    """Most rows per forward pass."""
    memory_budget_mb: int | None = 512
    """Estimated activation memory of one chunk (rows are grouped by length and a chunk
    holds fewer rows when they are long), so peak memory stays bounded whatever the corpus
    size; None: ``batch_size`` rows whatever their length."""
    seed: int = 0
    """Seed of the random tokens (and of the no-op projection for models without a loss)."""

    def __post_init__(self) -> None:
        if self.window < 0 or self.induction_rows < 1 or self.batch_size < 1:
            raise ValueError("window >= 0, induction_rows >= 1 and batch_size >= 1 are required")
        if self.memory_budget_mb is not None and self.memory_budget_mb < 1:
            raise ValueError("memory_budget_mb must be at least 1 (or None for no budget)")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (enums by value)."""
        return asdict(self) | {"normalisation": self.normalisation.value}
