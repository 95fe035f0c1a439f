"""What the feature-hierarchy reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job
from mechscope.data import dataset_dir


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """How abstract each layer's SAE features are, MiniLM (every layer) and SmolLM2 (a third).

    SAEs on the residual stream; each feature labelled by the annotation it aligns with best;
    per layer, the share of features at each level of abstraction.
    Per model: one pass reads the residual stream (resid_post) of every chosen layer over
    windows of UD EWT + GUM train text and SST-2 sentences; one TopK SAE per layer is trained
    on it (SAELens) and measured on held-out windows (explained variance, L0, dead). The
    features are then labelled on UD EWT dev, UD GUM dev, held-out SST-2 sentences and
    repeated random tokens (token, UPOS, relation, entity, coreference, sentiment, genre,
    position, induction), with precision, recall and F1 on held-out rows and a shuffled-label
    control (mechscope.features.label_features). Shares of live features per level come with
    95 % bootstrap intervals over features. Example:
    python -m experiments.feature_hierarchy --out results/feature-hierarchy
    """

    out: Path = Path("results/feature-hierarchy")
    """Where result.json, report.html and each model's SAEs and labels go."""
    models: tuple[str, ...] = ("minilm", "smollm2-135m")
    """Models whose layers get SAEs."""
    deep_layer_stride: int = 3
    """Every k-th layer of models deeper than 12 layers (the last one always)."""
    expansion: int = 8
    """Features per residual dimension."""
    k: int = 32
    """Active features per token (TopK)."""
    train_tokens: int = 200_000
    """Training activations per SAE (with repeats over the read ones)."""
    read_tokens: int = 100_000
    """Activations read per layer (one pass for every layer)."""
    eval_tokens: int = 10_000
    """Held-out activations the reconstruction is measured on."""
    n_ctx: int = 128
    """Tokens per text window."""
    loss_tokens: int = 0
    """Held-out tokens on which a decoder's next-token loss is measured with each SAE spliced
    in, zero- and mean-ablated (loss recovered); 0: not measured (five passes per layer)."""
    label_sentences: int = 600
    """Sentences of each dev treebank (UD EWT, UD GUM) the features are labelled on."""
    label_reviews: int = 600
    """SST-2 sentences the features are labelled on (left out of the SAEs' training text)."""
    induction_rows: int = 48
    """Rows of repeated random tokens (24 + 24) for the induction label."""
    n_shuffles: int = 20
    """Shuffles of the held-out labels in the control."""
    min_f1: float = 0.2
    """A label explains a feature only from this held-out F1 on."""
    ewt_dir: Path = dataset_dir("ud_english_ewt")
    """Directory with en_ewt-ud-train.conllu and en_ewt-ud-dev.conllu."""
    gum_dir: Path = dataset_dir("ud_english_gum")
    """Directory with en_gum-ud-train.conllu and en_gum-ud-dev.conllu."""
    sst2_dir: Path = dataset_dir("sst2")
    """Directory with SST-2's train.tsv."""
    seed: int = 0
    """Seed of the windows, the SAEs, the label samples and the controls."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.deep_layer_stride, self.expansion, self.k, self.train_tokens,
               self.read_tokens, self.eval_tokens, self.label_sentences,
               self.label_reviews) < 1:  # fmt: skip
            raise ValueError("strides, sizes and counts must be at least 1")
        if not 0 < self.min_f1 < 1:
            raise ValueError("min_f1 must lie between 0 and 1")


JOB = Job(
    name="feature-hierarchy",
    config="experiments.feature_hierarchy.config:Config",
    run="experiments.feature_hierarchy.analysis:run",
    summary="experiments.feature_hierarchy.__main__:summary",
    report="experiments.feature_hierarchy.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
