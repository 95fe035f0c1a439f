"""What the ViT attention reproduction runs (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path

from experiments.config import ExperimentConfig
from mechscope.core import Job


@dataclass(frozen=True, kw_only=True)
class Config(ExperimentConfig):
    """Attention on the image grid of each shipped ViT, against the ViT papers' claims.

    For each model, on its held-out images: accuracy; mean attention distance per head and
    layer (Dosovitskiy et al. 2020, fig. 7) and its trend over layers; the share of [CLS]
    attention and of attention rollout (Abnar & Zuidema 2020) on the object against chance,
    per layer; 2-D head kinds; the class lens by layer; patching of patch positions from each
    image into the same image with its object removed. Example:
    python -m experiments.vit_attention --out results/vit-attention
    """

    out: Path = Path("results/vit-attention")
    """Where result.json, tensors.safetensors and report.html go."""
    models: tuple[str, ...] = ("vit-digits", "vit-shapes")
    """Shipped ViTs (or ViT checkpoint directories) to measure."""
    n_images: int = 400
    """Held-out images for the attention measures and the class lens (at most the set)."""
    n_patching: int = 48
    """Held-out images patched (each against itself with the object removed)."""
    n_probe_train: int = 1000
    """Training images the probes are fitted on (evaluated on the held-out images above)."""
    radius: int = 1
    """Patch radius of a local head's neighbourhood."""
    examples: int = 2
    """Example images whose attention maps the report draws."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.n_images, self.n_patching, self.examples, self.n_probe_train) < 1 or (
            self.radius < 0
        ):
            raise ValueError(
                "n_images, n_patching, n_probe_train and examples must be positive, radius >= 0"
            )


JOB = Job(
    name="vit-attention",
    config="experiments.vit_attention.config:Config",
    run="experiments.vit_attention.analysis:run",
    summary="experiments.vit_attention.__main__:summary",
    report="experiments.vit_attention.analysis:report",
)
"""This experiment as a Job: `mechscope reproduce NAME` and `python -m` run it."""
