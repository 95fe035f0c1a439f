"""Diagnostics logged at every evaluation of a run, and the early-stopping signal.

At each evaluation: the gradient norms per block and component of the training step just
before it (before clipping; `mechscope.diagnostics.gradients`), the attention entropy of every
head, the effective rank and the feature redundancy of the stream at every boundary on the
held-out evaluation text, and the held-out minus training loss gap. `should_stop` is the
over-fitting signal: held-out loss rose at each of the last ``patience`` evaluations while
training loss fell (off unless the recipe's ``early_stop_patience`` is set).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.batch import ImageBatch, TokenBatch
from mechscope.diagnostics.attention import attention_stats
from mechscope.diagnostics.gradients import COMPONENTS, grouped_norms
from mechscope.diagnostics.rank import rank_of_representations, redundancy_of_representations
from mechscope.models.base import Model
from mechscope.models.run import boundary_stream


@dataclass(frozen=True)
class TrainingHealth:
    """What one evaluation logs about the run's health."""

    attention_entropy: Float[Tensor, "layer head"]
    """Nats, mean over the held-out evaluation text's queries."""
    effective_rank: list[float]
    """Per boundary, mean over the held-out evaluation windows."""
    grad_norms: Float[Tensor, "layer component"] | None = None
    """Of the training step just before this evaluation (None at step 0)."""
    feature_correlation: list[float] | None = None
    """Per boundary, the mean absolute off-diagonal feature correlation over the held-out
    tokens (`mechscope.diagnostics.feature_redundancy`; None in runs logged before it)."""
    components_90: list[int] | None = None
    """Per boundary, the principal components holding 90 % of the variance."""

    def to_json(self) -> dict[str, Any]:
        """The keys this adds to a ``metrics.jsonl`` line."""
        out: dict[str, Any] = {"attention_entropy": self.attention_entropy.tolist(),
                               "effective_rank": self.effective_rank}  # fmt: skip
        if self.grad_norms is not None:
            out |= {"grad_norms": self.grad_norms.tolist(), "grad_components": list(COMPONENTS)}
        if self.feature_correlation is not None:
            out |= {"feature_correlation": self.feature_correlation,
                    "components_90": self.components_90}  # fmt: skip
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainingHealth | None":
        """Inverse of `to_json`; None for lines written before health was logged."""
        if "attention_entropy" not in data:
            return None
        grads = data.get("grad_norms")
        return cls(torch.tensor(data["attention_entropy"]), list(data["effective_rank"]),
                   None if grads is None else torch.tensor(grads),
                   data.get("feature_correlation"), data.get("components_90"))  # fmt: skip


def gradient_snapshot(model: torch.nn.Module, n_layers: int) -> Float[Tensor, "layer component"]:
    """Gradient norms per block and component of the gradients now on ``model``."""
    grads = {name: param.grad for name, param in model.named_parameters()
             if param.grad is not None}  # fmt: skip
    return grouped_norms(grads, n_layers)[0]


@torch.no_grad()
def health(model: Model, text: TokenBatch | ImageBatch, grads: Tensor | None) -> TrainingHealth:
    """The health of ``model`` on the held-out evaluation text (or images)."""
    was_training = model.training
    model.eval()
    entropy = attention_stats(model, text).entropy
    stream = boundary_stream(model, text)
    rank = [row["effective_rank"]
            for row in rank_of_representations(stream, text.attention_mask).summary()]  # fmt: skip
    redundancy = redundancy_of_representations(stream, text.attention_mask)
    model.train(was_training)
    return TrainingHealth(entropy, [float(r) for r in rank], grads,
                          redundancy.mean_abs_corr.tolist(),
                          redundancy.components_90.tolist())  # fmt: skip


def should_stop(held_out: Sequence[float], train: Sequence[float | None], patience: int) -> bool:
    """Held-out loss rose at each of the last ``patience`` evaluations while training fell."""
    if patience < 1 or len(held_out) < patience + 1:
        return False
    for i in range(len(held_out) - patience, len(held_out)):
        before, after = train[i - 1], train[i]
        if held_out[i] <= held_out[i - 1] or before is None or after is None or after >= before:
            return False
    return True
