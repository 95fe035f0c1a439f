"""``mechscope train-vit``: train a small vision transformer on digits or shapes."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import tyro

from mechscope.cli.common import OutArg
from mechscope.cli.train import with_given_options
from mechscope.training.config import VitTrainConfig

if TYPE_CHECKING:
    from mechscope.training.vision import VitRun
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Train a small ViT with checkpoints and metric logging.

    A ViT (patch embedding, learned positions, [CLS], pre-LN blocks with MLPs, a class head
    on [CLS]) on scikit-learn's digits (16x16) or generated shapes (32x32), with the text
    trainer's checkpoints, metrics.jsonl and bit-identical --resume. Example: mechscope
    train-vit --out runs/vit-digits --dataset digits --steps 2000
    """

    out: OutArg
    """The run directory (config.json, metrics.jsonl, checkpoints/, report.html)."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint; recipe options given now (other
    than their defaults) must match the saved recipe, except --steps."""
    device: str = "cpu"
    """Where to train ("cpu", "cuda", "cuda:1"...); runs on the CPU are bit-identical on
    resume, runs on a GPU are not."""
    recipe: Annotated[VitTrainConfig, tyro.conf.OmitArgPrefixes] = field(
        default_factory=VitTrainConfig
    )
    """The training recipe."""


def resolved_recipe(cfg: Config) -> VitTrainConfig:
    """The recipe: as given, or (``resume``) the saved one with every non-default option applied."""
    if not cfg.resume:
        return cfg.recipe
    from mechscope.training.run_dir import read_recipe

    return with_given_options(read_recipe(cfg.out, VitTrainConfig), cfg.recipe)


def run(cfg: Config) -> "VitRun":
    """Train (or resume); the run directory is --out."""
    from mechscope.training.vision import train_vit

    return train_vit(resolved_recipe(cfg), Path(cfg.out), resume=cfg.resume, device=cfg.device)


def summary(run_: "VitRun", cfg: Config) -> Iterator[str]:  # noqa: ARG001 - Job contract
    """The last evaluation and where everything went."""
    last = run_.records[-1]
    yield (
        f"step {last.step}: train loss {last.train_loss:.3f}, held-out loss "
        f"{last.held_out_loss:.3f}, held-out accuracy {last.held_out_accuracy:.3f} ± "
        f"{last.held_out_accuracy_se:.3f}, training accuracy {last.train_accuracy:.3f}"
    )
    yield f"checkpoint: {run_.final_checkpoint}"
    yield f"metrics: {run_.run_dir / 'metrics.jsonl'}"
    yield f"report: {run_.run_dir / 'report.html'}"


def report(run_: "VitRun", cfg: Config) -> "Report":  # noqa: ARG001 - Job contract
    """The training curves."""
    from mechscope.viz.training import render_vit_training

    return render_vit_training(run_.records, f"ViT training run {run_.run_dir.name}")
