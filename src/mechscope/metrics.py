"""Pure functions from logits (and tokens) to losses and scores. No model is run here.

Sign conventions:
- losses are next-token cross-entropies in nats, ``loss[:, i]`` being the loss of
  predicting token ``i + 1`` from positions ``<= i``;
- the in-context-learning score follows Olsson et al. 2022: loss at a late token minus loss
  at an early token, so *negative* means the model predicts better later in the context;
- patching metrics (logit difference, answer loss, answer probability) read each prompt at
  its own position and average over prompts; `normalise` maps a value so that the corrupted
  run is 0 and the clean run is 1 (Wang et al. 2022; Heimersheim & Nanda 2024).
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.errors import MechscopeError


def loss_per_position(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch pos_minus_1"]:
    """Cross-entropy of each next token given the logits at the position before it."""
    log_probs = logits[:, :-1].log_softmax(dim=-1)
    return -log_probs.gather(-1, tokens[:, 1:, None])[..., 0]


def masked_loss(
    logits: Float[Tensor, "batch pos d_vocab"],
    tokens: Int[Tensor, "batch pos"],
    attention_mask: Int[Tensor, "batch pos"],
) -> Float[Tensor, ""]:
    """Mean next-token loss over predictions whose input and target are both real tokens."""
    loss = loss_per_position(logits, tokens)
    mask = (attention_mask[:, 1:] * attention_mask[:, :-1]).to(loss.dtype)
    return (loss * mask).sum() / mask.sum()


def repeated_half_losses(
    loss: Float[Tensor, "batch pos_minus_1"], half_length: int
) -> tuple[float, float]:
    """Mean loss on the first and on the second copy of ``BOS + r + r`` sequences.

    First half: predicting r_2..r_n (r_1 follows BOS, unpredictable either way). Second half:
    predicting the second copy's r_2..r_n, which an induction head can copy.
    """
    first = loss[:, 1:half_length]
    return float(first.mean()), float(second_copy_loss(loss, half_length))


def second_copy_loss(loss: Float[Tensor, "batch pos_minus_1"], half_length: int) -> Tensor:
    """Mean loss predicting the second copy's r_2..r_n of ``BOS + r + r`` (a scalar tensor)."""
    return loss[:, half_length + 1 : 2 * half_length].mean()


def icl_score(loss: Float[Tensor, "batch pos_minus_1"], early: int, late: int) -> float:
    """Olsson et al.'s in-context-learning score: mean loss at token ``late`` minus at ``early``.

    Token indices count from the first predicted token (index 0 is the prediction of token 1).
    Negative: later tokens are predicted better, thanks to the context.
    """
    if not 0 <= early < late < loss.shape[1]:
        raise ValueError(f"need 0 <= early < late < {loss.shape[1]}, got {early}, {late}")
    return float(loss[:, late].mean() - loss[:, early].mean())


def logit_diff(
    logits: Float[Tensor, "batch pos d_vocab"],
    answers: Int[Tensor, " batch"],
    wrong: Int[Tensor, " batch"],
    positions: Int[Tensor, " batch"],
) -> Float[Tensor, ""]:
    """Mean over prompts of logit(answer) - logit(wrong answer) at each prompt's position."""
    rows = torch.arange(logits.shape[0], device=logits.device)
    at = logits[rows, positions.to(logits.device)]
    return (at[rows, answers.to(logits.device)] - at[rows, wrong.to(logits.device)]).mean()


def answer_loss(
    logits: Float[Tensor, "batch pos d_vocab"],
    answers: Int[Tensor, " batch"],
    positions: Int[Tensor, " batch"],
) -> Float[Tensor, ""]:
    """Mean cross-entropy of the answer token at each prompt's position."""
    return -_answer_log_probs(logits, answers, positions).mean()


def answer_probability(
    logits: Float[Tensor, "batch pos d_vocab"],
    answers: Int[Tensor, " batch"],
    positions: Int[Tensor, " batch"],
) -> Float[Tensor, ""]:
    """Mean probability of the answer token at each prompt's position."""
    return _answer_log_probs(logits, answers, positions).exp().mean()


def _answer_log_probs(
    logits: Float[Tensor, "batch pos d_vocab"],
    answers: Int[Tensor, " batch"],
    positions: Int[Tensor, " batch"],
) -> Float[Tensor, " batch"]:
    rows = torch.arange(logits.shape[0], device=logits.device)
    log_probs = logits[rows, positions.to(logits.device)].log_softmax(-1)
    return log_probs[rows, answers.to(logits.device)]


def normalise(value: float, clean: float, corrupted: float) -> float:
    """Map a metric so that the corrupted run is 0 and the clean run is 1."""
    span = clean - corrupted
    return float("nan") if span == 0 else (value - corrupted) / span


def scalar(value: Tensor) -> float:
    """A metric's value as a float.

    Raises:
        MechscopeError: the metric returned anything but a one-element tensor.
    """
    if not isinstance(value, Tensor) or value.numel() != 1:
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise MechscopeError(
            f"the metric must return a scalar tensor, got {shape}; reduce it (e.g. .mean())."
        )
    return float(value)
