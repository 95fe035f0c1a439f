"""What the over-fitting reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Train on a tiny corpus until held-out loss rises; follow the representations meanwhile.

    A 2-block transformer with MLPs (the default width, d_model 128) learns one small file
    (``textwrap.py`` from the standard library, about 20 KB; its last 5% held out) as plain
    next-byte prediction, with the over-fitting signal on (`early_stop_patience`): the run
    stops once held-out loss has risen at that many evaluations in a row while training loss
    fell. Every evaluation is checkpointed; at each, the stream at every boundary on the
    held-out windows is labelled by byte class (letter, digit, white space, punctuation) and
    measured: intra-/inter-class distance ratio and effective rank
    (`mechscope.diagnostics.class_geometry`). Several seeds; runs already complete in
    ``out/runs`` are read back. Example: python -m experiments.overfitting --out results/overfitting
    """

    out: Path = Path("results/overfitting")
    """Where result.json, tensors.safetensors, report.html and the runs go."""
    corpus: tuple[str, ...] = ()
    """The tiny corpus (empty: the standard library's textwrap.py)."""
    steps: int = 1500
    """Most steps per run (early stopping usually ends it sooner)."""
    eval_every: int = 50
    """Steps between evaluations (each one checkpointed)."""
    patience: int = 3
    """Evaluations of rising held-out loss (with falling training loss) that stop the run."""
    seeds: int = 3
    """Runs (one seed each): the samples behind each standard error."""
    windows: int = 8
    """Held-out windows whose tokens are measured."""
    batch_size: int = 32
    """Windows of 128 bytes per training step."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.seeds, self.patience, self.windows, self.batch_size) < 1:
            raise ValueError("need seeds, patience, windows and batch size >= 1")


JOB = Job(
    name="overfitting",
    config="experiments.overfitting.config:Config",
    run="experiments.overfitting.analysis:run",
    summary="experiments.overfitting.__main__:summary",
    report="experiments.overfitting.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
