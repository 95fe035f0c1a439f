"""What the SmolLM2 features reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Which SmolLM2 features carry the answer in IOI and in facts, and steering with them.

    Reads the residual-stream SAEs the feature-hierarchy experiment trained (its
    --out/runs) and, where present, their labels. For IOI (ABC corruption) and for capital
    facts (another country's prompt as the corruption), every feature of each chosen layer is
    patched from the clean into the corrupted prompts: first order for all of them, exactly
    for the top ones, normalised (corrupted 0, clean 1), beside the head-level finding. Then
    steering: the best sentiment features added on a review prompt, and the top fact feature
    added on another country's prompt. Example:
    python -m experiments.smollm_features --out results/smollm-features
    """

    out: Path = Path("results/smollm-features")
    """Where result.json and report.html go."""
    model: str = "smollm2-135m"
    """The model the SAEs were trained on."""
    hierarchy: Path = Path("results/feature-hierarchy")
    """The feature-hierarchy run whose SAEs (runs/) and labels are read."""
    layers: tuple[int, ...] = (12, 15, 18, 21, 24, 27)
    """Residual layers (resid_post) whose features are patched (each needs an SAE)."""
    n_prompts: int = 16
    """Prompts per task."""
    top_k: int = 10
    """Features per layer measured exactly (each alone, then all together)."""
    per_prompt: int = 4
    """Prompts whose own best feature is found and patched alone (answer-specific features
    matter in few prompts of a batch)."""
    steer_layer: int = 24
    """Layer whose features are added when steering."""
    steer_scale: float = 1.0
    """Added activation, in units of the residual stream's mean norm at that layer."""
    seed: int = 0
    """Seed of the IOI names."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_prompts < 2 or self.top_k < 1 or self.steer_scale <= 0:
            raise ValueError("need n_prompts >= 2, top_k >= 1 and a positive steer_scale")


JOB = Job(
    name="smollm-features",
    config="experiments.smollm_features.config:Config",
    run="experiments.smollm_features.analysis:run",
    summary="experiments.smollm_features.__main__:summary",
    report="experiments.smollm_features.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
