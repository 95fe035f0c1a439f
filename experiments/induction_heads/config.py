"""What the induction-head reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Induction heads in a 2-layer vs a 1-layer attention-only model (Elhage et al.

    2021; Olsson et al. 2022): the phase change over training, the in-context-learning score
    with its standard error, previous-token -> induction K-composition, batched ablations
    and attention views, in one offline HTML report plus result.json. By default uses the
    models shipped with mechscope (under a minute); --train retrains both from scratch.
    Example: python -m experiments.induction_heads --out results/induction
    """

    train: bool = False
    """Retrain both models from scratch (into OUT/runs) instead of loading the shipped ones."""
    steps: int | None = None
    """Training steps when --train (default: the recipe's 3000)."""
    from_checkpoints: Path | None = None
    """A directory holding induction-2l/ and induction-1l/ runs to rebuild the report from."""
    out: Path = Path("results/induction")
    """Where result.json, tensors.safetensors and report.html go."""
    eval_prompts: int = 64
    """Rows in each analysis batch (held-out text windows; repeated random tokens)."""
    icl_windows: int = 2048
    """Held-out windows the ICL score and its ablations are measured on (standard errors
    over windows)."""
    threshold: float = 0.4
    """A head is called an induction head when its induction score is at least this."""
    previous_token_threshold: float = 0.3
    """A layer-0 head is called a previous-token head when its previous-token score (on
    repeated random tokens) is at least this; lower than --threshold because small models
    spread that job over heads."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.train and self.from_checkpoints is not None:
            raise ValueError("choose either --train or --from-checkpoints, not both")
        if self.eval_prompts < 2 or self.icl_windows < 2:
            raise ValueError("--eval-prompts and --icl-windows must be at least 2")


JOB = Job(
    name="induction",
    config="experiments.induction_heads.config:Config",
    run="experiments.induction_heads.analysis:run",
    summary="experiments.induction_heads.__main__:summary",
    report="experiments.induction_heads.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
