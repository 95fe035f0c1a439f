"""The induction reproduction's result: every figure's data, saved as one mechscope Result."""

from dataclasses import dataclass
from typing import Any, ClassVar

from jaxtyping import Float
from torch import Tensor

from mechscope.core import HeadId, MechscopeError, Result
from mechscope.models import INDUCTION_1L, INDUCTION_2L

MODELS = (INDUCTION_2L, INDUCTION_1L)


@dataclass(frozen=True)
class PhaseChange:
    """Where the 2-layer model's phase change happened, and what changed across it."""

    loss_drop_step: int
    """Step ending the steepest drop of the repeated second-half loss between evaluations."""
    induction_jump_step: int
    """Step ending the steepest rise of the best induction score."""
    before: dict[str, float]
    """Metrics at the evaluation ``window`` evaluations before the loss drop."""
    after: dict[str, float]
    """Metrics at the evaluation ``window`` evaluations after it."""


@dataclass(frozen=True)
class InductionResult(Result):
    """Everything the report shows, as JSON-able values and tensors."""

    kind: ClassVar[str] = "induction-reproduction"
    metrics: dict[str, list[dict[str, Any]]]
    """Per model, every logged evaluation of its training run."""
    train_configs: dict[str, dict[str, Any]]
    phase_change: PhaseChange
    head_scores: dict[str, dict[str, list[list[float]]]]
    """Per model, per score kind, [layer][head] on fresh analysis prompts (`detect_heads`):
    induction and previous_token on repeated random tokens, previous_token_text and
    prefix_matching on held-out text."""
    losses: dict[str, dict[str, float]]
    """Per model: held-out loss, ICL score and its standard error, repeated-token losses."""
    induction_heads: list[HeadId]
    previous_token_heads: list[HeadId]
    k_composition: Float[Tensor, "head later_head"]
    """Layer-0 head -> layer-1 head K-composition scores of the 2-layer model."""
    k_composition_baseline: float
    ablations: list[dict[str, Any]]
    """One row per ablation: heads, how, and the metrics with those heads ablated."""
    icl_ablations: list[dict[str, Any]]
    """ICL score with groups of heads ablated, and its paired change, with standard errors."""
    view_tokens: list[str]
    view_patterns: Float[Tensor, "layer head dest_pos src_pos"]
    """The 2-layer model's attention on a repeated sequence of letters."""

    def _validate(self) -> None:
        n = len(self.view_tokens)
        if self.view_patterns.shape[-2:] != (n, n):
            raise ValueError(f"view patterns {tuple(self.view_patterns.shape)} vs {n} tokens")
        if self.k_composition.ndim != 2:
            raise ValueError("k_composition must be [layer-0 head, layer-1 head]")

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """The ablation table, one row per ablated group and method."""
        import pandas as pd

        return pd.DataFrame(self.ablations)


def heads_above(scores: list[list[float]], threshold: float) -> list[HeadId]:
    """Heads whose score is at least ``threshold``, in (layer, head) order."""
    return [
        HeadId(layer, head)
        for layer, row in enumerate(scores)
        for head, value in enumerate(row)
        if value >= threshold
    ]


def best_induction(record: dict[str, Any]) -> float:
    """The best induction score of any head in one logged evaluation."""
    return max(max(row) for row in record["induction_score"])


def find_phase_change(metrics: list[dict[str, Any]], window: int = 5) -> PhaseChange:
    """Locate the steepest drop of the repeated second-half loss and of the induction jump.

    Raises:
        MechscopeError: fewer than 3 logged evaluations.
    """
    if len(metrics) < 3:
        raise MechscopeError("a run needs at least 3 logged evaluations to locate a phase change.")
    second = [r["repeat_second_half_loss"] for r in metrics]
    best = [best_induction(r) for r in metrics]
    drop = max(range(1, len(metrics)), key=lambda i: second[i - 1] - second[i])
    jump = max(range(1, len(metrics)), key=lambda i: best[i] - best[i - 1])
    keys = ("train_loss", "held_out_loss", "icl_score", "icl_score_se")
    keys += ("repeat_first_half_loss", "repeat_second_half_loss")

    def snapshot(i: int) -> dict[str, float]:
        index = min(max(i, 0), len(metrics) - 1)
        record = metrics[index]
        out = {k: record[k] for k in keys if record.get(k) is not None}
        return out | {"step": record["step"], "best_induction_score": best[index]}

    return PhaseChange(
        loss_drop_step=metrics[drop]["step"],
        induction_jump_step=metrics[jump]["step"],
        before=snapshot(drop - window),
        after=snapshot(drop + window),
    )
