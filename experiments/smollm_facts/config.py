"""What the facts logit-lens reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """The logit lens on factual completions in a real LM (nostalgebraist 2020).

    Runs every fact of `mechscope.data.facts` (capitals, languages, currencies, ...) through
    the model, keeps the ones it answers at top-1, and reads the answer's rank, probability
    and KL to the final prediction after every layer; also the top-5 tokens per layer for
    "The capital of France is". Default model: SmolLM2-135M-Instruct (its 4-bit GGUF,
    dequantised). Example: python -m experiments.smollm_facts --out results/smollm-facts
    """

    model: str = "smollm2-135m"
    """Model spec, as `mechscope.models.load_model` takes it."""
    out: Path = Path("results/smollm-facts")
    """Where result.json, tensors.safetensors and report.html go."""
    k: int = 5
    """Top tokens kept per layer."""
    batch_size: int = 16
    """Prompts per forward pass."""


JOB = Job(
    name="smollm-facts",
    config="experiments.smollm_facts.config:Config",
    run="experiments.smollm_facts.analysis:run",
    summary="experiments.smollm_facts.__main__:summary",
    report="experiments.smollm_facts.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
