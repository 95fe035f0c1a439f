"""What the tuned-lens reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from experiments.config import ExperimentConfig
from mechscope.core import Job
from mechscope.data import dataset_dir

UD_DIR = dataset_dir("ud_english_ewt")
"""UD English EWT beside the checkout (never copied into the repository)."""


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """The tuned lens against the logit lens on a real LM (Belrose et al. 2023).

    Fits one affine translator per layer boundary on text available offline (half Python
    standard-library source, half UD English EWT train sentences): first in closed form, by
    least squares onto the final residual (Din et al. 2023), then by Adam steps on
    KL(final || lens). Compares KL to the final prediction by boundary for the logit lens,
    the least-squares start and the KL-trained lens on held-out text of each kind (held-out
    standard-library files; UD dev), and reads the facts of `mechscope.data.facts` through each
    lens. The defaults fit a 2-core CPU in a few minutes; a GPU takes --steps 1000 --positions 0.
    Example: python -m experiments.smollm_tuned_lens --out results/smollm-tuned-lens
    """

    model: str = "smollm2-135m"
    """Model spec, as `mechscope.models.load_model` takes it."""
    out: Path = Path("results/smollm-tuned-lens")
    """Where result.json, tensors.safetensors, report.html and the lenses go."""
    ud_dir: Path = UD_DIR
    """Directory with en_ewt-ud-train.conllu and en_ewt-ud-dev.conllu."""
    init: Literal["identity", "regression"] = "regression"
    """Start of the KL steps: the identity (Belrose et al.) or the least-squares fit."""
    regression_windows: int = 64
    """Training windows of the least-squares fit (it is fitted in either case, for comparison)."""
    steps: int = 20
    """Adam steps on KL(final || lens)."""
    batch_size: int = 8
    """Windows per step."""
    positions: int = 16
    """Positions per window in each KL step, drawn at random; 0: all."""
    n_ctx: int = 128
    """Tokens per window."""
    lr: float = 1e-4
    """Adam learning rate (from the least-squares start, 1e-3 first undoes some of its fit)."""
    eval_windows: int = 16
    """Held-out windows per kind of text (the samples behind each standard error)."""
    eval_positions: int = 32
    """Positions per held-out window, drawn at random; 0: all."""
    seed: int = 0
    """Seed of every window and position draw."""
    device: str | None = None
    """Torch device (default: CUDA when available, else CPU)."""


JOB = Job(
    name="smollm-tuned-lens",
    config="experiments.smollm_tuned_lens.config:Config",
    run="experiments.smollm_tuned_lens.analysis:run",
    summary="experiments.smollm_tuned_lens.__main__:summary",
    report="experiments.smollm_tuned_lens.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
