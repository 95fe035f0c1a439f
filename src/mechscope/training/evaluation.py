"""The metrics logged at every evaluation of a run, from two forward passes.

One pass over held-out text gives the held-out loss, Olsson's ICL score, and the
previous-token and prefix-matching scores; one pass over repeated random tokens gives the
first/second-half losses and the induction score. Only attention patterns are cached.
"""

from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.head_scores import induction_score, prefix_matching_score, previous_token_score
from mechscope.metrics import icl_score, loss_per_position, repeated_half_losses
from mechscope.models.base import Model
from mechscope.sites import Component, hook_names

HEAD_SCORES = ("induction_score", "previous_token_score", "prefix_matching_score")


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a model (losses in nats; head scores shaped [layer, head])."""

    held_out_loss: float
    icl_score: float
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
            "repeat_first_half_loss": self.repeat_first_half_loss,
            "repeat_second_half_loss": self.repeat_second_half_loss,
        }
        return out | {name: getattr(self, name).tolist() for name in HEAD_SCORES}


def patterns_and_loss(
    model: Model, tokens: Int[Tensor, "batch pos"]
) -> tuple[Float[Tensor, "batch layer head dest_pos src_pos"], Float[Tensor, "batch pos_minus_1"]]:
    """Attention patterns of every layer and the per-position loss, from one forward pass."""
    names = hook_names(Component.PATTERN, model.cfg.n_layers)
    logits, cache = model.run_with_cache(tokens, names_filter=names)
    assert isinstance(logits, Tensor)
    patterns = torch.stack([cache[name] for name in names], dim=1)
    return patterns, loss_per_position(logits, tokens)


@torch.no_grad()
def repeat_losses(
    model: Model, tokens: Int[Tensor, "batch pos"], half_length: int
) -> tuple[dict[str, float], Float[Tensor, "batch layer head dest_pos src_pos"]]:
    """First/second-copy losses on BOS + r + r rows, and the patterns of that pass."""
    patterns, loss = patterns_and_loss(model, tokens)
    first, second = repeated_half_losses(loss, half_length)
    return {"repeat_first_half_loss": first, "repeat_second_half_loss": second}, patterns


@torch.no_grad()
def text_losses(
    model: Model, tokens: Int[Tensor, "batch pos"], icl_positions: tuple[int, int]
) -> tuple[dict[str, float], Float[Tensor, "batch layer head dest_pos src_pos"]]:
    """Held-out loss and ICL score on text windows, and the patterns of that pass."""
    patterns, loss = patterns_and_loss(model, tokens)
    losses = {"held_out_loss": float(loss.mean()), "icl_score": icl_score(loss, *icl_positions)}
    return losses, patterns


@torch.no_grad()
def evaluate(
    model: Model,
    text_tokens: Int[Tensor, "batch pos"],
    repeat_tokens: Int[Tensor, "batch repeat_pos"],
    half_length: int,
    icl_positions: tuple[int, int],
) -> Evaluation:
    """All logged metrics of ``model`` on a held-out text batch and a BOS + r + r batch."""
    was_training = model.training
    model.eval()
    text, text_patterns = text_losses(model, text_tokens, icl_positions)
    repeat, repeat_patterns = repeat_losses(model, repeat_tokens, half_length)
    model.train(was_training)
    return Evaluation(
        **text,
        **repeat,
        induction_score=induction_score(repeat_patterns, half_length),
        previous_token_score=previous_token_score(text_patterns),
        prefix_matching_score=prefix_matching_score(text_patterns, text_tokens),
    )
