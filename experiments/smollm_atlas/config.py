"""What the head atlas of a real LM runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from experiments.config import ExperimentConfig
from mechscope.core import Job
from mechscope.data import dataset_dir

UD_DEV = dataset_dir("ud_english_ewt") / "en_ewt-ud-dev.conllu"
"""UD English EWT dev, in the shared datasets (`mechscope.data.data_root`: $MECHSCOPE_DATA, or
a shared/data nearby; never copied into the repository)."""


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """A head atlas of a real LM: every head scored for every kind, syntax heads, causal check.

    Scores every head of the model for every forward kind on UD English EWT dev sentences
    (and on repeated random tokens for induction) in the same passes that score dependency
    relations; ablates the top induction heads and random heads of the same layers; and
    summarises each third of the depth. Example:
    python -m experiments.smollm_atlas --out results/smollm-atlas --max-sentences 200
    """

    model: str = "smollm2-135m"
    """Model spec, as `mechscope.models.load_model` takes it."""
    out: Path = Path("results/smollm-atlas")
    """Where result.json, tensors.safetensors and report.html go."""
    conllu: Path = UD_DEV
    """The treebank whose sentences are the prompts (UD English EWT dev by default)."""
    max_sentences: int = 200
    """Sentences read from the treebank (the first ones)."""
    batch_size: int = 16
    """Rows per forward pass."""
    induction_rows: int = 16
    """Repeated-random-token rows for the induction kind and its causal check."""
    seed: int = 0
    """Seed of the random tokens and of the random control heads."""
    check_heads: int = 3
    """Top induction heads ablated in the causal check (every one reported)."""
    controls: int = 3
    """Random non-induction heads of the same layer ablated per top head."""
    workers: int = 1
    """Worker processes (or Ray actors) scoring shards of the sentences; 1: in this process
    (`mechscope.executors`; the same scores)."""
    executor: Literal["local", "ray"] = "local"
    """local: worker processes on this machine; ray: a Ray cluster (--address, or local)."""
    address: str | None = None
    """With --executor ray: the cluster's address (auto, ray://HOST:PORT)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.check_heads < 1 or self.controls < 1:
            raise ValueError("need check_heads >= 1 and controls >= 1")


JOB = Job(
    name="smollm-atlas",
    config="experiments.smollm_atlas.config:Config",
    run="experiments.smollm_atlas.analysis:run",
    summary="experiments.smollm_atlas.__main__:summary",
    report="experiments.smollm_atlas.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
