"""What the training-health reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """The same deep model trained healthy, without LayerNorm, and with too high a learning rate.

    A 6-block pre-LN transformer with MLPs (d_model 64, 4 heads, context 64) is trained on the
    Python standard library's source (plain next-byte prediction, no repeated spans) four
    ways, each over several seeds: the healthy recipe (lr 1e-3), without any LayerNorm, and
    with the learning rate 10x and 30x too high. Every 10 steps the trainer logs the
    gradient norm per block (before clipping), every head's attention entropy and the
    held-out loss. Reported per run: the gradient flags, the first/last-block gradient ratio,
    when the lowest layer's attention entropy falls below `collapse_nats` (Zhai et al.
    2023's entropy collapse) and when held-out loss rises `divergence_nats` above its best
    so far. Runs already complete in ``out/runs`` are read back, not retrained. Example:
    python -m experiments.training_health --out results/training-health
    """

    out: Path = Path("results/training-health")
    """Where result.json, tensors.safetensors, report.html and the runs go."""
    n_layers: int = 6
    """Blocks."""
    d_model: int = 64
    """Width."""
    n_heads: int = 4
    """Heads per block."""
    n_ctx: int = 64
    """Context in bytes."""
    batch_size: int = 16
    """Rows per step."""
    steps: int = 500
    """Steps per run."""
    eval_every: int = 10
    """Steps between logged evaluations."""
    lr: float = 1e-3
    """The healthy learning rate (the others are 10x and 30x it)."""
    seeds: int = 3
    """Runs of each recipe (one seed each): the samples behind each standard error."""
    collapse_nats: float = 0.1
    """A layer's mean attention entropy below this (nats) counts as collapsed."""
    divergence_nats: float = 0.1
    """Held-out loss this far above its best so far counts as a loss spike / divergence."""
    recipes: tuple[str, ...] = ("healthy", "no-layernorm", "lr-x10", "lr-x30")
    """Which runs (of these four)."""
    corpus: tuple[str, ...] = ()
    """Text to train on (empty: the Python standard library's sources)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seeds < 1 or self.steps < self.eval_every or self.eval_every < 1:
            raise ValueError("need seeds >= 1 and steps >= eval_every >= 1")


JOB = Job(
    name="training-health",
    config="experiments.training_health.config:Config",
    run="experiments.training_health.analysis:run",
    summary="experiments.training_health.__main__:summary",
    report="experiments.training_health.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
