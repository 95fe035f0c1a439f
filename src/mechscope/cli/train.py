"""``mechscope train``: train a small transformer with checkpoints and metric logging."""

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import tyro

from mechscope.cli.common import OutArg
from mechscope.training.config import TrainConfig, VitTrainConfig

if TYPE_CHECKING:
    from mechscope.training.loop import TrainRun
    from mechscope.viz.report import Report

R = TypeVar("R", TrainConfig, VitTrainConfig)


@dataclass(frozen=True, kw_only=True)
class Config:
    """Train a small transformer with checkpoints and metric logging.

    Train a small HookedTransformer (attention-only or with MLPs, 1 to 12 layers) on a
    byte-level corpus (default: the Python standard library's sources) mixed with repeated
    random byte spans. Checkpoints and metrics.jsonl go into --out; --resume continues
    bit-identically from the last checkpoint. Example: mechscope train --out runs/2l
    --n-layers 2 --steps 3000
    """

    out: OutArg
    """The run directory (config.json, metrics.jsonl, checkpoints/)."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint; recipe options given now (other
    than their defaults) must match the saved recipe, except --steps."""
    device: str = "cpu"
    """Where to train ("cpu", "cuda", "cuda:1"...); runs on the CPU are bit-identical on
    resume, runs on a GPU are not."""
    recipe: Annotated[TrainConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=TrainConfig)
    """The training recipe."""


def resolved_recipe(cfg: Config) -> TrainConfig:
    """The recipe: as given, or (``resume``) the saved one with every non-default option applied."""
    if not cfg.resume:
        return cfg.recipe
    from mechscope.training import read_config

    return with_given_options(read_config(cfg.out), cfg.recipe)


def with_given_options(saved: R, given: R) -> R:
    """``saved`` with every field of ``given`` that differs from its class's default."""
    defaults = type(given)()
    changed = {
        f.name: getattr(given, f.name)
        for f in dataclasses.fields(given)
        if getattr(given, f.name) != getattr(defaults, f.name)
    }
    return dataclasses.replace(saved, **changed)


def run(cfg: Config) -> "TrainRun":
    """Train (or resume); the run directory is --out."""
    from mechscope.training import train

    return train(resolved_recipe(cfg), Path(cfg.out), resume=cfg.resume, device=cfg.device)


def summary(run_: "TrainRun", cfg: Config) -> Iterator[str]:  # noqa: ARG001 - Job contract
    """The last evaluation and where everything went."""
    last = run_.records[-1]
    if run_.stopped_early_at is not None:
        patience = run_.config.early_stop_patience
        yield (
            f"stopped early at step {run_.stopped_early_at}: held-out loss rose at {patience} "
            "evaluations in a row while training loss fell"
        )
    ev = last.evaluation
    yield (
        f"step {last.step}: train loss {last.train_loss:.3f}, held-out loss "
        f"{ev.held_out_loss:.3f}, ICL score {ev.icl_score:+.3f} ± {ev.icl_score_se:.3f}, "
        f"repeated tokens {ev.repeat_first_half_loss:.2f} -> {ev.repeat_second_half_loss:.2f} "
        f"nats, best induction score {ev.best_induction_score:.2f}"
    )
    yield f"checkpoint: {run_.final_checkpoint}"
    yield f"metrics: {run_.run_dir / 'metrics.jsonl'}"
    yield f"report: {run_.run_dir / 'report.html'}"


def report(run_: "TrainRun", cfg: Config) -> "Report":  # noqa: ARG001 - Job contract
    """The training curves and health records."""
    from mechscope.viz.training import render_training

    return render_training(run_.records, f"Training run {run_.run_dir.name}")
