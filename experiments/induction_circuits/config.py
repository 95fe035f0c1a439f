"""What the induction-circuit weights reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """The induction circuit read from the weights and the residual stream (Elhage et al. 2021).

    On a 2-layer attention-only model: every head's OV copying score (eigenvalues of
    W_E W_OV W_U), its positional QK preference, the K-composition of each layer-0 head into
    each layer-1 head, and the direct logit attribution of the correct next token on the
    second copy of repeated random tokens, next to the paper's claims. Example:
    python -m experiments.induction_circuits --out results/induction-circuits
    """

    model: str = "induction-2l"
    """Model spec, as `mechscope.models.load_model` takes it."""
    out: Path = Path("results/induction-circuits")
    """Where result.json, tensors.safetensors and report.html go."""
    n_prompts: int = 32
    """Rows of repeated random tokens."""
    half: int = 40
    """Length of each copy."""
    seed: int = 0
    """Seed of the random tokens."""


JOB = Job(
    name="induction-circuits",
    config="experiments.induction_circuits.config:Config",
    run="experiments.induction_circuits.analysis:run",
    summary="experiments.induction_circuits.__main__:summary",
    report="experiments.induction_circuits.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
