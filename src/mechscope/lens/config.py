"""How a tuned lens is trained: settings importable without torch (the CLI exposes them)."""

import math
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class TunedLensConfig:
    """How a tuned lens is trained."""

    init: Literal["identity", "regression"] = "identity"
    """Start of the translators: the identity (Belrose et al.: training starts from the logit
    lens), or least squares from each boundary's residual to the final residual (the linear
    shortcut of Din et al. 2023; closed form, a few forward passes), refined by the KL steps."""
    regression_windows: int = 64
    """Text windows the least-squares start is fitted on (init=regression)."""
    steps: int = 300
    """Optimiser steps on KL(final || lens)."""
    batch_size: int = 16
    """Text windows per step."""
    n_ctx: int = 128
    """Tokens per window (at most the model's context)."""
    positions: int = 0
    """Positions per window that enter each KL step, drawn at random; 0: all of them. The
    readout through the unembedding dominates the cost on large vocabularies (SmolLM2's
    49,152 tokens), and sampling positions cuts it in proportion."""
    lr: float = 1e-3
    """Adam learning rate."""
    seed: int = 0
    """Seed of the window sampling."""
    corpus: tuple[str, ...] = ()
    """Text files or directories (CoNLL-U treebanks give their sentences' text); empty: the
    Python standard library's sources."""
    held_out: tuple[str, ...] = ()
    """Held-out text files for the comparison; empty: the corpus's last files."""

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.lr < math.inf:
            problems.append(f"lr must be positive and finite, got {self.lr}")
        if self.n_ctx < 2:
            problems.append(f"n_ctx (tokens per window) must be at least 2, got {self.n_ctx}")
        if self.steps < 0 or self.batch_size < 1 or self.regression_windows < 1:
            problems.append("steps must be 0 or more, batch_size and regression_windows 1 or more")
        if self.positions < 0:
            problems.append(f"positions must be 0 (all) or more, got {self.positions}")
        if problems:
            raise ValueError("; ".join(problems))
