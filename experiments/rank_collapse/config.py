"""What the rank-collapse reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Rank collapse in pure attention (Dong et al. 2021), with and without skip connections.

    A deep attention-only transformer without LayerNorm or MLPs, at random initialisation,
    run as it is and with its skip connections removed through hooks (each block's attention
    output replaces the residual stream instead of adding to it); res(X), the relative
    distance of each prompt's token representations to the nearest matrix with equal rows, by
    layer, over several seeds. Then the same architecture trained (with its skips, plain
    next-byte prediction on Python source; runs already complete in ``out/runs`` are read
    back) and measured on held-out text with and without skips, before and after training;
    and the same measure for the shipped models and MiniLM on held-out text. Example:
    python -m experiments.rank_collapse --out results/rank-collapse
    """

    out: Path = Path("results/rank-collapse")
    """Where result.json, tensors.safetensors and report.html go."""
    n_layers: int = 12
    """Depth of the random attention-only model."""
    d_model: int = 64
    """Its width."""
    n_heads: int = 4
    """Its heads per layer."""
    n_prompts: int = 16
    """Prompts of random tokens per seed."""
    length: int = 32
    """Tokens per prompt."""
    seeds: int = 5
    """Random models (one seed each): the samples behind each standard error."""
    train_steps: int = 400
    """Steps to train the same architecture (with its skips) on Python source; 0: skip."""
    train_seeds: int = 3
    """Trained models (one seed each), measured before and after training."""
    models: tuple[str, ...] = ("induction-1l", "induction-2l", "minilm")
    """Trained models measured on held-out text (with their skip connections)."""


JOB = Job(
    name="rank-collapse",
    config="experiments.rank_collapse.config:Config",
    run="experiments.rank_collapse.analysis:run",
    summary="experiments.rank_collapse.__main__:summary",
    report="experiments.rank_collapse.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
