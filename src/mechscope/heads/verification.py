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
from typing import Any, ClassVar

from torch import Tensor

from mechscope.core.batch import TokenBatch, pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import next_token_loss, second_copy_metric
from mechscope.core.results import Provenance, Result
from mechscope.heads.detect import repeated_rows
from mechscope.heads.kinds import HeadKind
from mechscope.heads.scores import HeadScores
from mechscope.heads.settings import DetectionSettings
from mechscope.interventions.ablation import AblationEffects, AblationType, ablation_effects
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.tokens import tokenize

CIRCUIT_KINDS = (HeadKind.INDUCTION, HeadKind.PREVIOUS_TOKEN)


@dataclass(frozen=True)
class Verification(Result):
    """The metric with each top head and each control head ablated."""

    kind: ClassVar[str] = "verification"
    head_kind: HeadKind
    metric: str
    top: AblationEffects
    control: AblationEffects
    top_scores: tuple[float, ...]
    control_scores: tuple[float, ...]

    @property
    def specific(self) -> bool:
        """Whether removing top heads costs more, on average, than removing controls."""
        return float(self.top.change.mean()) > float(self.control.change.mean())

    def rows(self) -> list[dict[str, Any]]:
        """One row per ablated head: group, head, its score, and the metric change."""
        out = []
        for group, effects, scores in (
            ("top", self.top, self.top_scores),
            ("control", self.control, self.control_scores),
        ):
            for row, score in zip(effects.to_rows(), scores, strict=True):
                out.append({"group": group, "score": score, **row})
        return out

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per ablated head (see `rows`)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def _tensors(self) -> dict[str, Tensor]:
        return {"top": self.top.ablated, "control": self.control.ablated}

    def _data(self) -> dict[str, Any]:
        return {
            "head_kind": self.head_kind.value,
            "metric": self.metric,
            "top": self.top._data(),
            "control": self.control._data(),
            "top_scores": list(self.top_scores),
            "control_scores": list(self.control_scores),
        }

    @classmethod
    def _from_saved(cls, tensors: dict[str, Tensor], data: dict[str, Any]) -> "Verification":
        return cls(
            head_kind=HeadKind(data["head_kind"]),
            metric=data["metric"],
            top=AblationEffects._from_saved({"ablated": tensors["top"]}, data["top"]),
            control=AblationEffects._from_saved({"ablated": tensors["control"]}, data["control"]),
            top_scores=tuple(data["top_scores"]),
            control_scores=tuple(data["control_scores"]),
        )


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
    adapt(model).require_unembedding("verify")
    if not kind.is_label or kind not in scores.kinds:
        raise MechscopeError(f"verify takes a scored label kind; {kind.value} is not one here.")
    ranked = scores.top(kind, scores.n_layers * scores.n_heads)
    top, control = ranked[:k], ranked[::-1][:k]
    if kind in CIRCUIT_KINDS:
        settings = settings or DetectionSettings()
        rows = repeated_rows(model, settings)
        half = (len(rows[0]) - 1) // 2
        batch = pad_token_lists(rows, 0)
        metric = second_copy_metric(batch, half)
    else:
        batch = prompts if isinstance(prompts, TokenBatch) else tokenize(model, prompts)
        metric = next_token_loss(batch)
    how = AblationType.ZERO
    effects = [
        ablation_effects(model, batch, metric, [h for h, _ in group], how)
        for group in (top, control)
    ]
    return Verification(
        head_kind=kind,
        metric=metric.name,
        top=effects[0],
        control=effects[1],
        top_scores=tuple(s for _, s in top),
        control_scores=tuple(s for _, s in control),
        provenance=Provenance(config={"kind": kind.value, "k": k}, model=model_spec(model)),
    )
