"""What the gradient-health reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Gradient norms by layer at initialisation: post-LN vs pre-LN (Xiong et al. 2020).

    Random BERT-style (post-LN) encoders and pre-LN decoders of MiniLM's size (6 layers, 12
    heads, d_model 384), one of each per seed, on the same random tokens; the loss is the
    cross-entropy of reconstructing every input token from the output logits (defined for
    both). Per-block gradient norms, mean ± s.e. over seeds, and the flags. Example:
    python -m experiments.gradient_health --out results/gradient-health
    """

    out: Path = Path("results/gradient-health")
    """Where result.json, tensors.safetensors and report.html go."""
    n_layers: int = 6
    """Blocks of each model."""
    n_heads: int = 12
    """Heads per block."""
    d_model: int = 384
    """Width."""
    d_vocab: int = 1000
    """Vocabulary of the random tokens."""
    seeds: int = 5
    """Models of each kind (one seed each)."""
    n_prompts: int = 8
    """Prompts of random tokens."""
    length: int = 32
    """Tokens per prompt."""


JOB = Job(
    name="gradient-health",
    config="experiments.gradient_health.config:Config",
    run="experiments.gradient_health.analysis:run",
    summary="experiments.gradient_health.__main__:summary",
    report="experiments.gradient_health.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
