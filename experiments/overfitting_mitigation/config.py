"""What the over-fitting mitigation experiment runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from experiments.config import TrainingExperimentConfig
from mechscope.core import Job

REMEDIES = ("none", "early-stopping", "dropout", "weight-decay", "token-noise", "redundancy")
"""Every run: the over-fitting recipe, and each remedy alone on it."""


@dataclass(frozen=True, kw_only=True)
class Config(TrainingExperimentConfig):
    """The tiny-corpus recipe that over-fits, then each remedy alone on it, over several seeds.

    The over-fitting experiment's model (2 pre-LN blocks with MLPs, d_model 128, next-byte
    prediction on the standard library's textwrap.py, about 20 KB, its last 5 % held out)
    trained for a fixed number of steps, well past the point where held-out loss turns up, as
    is and with one remedy each: early stopping (the over-fitting signal,
    patience 3), dropout on attention and on the residual writes, stronger weight decay,
    random token substitution, and the redundancy regulariser on the last block. Per run:
    the held-out and training loss curves, the effective rank and feature redundancy of the
    stream at every boundary over training (logged on the held-out windows), and at the end
    the intra/inter-class distance ratio by byte class. Runs already complete in
    ``out/runs`` are read back. Example:
    python -m experiments.overfitting_mitigation --out results/overfitting-mitigation
    """

    out: Path = Path("results/overfitting-mitigation")
    """Where result.json, tensors.safetensors, report.html and the runs go."""
    FULL: ClassVar[dict[str, Any]] = {"seeds": 10}
    """``--full`` (for a lent GPU, with --device cuda): 10 seeds (standard errors 1.8x
    tighter)."""
    corpus: tuple[str, ...] = ()
    """The tiny corpus (empty: the standard library's textwrap.py)."""
    steps: int = 500
    """Steps per run (the over-fitting recipe's held-out loss is lowest near step 250)."""
    eval_every: int = 50
    """Steps between evaluations."""
    seeds: int = 3
    """Runs of each recipe (one seed each): the samples behind each standard error."""
    windows: int = 8
    """Held-out windows of 128 bytes the evaluations and the class geometry measure."""
    batch_size: int = 16
    """Windows of 128 bytes per training step (16: about 95 s a run here two at a time, and
    held-out loss turns up near step 250; the over-fitting experiment's 32 takes twice as
    long)."""
    d_model: int = 128
    """Width."""
    remedies: tuple[str, ...] = REMEDIES
    """Which runs (of these)."""
    patience: int = 3
    """Early stopping: evaluations of rising held-out loss (training loss falling) that stop it."""
    dropout: float = 0.1
    """Dropout on the attention pattern and on each attention and MLP output."""
    weight_decay: float = 0.3
    """AdamW weight decay of the "weight-decay" run (the recipe's default is 0.01)."""
    token_noise: float = 0.1
    """Share of input bytes replaced by random ones."""
    redundancy_weight: float = 1.0
    """Weight of the redundancy regulariser on the last block's output."""
    workers: int = 2
    """Runs trained at once, each in its own process on one torch thread (1: one at a time)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.seeds, self.patience, self.windows, self.batch_size) < 1:
            raise ValueError("need seeds, patience, windows and batch size >= 1")
        unknown = sorted(set(self.remedies) - set(REMEDIES))
        if unknown:
            raise ValueError(f"unknown remedy {unknown[0]!r}; choose from {', '.join(REMEDIES)}")
        if "none" not in self.remedies:
            raise ValueError(
                "the remedies need 'none' (the over-fitting recipe they are judged by)"
            )
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")


JOB = Job(
    name="overfitting-mitigation",
    config="experiments.overfitting_mitigation.config:Config",
    run="experiments.overfitting_mitigation.analysis:run",
    summary="experiments.overfitting_mitigation.__main__:summary",
    report="experiments.overfitting_mitigation.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
