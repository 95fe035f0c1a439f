"""What the SmolLM2 direct-logit-attribution reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Direct logit attribution in a real LM: who writes the fact, who writes the IO name.

    On SmolLM2-135M (its 4-bit GGUF, dequantised): the direct effect of every head and MLP on
    the answer's logit for the factual prompts the model answers at top-1, and on the logit
    difference IO - S for IOI prompts (do the heads activation patching named also write the
    answer directly?); the conveyor belt of "The capital of France is" next to its logit lens;
    and the OV copying scores of its induction heads. Example:
    python -m experiments.smollm_dla --out results/smollm-dla
    """

    model: str = "smollm2-135m"
    """Model spec, as `mechscope.models.load_model` takes it."""
    out: Path = Path("results/smollm-dla")
    """Where result.json, tensors.safetensors and report.html go."""
    ioi_prompts: int = 48
    """IOI prompts (all templates in turn)."""
    induction_rows: int = 8
    """Rows of repeated random tokens for finding the induction heads."""
    batch_size: int = 16
    """Prompts per forward pass."""


JOB = Job(
    name="smollm-dla",
    config="experiments.smollm_dla.config:Config",
    run="experiments.smollm_dla.analysis:run",
    summary="experiments.smollm_dla.__main__:summary",
    report="experiments.smollm_dla.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
