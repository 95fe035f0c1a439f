"""What the attention-collapse mitigation experiment runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from experiments.config import TrainingExperimentConfig
from mechscope.core import Job

REMEDIES = (
    "healthy",
    "none",
    "temperature",
    "learned-temperature",
    "entropy-regulariser",
    "alibi",
    "local-window",
    "qk-norm",
    "sigma-reparam",
)
"""Every run: the healthy reference, the collapsing recipe, and each remedy alone on it."""


@dataclass(frozen=True, kw_only=True)
class Config(TrainingExperimentConfig):
    """The learning rate that collapses attention, then each attention remedy alone at it.

    The training-health experiment's model (6 pre-LN blocks with MLPs, d_model 64, 4 heads,
    context 64, next-byte prediction on Python source) at 30x its healthy learning rate
    collapses its attention (a layer's mean entropy under 0.1 nats within 100-220 steps).
    Each remedy runs alone at that learning rate, over several seeds: a fixed softmax
    temperature, learned per-head temperatures, the entropy regulariser, ALiBi positions,
    local attention, QK-norm and sigma-reparam (`mechscope.training.TrainConfig`), beside
    the healthy learning rate (the reference) and the collapsing recipe unremedied. Per run:
    whether and when entropy collapses, the best and final held-out loss and the loss curve;
    a verdict per remedy: prevents, delays or does not change the collapse. Runs already
    complete in ``out/runs`` are read back. Example:
    python -m experiments.attention_collapse_mitigation --out results/attention-collapse-mitigation
    """

    out: Path = Path("results/attention-collapse-mitigation")
    """Where result.json, tensors.safetensors, report.html and the runs go."""
    FULL: ClassVar[dict[str, Any]] = {"seeds": 10, "steps": 1000}
    """``--full`` (for a lent GPU, with --device cuda): 10 seeds, and 1,000 steps (whether a
    remedy that delays the collapse within 500 steps prevents it)."""
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
    eval_every: int = 20
    """Steps between logged evaluations."""
    lr: float = 1e-3
    """The healthy learning rate."""
    lr_multiplier: float = 30.0
    """The collapsing recipe's learning rate, as a multiple of lr (every remedy runs at it)."""
    seeds: int = 3
    """Runs of each recipe (one seed each): the samples behind each standard error."""
    remedies: tuple[str, ...] = REMEDIES
    """Which runs (of these)."""
    temperature: float = 4.0
    """The fixed softmax temperature ("temperature"; logits / T)."""
    entropy_floor: float = 1.0
    """The entropy regulariser's floor in nats ("entropy-regulariser")."""
    entropy_weight: float = 1.0
    """The entropy regulariser's weight."""
    window: int = 16
    """The local attention window in tokens ("local-window")."""
    collapse_nats: float = 0.1
    """A layer's mean attention entropy below this (nats) counts as collapsed."""
    workers: int = 2
    """Runs trained at once, each in its own process on one torch thread (1: one at a time)."""
    corpus: tuple[str, ...] = ()
    """Text to train on (empty: the Python standard library's sources)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seeds < 1 or self.steps < self.eval_every or self.eval_every < 1:
            raise ValueError("need seeds >= 1 and steps >= eval_every >= 1")
        unknown = sorted(set(self.remedies) - set(REMEDIES))
        if unknown:
            raise ValueError(f"unknown remedy {unknown[0]!r}; choose from {', '.join(REMEDIES)}")
        if "none" not in self.remedies:
            raise ValueError("the remedies need 'none' (the collapsing recipe they are judged by)")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")


JOB = Job(
    name="attention-collapse-mitigation",
    config="experiments.attention_collapse_mitigation.config:Config",
    run="experiments.attention_collapse_mitigation.analysis:run",
    summary="experiments.attention_collapse_mitigation.__main__:summary",
    report="experiments.attention_collapse_mitigation.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
