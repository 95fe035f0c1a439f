"""What the SmolLM2 attribution-graph reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Attribution graphs on SmolLM2: "The capital of France is" -> " Paris", IOI, induction.

    Reads one transcoder per layer (train them with 'mechscope sae train smollm2-135m
    --transcoder --out results/transcoders-smollm2 --width 2048 --sparsity-coefficient 0.05
    --tokens 300000 --read-tokens 40000 --batch-size 512 --eval-tokens 2000'), builds each
    prompt's graph, and ablates its most influential features one at a time in the real
    model against the graph's predictions, pooled per task (Pearson r with a Fisher
    interval). Example: python -m experiments.smollm_graphs --out results/smollm-graphs
    """

    out: Path = Path("results/smollm-graphs")
    """Where result.json, graphs/ and report.html go."""
    model: str = "smollm2-135m"
    """The model the transcoders were trained on."""
    transcoders: Path = Path("results/transcoders-smollm2")
    """Directory of transcoder-LAYER/ runs (one per layer; a missing layer is error nodes)."""
    facts: int = 4
    """Capital facts graphed (France's first)."""
    ioi: int = 3
    """IOI prompts graphed (template 0; target logit(IO) - logit(S))."""
    induction: int = 3
    """Repeated random-token prompts graphed (20 tokens: BOS, 10 tokens, 9 repeated)."""
    max_features: int = 256
    """Features explored per graph."""
    batch_size: int = 32
    """Features explored per batched backward pass."""
    node_threshold: float = 0.8
    """Share of the features' influence kept."""
    edge_threshold: float = 0.98
    """Share of the edge scores kept."""
    validate: int = 24
    """Features per graph ablated in the real model."""
    scale: float = 0.0
    """Each checked feature is set to scale x its activation (0: ablated)."""
    half_scale: float = 0.5
    """A second, smaller intervention measured too (scale x its activation)."""
    validate_by: str = "total"
    """Which: those of largest predicted effect (total) or the most influential (influence)."""
    seed: int = 0
    """Seed of the IOI names and the induction tokens."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.facts < 1 or self.ioi < 0 or self.induction < 0 or self.validate < 2:
            raise ValueError("need facts >= 1, ioi and induction >= 0, validate >= 2")
        if self.scale == 1 or self.half_scale == 1:
            raise ValueError("scale and half_scale must differ from 1 (no intervention)")
        if self.validate_by not in ("influence", "total"):
            raise ValueError("validate_by is influence or total")


JOB = Job(
    name="smollm-graphs",
    config="experiments.smollm_graphs.config:Config",
    run="experiments.smollm_graphs.analysis:run",
    summary="experiments.smollm_graphs.__main__:summary",
    report="experiments.smollm_graphs.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
