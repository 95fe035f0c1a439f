"""What the IOI circuit reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Indirect object identification in a real LM (Wang et al. 2022), with the causal toolkit.

    Measures the logit difference IO - S on prompts from every template, then, on one
    template (positions aligned), patches the residual stream by layer and position, attention
    and MLP outputs by layer, and every head's output (all positions, and the final one);
    compares attribution with exact patching; path-patches the strongest earlier heads into
    the top heads' queries; and shows where the top heads attend from the final token.
    Example: python -m experiments.smollm_ioi --out results/smollm-ioi
    """

    model: str = "smollm2-135m"
    """Model spec, as `mechscope.models.load_model` takes it."""
    out: Path = Path("results/smollm-ioi")
    """Where result.json, tensors.safetensors and report.html go."""
    n_prompts: int = 48
    """Prompts for the behaviour (all templates in turn)."""
    n_patch_prompts: int = 16
    """Prompts of the one template the patching runs on."""
    top_heads: int = 3
    """Heads named, path-patched into and shown."""


JOB = Job(
    name="smollm-ioi",
    config="experiments.smollm_ioi.config:Config",
    run="experiments.smollm_ioi.analysis:run",
    summary="experiments.smollm_ioi.__main__:summary",
    report="experiments.smollm_ioi.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
