"""What the whole-claim reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job
from mechscope.data import dataset_dir


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Every claim about depth, measured on SmolLM2 and MiniLM, each with a verdict.

    Per model: probes by layer (UPOS, dependency relation, entity type, coreference chain,
    genre on UD English GUM; the structural probe; sentiment on SST-2, decoders pooled by last
    token and by mean), coreference heads with their causal check, coreferent-mention
    similarity, head kinds and syntactic heads by layer, semantic aggregation heads, the
    logit lens and DLA of facts and sentiment (SmolLM2), layer dropping, and MiniLM
    fine-tuned on SST-2 with the lowest k blocks frozen. Each kind of information gets its
    peak layer with the layers tied with it (95 % intervals) and, for probes, Tenney et al.'s
    expected layer with a bootstrap interval; each of the seven claims a verdict. Parts
    already computed in --out/runs are read back (a cache kept by --overwrite and after a
    failure); the layer-hierarchy experiment's saved probes (UD EWT), when present, are shown
    beside GUM's. Example: python -m experiments.hierarchy --out results/hierarchy
    """

    out: Path = Path("results/hierarchy")
    """Where result.json, report.html and each part (runs/MODEL/PART, a cache) go."""
    models: tuple[str, ...] = ("smollm2-135m", "minilm")
    """Models to measure (a decoder and an encoder)."""
    gum_dir: Path = dataset_dir("ud_english_gum")
    """UD English GUM (train and dev CoNLL-U with Entity= annotation)."""
    sst2: Path = dataset_dir("sst2") / "train.tsv"
    """SST-2's train.tsv (a seeded held-out part is the eval set)."""
    layer_hierarchy: Path = Path("results/layer-hierarchy")
    """The layer-hierarchy experiment's --out, whose UD EWT probes are reused when present."""
    train_sentences: int = 1200
    """GUM train sentences the probes are fitted on (seeded sample)."""
    eval_sentences: int = 400
    """GUM dev sentences they are scored on."""
    sst2_train: int = 1500
    sst2_eval: int = 500
    """SST-2 sentences (full sentences, not phrases) to fit and score the sentiment probe."""
    coref_sentences: int = 800
    """GUM dev sentences read for coreference heads and mention similarity (first ones)."""
    coref_window: int = 4
    """Consecutive sentences read together for coreference."""
    deep_layer_stride: int = 3
    """Probe every k-th boundary of models deeper than 12 layers (the last always)."""
    structural_rank: int = 32
    """Rank of the structural probe."""
    attention_sentences: int = 100
    """GUM dev sentences the head kinds and syntactic heads are scored on."""
    random_controls: bool = True
    """Probe the semantic tasks (entity, chain, genre, sentiment) on each model's random-init
    twin too (the same shape, seeded): what a probe reads from the tokens alone."""
    dropping: bool = True
    """Run layer dropping (single blocks and cumulative from the top)."""
    dropping_sentences: int = 60
    """Eval sentences per readout under layer dropping (GUM for UPOS/entity, SST-2); the LM
    loss is read on 16 GUM sentences. Deep models drop the top k for every third k."""
    finetune: bool = True
    """Fine-tune the encoders on SST-2 with the lowest k blocks frozen."""
    finetune_train: int = 800
    finetune_eval: int = 400
    finetune_seeds: tuple[int, ...] = (0, 1, 2)
    finetune_epochs: int = 1
    seed: int = 0
    """Seed of every sample, probe and control."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.train_sentences, self.eval_sentences, self.sst2_train, self.sst2_eval,
               self.coref_sentences, self.attention_sentences, self.dropping_sentences,
               self.deep_layer_stride, self.coref_window) < 1:  # fmt: skip
            raise ValueError("every sentence count, the stride and the window must be >= 1")
        if self.finetune and len(self.finetune_seeds) < 1:
            raise ValueError("--finetune-seeds needs at least one seed")


JOB = Job(
    name="hierarchy",
    config="experiments.hierarchy.config:Config",
    run="experiments.hierarchy.analysis:run",
    summary="experiments.hierarchy.__main__:summary",
    report="experiments.hierarchy.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce hierarchy` and `python -m` run it."""
