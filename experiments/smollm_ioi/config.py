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
    compares attribution with exact patching; screens every earlier head's path into the top
    heads' queries, keys and values by attribution and path-patches the strongest exactly;
    and shows where the top heads attend from the final token.
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
    templates: int = 3
    """Templates the final-position head patching is repeated on (1 to 6): the replicates
    behind each top head's interval."""
    path_senders: int = 5
    """Earlier heads path-patched exactly per receiver input: those with the largest path
    effect estimated by attribution over every earlier head."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.templates <= 6:
            raise ValueError(f"templates must be 1 to 6 (the IOI templates), got {self.templates}")
        if self.path_senders < 1 or self.top_heads < 1:
            raise ValueError("need path_senders >= 1 and top_heads >= 1")


JOB = Job(
    name="smollm-ioi",
    config="experiments.smollm_ioi.config:Config",
    run="experiments.smollm_ioi.analysis:run",
    summary="experiments.smollm_ioi.__main__:summary",
    report="experiments.smollm_ioi.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
