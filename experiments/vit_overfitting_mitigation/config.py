"""What the ViT over-fitting mitigation experiment runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from experiments.config import TrainingExperimentConfig
from mechscope.core import Job

REMEDIES = ("none", "shift-crop", "cutmix", "dropout", "weight-decay", "redundancy")
"""Every run: the small-subset recipe without augmentation, and each remedy alone on it."""


@dataclass(frozen=True, kw_only=True)
class Config(TrainingExperimentConfig):
    """A ViT on a small subset of the shapes, as is and with each over-fitting remedy alone.

    The shipped ViT recipe (4 blocks, d_model 64, 4 heads, 4-pixel patches of 32x32 shapes)
    trained on 500 of the training images, without augmentation, then with one remedy each:
    random shifts and crops, CutMix, dropout on attention and the residual writes, stronger weight
    decay, and the redundancy regulariser on the last block. Per run: held-out and training
    accuracy and loss over training, and the last block's effective rank and feature
    redundancy on held-out images (logged at every evaluation), and at the end the [CLS]
    class ratio by block. Runs already complete in ``out/runs`` are read back. Example:
    python -m experiments.vit_overfitting_mitigation --out results/vit-overfitting-mitigation
    """

    out: Path = Path("results/vit-overfitting-mitigation")
    """Where result.json, tensors.safetensors, report.html and the runs go."""
    FULL: ClassVar[dict[str, Any]] = {"seeds": 10}
    """``--full`` (for a lent GPU, with --device cuda): 10 seeds (standard errors 1.8x
    tighter)."""
    dataset: Literal["digits", "shapes"] = "shapes"
    """The image set."""
    train_images: int = 500
    """Training images (a random subset)."""
    n_layers: int = 4
    """Blocks (the shipped recipe's 4)."""
    d_model: int = 64
    """Width (the shipped recipe's 64; 4 heads, MLP width 2 x d_model)."""
    steps: int = 400
    """Steps per run."""
    batch_size: int = 32
    """Images per step."""
    eval_every: int = 50
    """Steps between evaluations."""
    seeds: int = 3
    """Runs of each recipe (one seed each): the samples behind each standard error."""
    remedies: tuple[str, ...] = REMEDIES
    """Which runs (of these)."""
    shift: int = 2
    """The "shift-crop" run's largest move in pixels."""
    crop: int = 4
    """The "shift-crop" run's largest crop in pixels (the crop is resized back)."""
    cutmix: float = 0.5
    """The "cutmix" run's share of images with a pasted rectangle."""
    dropout: float = 0.1
    """Dropout on the attention pattern and on each attention and MLP output."""
    weight_decay: float = 0.3
    """AdamW weight decay of the "weight-decay" run (the others: 0.05)."""
    redundancy_weight: float = 1.0
    """Weight of the redundancy regulariser on the last block's output."""
    workers: int = 2
    """Runs trained at once, each in its own process on one torch thread (1: one at a time)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.seeds, self.train_images, self.batch_size, self.eval_every) < 1:
            raise ValueError("need seeds, train_images, batch_size and eval_every >= 1")
        unknown = sorted(set(self.remedies) - set(REMEDIES))
        if unknown:
            raise ValueError(f"unknown remedy {unknown[0]!r}; choose from {', '.join(REMEDIES)}")
        if "none" not in self.remedies:
            raise ValueError("the remedies need 'none' (the recipe they are judged by)")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")


JOB = Job(
    name="vit-overfitting-mitigation",
    config="experiments.vit_overfitting_mitigation.config:Config",
    run="experiments.vit_overfitting_mitigation.analysis:run",
    summary="experiments.vit_overfitting_mitigation.__main__:summary",
    report="experiments.vit_overfitting_mitigation.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
