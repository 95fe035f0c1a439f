"""How a tuned lens is trained: settings importable without torch (the CLI exposes them)."""

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class TunedLensConfig:
    """How a tuned lens is trained."""

    steps: int = 300
    """Optimiser steps."""
    batch_size: int = 16
    """Text windows per step."""
    n_ctx: int = 128
    """Tokens per window (at most the model's context)."""
    lr: float = 1e-3
    """Adam learning rate."""
    seed: int = 0
    """Seed of the window sampling."""
    corpus: tuple[str, ...] = ()
    """Text files or directories; empty: the Python standard library's sources."""
