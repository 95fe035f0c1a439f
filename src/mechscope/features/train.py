"""Training one SAE at one site, with SAELens's trainer on activations mechscope reads.

    OUT/recipe.json                 the SaeRecipe, the model spec and the hook point
    OUT/checkpoints/N/              SAELens checkpoints (after N training activations):
                                    the training SAE and the trainer's state (resumable)
    OUT/cfg.json, sae_weights.safetensors   the trained SAE, SAELens inference format
    OUT/evaluation/                 its `SaeEvaluation` on held-out text (result.json ...)
    OUT/metrics.json                the evaluation's numbers, flat

The activations are read once from windows of the corpus's training text (``read_tokens``
of them) and fed in a seeded random order, epoch after epoch, for ``tokens`` activations;
held-out windows of the corpus's held-out text are only evaluated on. Resuming replays the
same order from the checkpoint, so a resumed run ends where an uninterrupted one does.
"""

import json
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.errors import MechscopeError
from mechscope.data.corpus import Corpus
from mechscope.features.activations import SiteReader, shuffled_batches, site_activations
from mechscope.features.config import SaeRecipe
from mechscope.features.evaluate import SaeEvaluation, evaluate_sae
from mechscope.features.sae import load_sae, training_sae
from mechscope.features.sites import site_width
from mechscope.models.adapter import model_spec
from mechscope.models.base import Model
from mechscope.models.tokens import corpus_windows

if TYPE_CHECKING:
    from sae_lens import SAE, TrainingSAE


@runtime_checkable
class Measured(Protocol):
    """An evaluation `save_evaluation` writes: a Result with a flat ``metrics()``."""

    def metrics(self) -> dict[str, float]: ...  # noqa: D102

    def save(self, directory: str | Path) -> Path: ...  # noqa: D102


E = TypeVar("E", bound=Measured)

RECIPE_FILE = "recipe.json"
CHECKPOINTS = "checkpoints"
METRICS_FILE = "metrics.json"
EVALUATION = "evaluation"


@dataclass(frozen=True)
class TrainedSae:
    """A trained SAE, where it was saved, and how it measured on held-out text."""

    sae: "SAE[Any]"
    directory: Path
    evaluation: SaeEvaluation
    resumed_from: int | None
    """Training activations of the checkpoint the run resumed from (None: a fresh run)."""


def corpus_windows_for(
    model: Model, text: bytes, tokens: int, recipe: SaeRecipe, *, seed: int | None = None
) -> torch.Tensor:
    """Windows of ``recipe.n_ctx`` tokens (at most the model's) holding about ``tokens``."""
    return _windows(model, text, tokens, recipe.n_ctx, recipe.seed if seed is None else seed)


def save_evaluation(out: Path, evaluation: E) -> E:
    """Write ``evaluation`` into ``OUT/evaluation/`` (replacing any); return it.

    Its numbers go to ``OUT/metrics.json`` too.
    """
    if (out / EVALUATION).exists():
        shutil.rmtree(out / EVALUATION)
    evaluation.save(out / EVALUATION)
    (out / METRICS_FILE).write_text(json.dumps(evaluation.metrics(), indent=1) + "\n")
    return evaluation


def prepare_out(out: Path, record: dict[str, Any]) -> None:
    """Start a run without checkpoints in ``out`` (refusing a directory holding other files)."""
    _start(out, record, resume=False)


def _windows(model: Model, text: bytes, tokens: int, n_ctx: int, seed: int) -> torch.Tensor:
    n_ctx = min(n_ctx, model.cfg.n_ctx)
    generator = torch.Generator().manual_seed(seed)
    return corpus_windows(model, text, max(1, math.ceil(tokens / (n_ctx - 1))), n_ctx, generator)


def _recipe_record(recipe: SaeRecipe, model: Model, hook: str) -> dict[str, Any]:
    return {"recipe": recipe.to_json(), "model": model_spec(model), "hook": hook}


def _start(out: Path, record: dict[str, Any], resume: bool) -> Path | None:
    """Prepare ``out``; the checkpoint to resume from (None: start afresh)."""
    saved = out / RECIPE_FILE
    checkpoints = sorted(
        (p for p in (out / CHECKPOINTS).glob("*") if p.name.isdigit()), key=lambda p: int(p.name)
    )
    if resume:
        if not saved.is_file():
            raise MechscopeError(f"{out} holds no SAE run to resume; start it without --resume.")
        before = json.loads(saved.read_text())
        if before != record:
            changed = sorted(
                k for k in record["recipe"] if before["recipe"].get(k) != record["recipe"][k]
            )
            what = ", ".join(changed) or "the model or site"
            raise MechscopeError(
                f"cannot resume {out}: {what} differ from the run's. Resume with the same "
                "options, or start a new --out."
            )
        if not checkpoints:
            raise MechscopeError(f"{out} has no checkpoint yet; start it again without --resume.")
        return checkpoints[-1]
    if saved.is_file() and checkpoints:
        raise MechscopeError(
            f"{out} already holds an SAE run (last checkpoint after {checkpoints[-1].name} "
            "activations); pass --resume to continue it, or choose another --out."
        )
    if out.is_dir() and not saved.is_file() and any(out.iterdir()):
        raise MechscopeError(f"{out} is not empty and holds no SAE run; choose an empty --out.")
    out.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(record, indent=2))
    return None


def fit_sae(
    activations: Float[Tensor, "token d_in"],
    recipe: SaeRecipe,
    *,
    device: str = "cpu",
    checkpoints: Path | None = None,
    resume_from: Path | None = None,
    progress: bool = True,
) -> tuple["TrainingSAE", int | None]:
    """Train a fresh SAE of ``recipe`` on ``activations`` with SAELens's trainer.

    ``recipe.tokens`` activations in batches of ``recipe.batch_size``, in a seeded random
    order over ``activations`` (epoch after epoch), Adam at ``recipe.lr`` after a linear
    warm-up over the first 5 % of steps. ``checkpoints``: where SAELens writes its
    ``recipe.checkpoints`` checkpoints; ``resume_from``: one of them to continue from (the
    batch order is replayed up to it). Returns the SAE and the training activations of the
    checkpoint resumed from (None for a fresh run).
    """
    import sae_lens
    from sae_lens.config import SAETrainerConfig

    sae = training_sae(recipe, activations.shape[-1], device=device)
    steps = max(1, recipe.tokens // recipe.batch_size)
    trainer_cfg = SAETrainerConfig(
        total_training_samples=steps * recipe.batch_size,
        train_batch_size_samples=recipe.batch_size,
        lr=recipe.lr,
        lr_end=recipe.lr,
        lr_warm_up_steps=max(1, steps // 20),
        device=device,
        n_checkpoints=recipe.checkpoints if checkpoints is not None else 0,
        checkpoint_path=str(checkpoints) if checkpoints is not None else None,
        dead_feature_window=max(1, min(1000, steps // 4)),
        feature_sampling_window=max(1, min(2000, steps // 2)),
    )
    batches = shuffled_batches(activations, recipe.batch_size, seed=recipe.seed, device=device)
    trainer = sae_lens.SAETrainer(trainer_cfg, sae, batches)
    resumed = None
    if resume_from is not None:
        sae.load_weights_from_checkpoint(resume_from)
        trainer.load_trainer_state(resume_from)
        resumed = trainer.n_training_samples
        # SAELens saves a checkpoint before counting the step it ends (n_training_steps is
        # one short); the batches trained on are what the checkpoint holds.
        trainer.n_training_steps = resumed // recipe.batch_size
        for _ in range(trainer.n_training_steps):  # replay the batch order up to the checkpoint
            next(batches)
        trainer.checkpoint_thresholds = [
            t for t in trainer.checkpoint_thresholds if t >= trainer.n_training_samples
        ]
    with _quiet(not progress):
        trainer.fit()
    return sae, resumed


@contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """SAELens's own progress bar off when ``quiet`` (it has no switch of its own)."""
    if not quiet:
        yield
        return
    from sae_lens.training import sae_trainer

    original = sae_trainer.tqdm
    sae_trainer.tqdm = partial(original, disable=True)  # pyright: ignore[reportAttributeAccessIssue]
    try:
        yield
    finally:
        sae_trainer.tqdm = original


def train_sae(
    model: Model,
    hook: str,
    corpus: Corpus,
    recipe: SaeRecipe,
    out: str | Path,
    *,
    resume: bool = False,
    device: str = "cpu",
    progress: bool = True,
    reader: SiteReader | None = None,
) -> TrainedSae:
    """Train one SAE on ``model``'s activations at ``hook`` (module doc); save and evaluate it.

    ``reader``: how the training activations are read (default: `site_activations`, in this
    process; `mechscope.executors.sharded_read_sites` reads them on workers).

    Raises:
        MechscopeError: ``out`` holds something else, a resume that does not match, a corpus
            too small for the windows, or a recipe the site cannot take.
    """
    out = Path(out)
    recipe.width_for(site_width(model, hook))  # refuse a k larger than the width before writing
    start = _start(out, _recipe_record(recipe, model, hook), resume)
    windows = _windows(model, corpus.train.tobytes(), recipe.read_tokens, recipe.n_ctx, recipe.seed)
    if reader is None:
        activations = site_activations(model, windows, hook, progress=progress)
    else:
        activations = reader(model, windows, [hook])[0]
    sae, resumed = fit_sae(
        activations[: recipe.read_tokens], recipe, device=device,
        checkpoints=out / CHECKPOINTS, resume_from=start, progress=progress,
    )  # fmt: skip
    sae.cfg.metadata.hook_name = hook
    sae.cfg.metadata.model_name = model_spec(model)
    sae.save_inference_model(out)
    inference = load_sae(out, device=device)
    held_out = _windows(
        model, corpus.held_out.tobytes(), recipe.eval_tokens, recipe.n_ctx, recipe.seed + 1
    )
    evaluation = evaluate_sae(model, inference, hook, held_out, progress=progress)
    evaluation = save_evaluation(out, evaluation.with_provenance(recipe, model_spec(model)))
    return TrainedSae(inference, out, evaluation, resumed)
