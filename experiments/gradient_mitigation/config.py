"""What the gradient mitigation experiment runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from experiments.config import TrainingExperimentConfig
from mechscope.core import Job

RECIPES = (
    "healthy",
    "no-layernorm",
    "no-layernorm+depth-init",
    "lr-x30",
    "lr-x30+warmup-cosine",
    "init-x4",
    "init-x4+depth-init",
)
"""Every run: the healthy reference, then each unstable recipe and it with its remedy."""


@dataclass(frozen=True, kw_only=True)
class Config(TrainingExperimentConfig):
    """Unstable deep recipes, each beside the same recipe with its matching remedy.

    A deeper version of the training-health model (pre-LN blocks with MLPs, d_model 64, 4
    heads, context 64, next-byte prediction on Python source, AdamW, clipping at norm 1)
    trained three unstable ways, each paired with its remedy: without LayerNorm (remedy:
    GPT-2's depth-scaled init of W_O and W_out), at 30x the learning rate (remedy: a longer
    warm-up and a cosine decay) and with every initial weight matrix 4x too large (remedy:
    depth-scaled init), beside the healthy recipe. Per run: each block's gradient norm at
    every evaluation (before clipping), the first/last-block ratio, the held-out loss, and at
    the end each block's histogram of log10 |gradient| on held-out text. Runs already
    complete in ``out/runs`` are read back. Example:
    python -m experiments.gradient_mitigation --out results/gradient-mitigation
    """

    out: Path = Path("results/gradient-mitigation")
    """Where result.json, tensors.safetensors, report.html and the runs go."""
    FULL: ClassVar[dict[str, Any]] = {"seeds": 10, "n_layers": 12}
    """``--full`` (for a lent GPU, with --device cuda): 10 seeds, and 12 blocks (the deep end
    of the issue's 8-12)."""
    n_layers: int = 8
    """Blocks (8 to 12 for the issue's question; fewer for a quick look)."""
    d_model: int = 64
    """Width."""
    n_heads: int = 4
    """Heads per block."""
    n_ctx: int = 64
    """Context in bytes."""
    batch_size: int = 16
    """Rows per step."""
    steps: int = 400
    """Steps per run."""
    eval_every: int = 20
    """Steps between logged evaluations."""
    lr: float = 1e-3
    """The healthy learning rate."""
    seeds: int = 3
    """Runs of each recipe (one seed each): the samples behind each standard error."""
    recipes: tuple[str, ...] = RECIPES
    """Which runs (of these)."""
    warmup: int = 200
    """The remedied high-lr run's warm-up steps (the others warm up over 50)."""
    init_scale: float = 4.0
    """The bad-init recipes' factor on every initial weight matrix."""
    workers: int = 2
    """Runs trained at once, each in its own process on one torch thread (1: one at a time)."""
    corpus: tuple[str, ...] = ()
    """Text to train on (empty: the Python standard library's sources)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seeds < 1 or self.steps < self.eval_every or self.eval_every < 1:
            raise ValueError("need seeds >= 1 and steps >= eval_every >= 1")
        unknown = sorted(set(self.recipes) - set(RECIPES))
        if unknown:
            raise ValueError(f"unknown recipe {unknown[0]!r}; choose from {', '.join(RECIPES)}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")


JOB = Job(
    name="gradient-mitigation",
    config="experiments.gradient_mitigation.config:Config",
    run="experiments.gradient_mitigation.analysis:run",
    summary="experiments.gradient_mitigation.__main__:summary",
    report="experiments.gradient_mitigation.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
