"""Causal check of head labels: ablate each top head of a kind and measure what it predicts.

A head labelled with a kind should matter for the behaviour that kind explains. Each of the
``k`` best heads of the kind is zero-ablated on its own (batched, `ablation_effects`), and so
is each of ``k`` control heads (the lowest-scoring ones), on the metric the kind predicts:

- induction and previous-token heads: the loss on the second copy of repeated random tokens
  (Olsson et al. 2022: these heads form the induction circuit);
- every other kind: the mean next-token loss on the prompts.

Positive change = the loss rose when the head was removed. Needs a model with an
unembedding (a loss); sentence embedders such as MiniLM have none.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor

from mechscope.ablation import AblationEffects, AblationType, ablation_effects
from mechscope.errors import MechscopeError
from mechscope.heads.detect import DetectionSettings, repeated_rows
from mechscope.heads.kinds import HeadKind
from mechscope.heads.scores import HeadScores
from mechscope.metrics import loss_per_position, masked_loss, second_copy_loss
from mechscope.models.base import Model, has_lm_head, is_encoder
from mechscope.tokens import TokenBatch, pad_token_lists, tokenize

CIRCUIT_KINDS = (HeadKind.INDUCTION, HeadKind.PREVIOUS_TOKEN)


@dataclass(frozen=True)
class Verification:
    """The metric with each top head and each control head ablated."""

    kind: HeadKind
    metric: str
    top: AblationEffects
    control: AblationEffects
    top_scores: tuple[float, ...]
    control_scores: tuple[float, ...]

    @property
    def specific(self) -> bool:
        """Whether removing top heads costs more, on average, than removing controls."""
        return float(self.top.change.mean()) > float(self.control.change.mean())

    def rows(self) -> list[dict[str, object]]:
        """One row per ablated head: group, head, its score, and the metric change."""
        out = []
        for group, effects, scores in (
            ("top", self.top, self.top_scores),
            ("control", self.control, self.control_scores),
        ):
            for row, score in zip(effects.to_rows(), scores, strict=True):
                out.append({"group": group, "score": score, **row})
        return out


def _second_half_loss(half: int):  # noqa: ANN202 - returns a metric closure
    def metric(logits: Float[Tensor, "batch pos d_vocab"], batch: TokenBatch) -> Tensor:
        return second_copy_loss(loss_per_position(logits, batch.tokens), half)

    return metric


def text_loss(logits: Float[Tensor, "batch pos d_vocab"], batch: TokenBatch) -> Tensor:
    """Mean next-token loss over the real tokens of ``batch`` (an `ablation_effects` metric)."""
    return masked_loss(logits, batch.tokens, batch.attention_mask)


def verify(
    model: Model,
    scores: HeadScores,
    kind: HeadKind | str,
    prompts: Sequence[str] | TokenBatch,
    *,
    k: int = 3,
    settings: DetectionSettings | None = None,
) -> Verification:
    """Ablate the ``k`` best heads of ``kind`` (and ``k`` controls) one at a time.

    Raises:
        MechscopeError: the model has no loss, or ``kind`` was not scored or is a diagnostic.
    """
    kind = HeadKind(kind)
    if is_encoder(model) or not has_lm_head(model):
        raise MechscopeError(
            "verify needs a decoder with an unembedding (it measures a loss); this model has none."
        )
    if not kind.is_label or kind not in scores.kinds:
        raise MechscopeError(f"verify takes a scored label kind; {kind.value} is not one here.")
    ranked = scores.top(kind, scores.n_layers * scores.n_heads)
    top, control = ranked[:k], ranked[::-1][:k]
    if kind in CIRCUIT_KINDS:
        settings = settings or DetectionSettings()
        rows = repeated_rows(model, settings)
        half = (len(rows[0]) - 1) // 2
        batch, metric, name = (
            pad_token_lists(rows, 0),
            _second_half_loss(half),
            "repeated second-half loss",
        )
    else:
        batch = prompts if isinstance(prompts, TokenBatch) else tokenize(model, prompts)
        metric, name = text_loss, "next-token loss"
    how = AblationType.ZERO
    effects = [
        ablation_effects(model, batch, metric, [h for h, _ in group], how)
        for group in (top, control)
    ]
    return Verification(
        kind=kind,
        metric=name,
        top=effects[0],
        control=effects[1],
        top_scores=tuple(s for _, s in top),
        control_scores=tuple(s for _, s in control),
    )
