"""What the layer-hierarchy reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job
from mechscope.data import dataset_dir

UD_DIR = dataset_dir("ud_english_ewt")
"""UD English EWT train and dev, beside the checkout (never copied into the repository)."""


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Probe every layer of MiniLM and SmolLM2 on UD English EWT; CKA across a phase change.

    For each model: word representations (mean over sub-tokens) of the train split fit linear
    probes per layer for UPOS, dependency relation, tree depth and distance to the head, and
    sentence representations (the mean of their word vectors) one for the genre; each is
    scored on dev with a 95 % interval by sentence, the control task, a random-init model of
    the same shape and the majority class; then the structural probe (UUAS, Spearman) and the
    CKA matrix between layers. Last, a 2-layer induction model is trained with a checkpoint
    every 100 steps, and linear CKA between consecutive checkpoints shows which layer's
    representation changes at the phase change. Example:
    python -m experiments.layer_hierarchy --out results/layer-hierarchy
    """

    out: Path = Path("results/layer-hierarchy")
    """Where result.json, report.html, each model's results and the training run go."""
    models: tuple[str, ...] = ("minilm", "smollm2-135m")
    """Models to probe (an encoder and a decoder)."""
    ud_dir: Path = UD_DIR
    """Directory with en_ewt-ud-train.conllu and en_ewt-ud-dev.conllu."""
    train_sentences: int | None = None
    """Train sentences for models of at most 12 layers (default: all 12,544)."""
    deep_train_sentences: int | None = 4000
    """Train sentences for deeper models (SmolLM2: 30 layers; CPU time), evenly spread."""
    deep_layer_stride: int = 3
    """Probe every k-th boundary of deeper models (the last one always)."""
    eval_sentences: int | None = None
    """Dev sentences (default: all 2,001)."""
    structural_rank: int = 128
    """Rank of the structural probe."""
    phase_steps: int = 2400
    """Steps of the 2-layer induction run whose checkpoints are compared (its phase change
    comes at step 1650 with the shipped recipe)."""
    checkpoint_every: int = 100
    """Steps between its checkpoints."""
    phase_run: Path | None = None
    """A checkpointed run of that recipe to read instead of training one (its config.json must
    match --phase-steps, --checkpoint-every and --seed; checkpoints may start later than the
    first, e.g. only those from step 500)."""
    seed: int = 0
    """Seed of probes, control labels, random-init models and the training run."""
    structural_checks: bool = True
    """Refit the structural probe at its worst boundary on standardised features (and with
    10x the learning rate), to tell the features' scale from the optimiser."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.deep_layer_stride < 1 or self.checkpoint_every < 50 or self.checkpoint_every % 50:
            raise ValueError("need deep_layer_stride >= 1 and checkpoint_every a multiple of 50")


JOB = Job(
    name="layer-hierarchy",
    config="experiments.layer_hierarchy.config:Config",
    run="experiments.layer_hierarchy.analysis:run",
    summary="experiments.layer_hierarchy.__main__:summary",
    report="experiments.layer_hierarchy.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
