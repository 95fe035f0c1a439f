"""The metrics logged at every evaluation of a run, from two forward passes.

One pass over held-out text gives the held-out loss and the previous-token and
prefix-matching scores; one pass over repeated random tokens gives the first/second-half
losses and the induction score; passes over thousands of held-out windows give the ICL score
and its standard error (`mechscope.core.metrics.icl_per_window`). Only attention patterns are
cached.
"""

from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.core.batch import TokenBatch
from mechscope.core.metrics import (
    icl_per_window,
    loss_per_position,
    mean_and_sem,
    repeated_half_losses,
)
from mechscope.heads.detect import detect_heads, repeated_rows
from mechscope.heads.kinds import HeadKind
from mechscope.heads.settings import DetectionSettings
from mechscope.models.base import Model
from mechscope.training.health import TrainingHealth

HEAD_SCORES = {
    "induction_score": HeadKind.INDUCTION,
    "previous_token_score": HeadKind.PREVIOUS_TOKEN,
    "prefix_matching_score": HeadKind.PREFIX_MATCHING,
}
"""The head scores logged at every evaluation, as `detect_heads` defines them."""


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a model (losses in nats; head scores shaped [layer, head])."""

    held_out_loss: float
    icl_score: float
    """Mean over windows of late-band minus early-band loss (negative: context helps)."""
    icl_score_se: float
    """Standard error of ``icl_score`` over the windows."""
    repeat_first_half_loss: float
    repeat_second_half_loss: float
    induction_score: Float[Tensor, "layer head"]
    previous_token_score: Float[Tensor, "layer head"]
    prefix_matching_score: Float[Tensor, "layer head"]

    def to_json(self) -> dict[str, Any]:
        """Scalars as floats, head scores as nested lists."""
        out: dict[str, Any] = {
            "held_out_loss": self.held_out_loss,
            "icl_score": self.icl_score,
            "icl_score_se": self.icl_score_se,
            "repeat_first_half_loss": self.repeat_first_half_loss,
            "repeat_second_half_loss": self.repeat_second_half_loss,
        }
        return out | {
            "induction_score": self.induction_score.tolist(),
            "previous_token_score": self.previous_token_score.tolist(),
            "prefix_matching_score": self.prefix_matching_score.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Evaluation":
        """Inverse of `to_json` (logs written before the ICL error existed get NaN for it)."""
        return cls(
            held_out_loss=float(data["held_out_loss"]),
            icl_score=float(data["icl_score"]),
            icl_score_se=float(data.get("icl_score_se", float("nan"))),
            repeat_first_half_loss=float(data["repeat_first_half_loss"]),
            repeat_second_half_loss=float(data["repeat_second_half_loss"]),
            induction_score=torch.tensor(data["induction_score"]),
            previous_token_score=torch.tensor(data["previous_token_score"]),
            prefix_matching_score=torch.tensor(data["prefix_matching_score"]),
        )

    @property
    def best_induction_score(self) -> float:
        """The highest induction score of any head."""
        return float(self.induction_score.max())


@dataclass(frozen=True)
class TrainingRecord:
    """One line of ``metrics.jsonl``: where training stood, and what `evaluate` measured."""

    step: int
    tokens_seen: int
    train_loss: float | None
    """Mean training loss since the previous record (None at step 0)."""
    elapsed_s: float
    evaluation: Evaluation
    health: TrainingHealth | None = None
    """Gradient norms, attention entropy, effective rank (None in logs from before them)."""

    @property
    def loss_gap(self) -> float | None:
        """Held-out minus training loss (over-fitting grows it); None at step 0."""
        if self.train_loss is None:
            return None
        return self.evaluation.held_out_loss - self.train_loss

    def to_json(self) -> dict[str, Any]:
        """The flat JSON line written to ``metrics.jsonl``."""
        head = {"step": self.step, "tokens_seen": self.tokens_seen, "train_loss": self.train_loss}
        line = head | {"elapsed_s": self.elapsed_s} | self.evaluation.to_json()
        line["loss_gap"] = self.loss_gap
        return line | (self.health.to_json() if self.health is not None else {})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainingRecord":
        """Inverse of `to_json`."""
        return cls(
            step=int(data["step"]),
            tokens_seen=int(data["tokens_seen"]),
            train_loss=data["train_loss"],
            elapsed_s=float(data["elapsed_s"]),
            evaluation=Evaluation.from_json(data),
            health=TrainingHealth.from_json(data),
        )


ICL_CHUNK = 512


@torch.no_grad()
def icl_scores(
    model: Model,
    tokens: Int[Tensor, "batch pos"],
    bands: tuple[tuple[int, int], tuple[int, int]],
) -> Float[Tensor, " batch"]:
    """The ICL score of every window (`icl_per_window`), ``ICL_CHUNK`` windows per pass."""
    parts = []
    for i in range(0, tokens.shape[0], ICL_CHUNK):
        chunk = tokens[i : i + ICL_CHUNK]
        parts.append(icl_per_window(loss_per_position(model(chunk), chunk), *bands))
    return torch.cat(parts)


def icl_summary(per_window: Float[Tensor, " batch"]) -> dict[str, float]:
    """``icl_score`` and ``icl_score_se`` of per-window scores."""
    mean, se = mean_and_sem(per_window)
    return {"icl_score": mean, "icl_score_se": se}


def eval_settings(n_rows: int, half_length: int, seed: int) -> DetectionSettings:
    """The head-detection settings of an evaluation: ``n_rows`` repeated rows of ``half``."""
    return DetectionSettings(
        induction_rows=n_rows, induction_half_length=half_length, seed=seed, batch_size=64
    )


@torch.no_grad()
def repeat_losses(model: Model, settings: DetectionSettings) -> dict[str, float]:
    """First/second-copy losses on the repeated rows `detect_heads` scores induction on."""
    tokens = torch.tensor(repeated_rows(model, settings)).to(model.cfg.device or "cpu")
    half = (tokens.shape[1] - 1) // 2
    first, second = repeated_half_losses(loss_per_position(model(tokens), tokens), half)
    return {"repeat_first_half_loss": first, "repeat_second_half_loss": second}


@torch.no_grad()
def evaluate(
    model: Model,
    text_tokens: Int[Tensor, "batch pos"],
    settings: DetectionSettings,
    icl_tokens: Int[Tensor, "window pos"],
    icl_bands: tuple[tuple[int, int], tuple[int, int]],
) -> Evaluation:
    """Every logged metric of ``model``.

    Held-out loss and the previous-token and prefix-matching scores on ``text_tokens``;
    repeated-token losses and the induction score on the repeated rows of ``settings``;
    the ICL score on ``icl_tokens``.
    """
    was_training = model.training
    model.eval()
    text = TokenBatch.full(text_tokens)
    scores = detect_heads(model, text, list(HEAD_SCORES.values()), settings, progress=False)
    held_out = float(loss_per_position(model(text_tokens), text_tokens).mean())
    repeat = repeat_losses(model, settings)
    icl = icl_summary(icl_scores(model, icl_tokens, icl_bands))
    model.train(was_training)
    return Evaluation(
        held_out_loss=held_out,
        icl_score=icl["icl_score"],
        icl_score_se=icl["icl_score_se"],
        repeat_first_half_loss=repeat["repeat_first_half_loss"],
        repeat_second_half_loss=repeat["repeat_second_half_loss"],
        induction_score=scores.score(HeadKind.INDUCTION),
        previous_token_score=scores.score(HeadKind.PREVIOUS_TOKEN),
        prefix_matching_score=scores.score(HeadKind.PREFIX_MATCHING),
    )
