"""Causal check of head labels: ablate each top head of a kind and measure what it predicts.

A head labelled with a kind should matter for the behaviour that kind explains. Each of the
``k`` best heads of the kind is zero-ablated on its own (batched, `ablation_effects`), and so
is each of ``k`` control heads, on the metric the kind predicts. Controls are heads outside
the circuit under test: drawn at random (seeded) from the top heads' layers, leaving out the
top heads and every head labelled with a kind of the circuit (induction and previous-token
for those two kinds, the kind itself otherwise); other layers are used only when those run
short. The lowest-scoring heads are not controls: for induction they are the previous-token
heads that feed the circuit. The metric:

- induction and previous-token heads: the loss on the second copy of repeated random tokens
  (Olsson et al. 2022: these heads form the induction circuit);
- every other kind: the mean next-token loss on the prompts.

Positive change = the loss rose when the head was removed. Needs a model with an
unembedding (a loss); sentence embedders such as MiniLM have none.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from mechscope.core.axes import HeadId
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
    higher_is_better: bool = False
    """The metric's direction: False for a loss (harm = a rise), True for a logit difference
    (harm = a fall)."""

    @classmethod
    def _upgrade_v1(
        cls, tensors: dict[str, Tensor], data: dict[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        renamed = {"top.ablated": tensors["top"], "control.ablated": tensors["control"]}
        return renamed, data

    def harm(self, effects: AblationEffects) -> Tensor:
        """How much each removal hurt: the change, signed so that positive = worse."""
        return -effects.change if self.higher_is_better else effects.change

    @property
    def specific(self) -> bool:
        """Whether removing top heads costs more, on average, than removing controls."""
        return float(self.harm(self.top).mean()) > float(self.harm(self.control).mean())

    def verdict(self) -> str:
        """One line: whether the causal check supports the label, and the numbers behind it.

        Supported: every top head's removal hurts the metric more than every control's (a
        rise of a loss, a fall of a logit difference: `higher_is_better`); partly: more on
        average only; not supported: otherwise.
        """
        top, control = self.top.change, self.control.change
        if not len(control):
            return f"{self.head_kind.value}: no control heads to compare with; not checked."
        if float(self.harm(self.top).min()) > float(self.harm(self.control).max()):
            word = "supported"
        elif self.specific:
            word = "partly supported (more than the controls on average, not head by head)"
        else:
            word = "not supported"
        return (
            f"{self.head_kind.value}: {word}: removing a top head changes {self.metric} by "
            f"{float(top.mean()):+.3f} on average ({float(top.min()):+.3f} to "
            f"{float(top.max()):+.3f}), a control head by {float(control.mean()):+.3f} "
            f"({float(control.min()):+.3f} to {float(control.max()):+.3f}); {len(top)} top "
            f"and {len(control)} control heads."
        )

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


def draw_controls(outside: Sequence[HeadId], layers: set[int], k: int, seed: int) -> list[HeadId]:
    """``k`` of ``outside`` drawn at random (seeded): from ``layers`` first, then the others."""
    generator = torch.Generator().manual_seed(seed)
    chosen: list[HeadId] = []
    for pool in (
        [h for h in outside if h.layer in layers],
        [h for h in outside if h.layer not in layers],
    ):
        order = torch.randperm(len(pool), generator=generator).tolist()
        chosen += [pool[i] for i in order][: k - len(chosen)]
    return chosen


def control_heads(
    scores: HeadScores, kind: HeadKind, top: Sequence[HeadId], k: int, seed: int
) -> list[tuple[HeadId, float]]:
    """``k`` heads outside the circuit of ``kind``, with their scores (module docstring)."""
    circuit = set(CIRCUIT_KINDS) if kind in CIRCUIT_KINDS else {kind}
    labels = scores.classify()
    outside = [
        HeadId(layer, head)
        for layer in range(scores.n_layers)
        for head in range(scores.n_heads)
        if HeadId(layer, head) not in top and not circuit & set(labels.get(HeadId(layer, head), []))
    ]
    chosen = draw_controls(outside, {h.layer for h in top}, k, seed)
    values = scores.score(kind)
    return [(h, float(values[h.layer, h.head])) for h in chosen]


def verify(
    model: Model,
    scores: HeadScores,
    kind: HeadKind | str,
    prompts: Sequence[str] | TokenBatch,
    *,
    k: int = 3,
    settings: DetectionSettings | None = None,
    seed: int = 0,
) -> Verification:
    """Ablate the best ``k`` heads labelled ``kind`` (and ``k`` controls) one at a time.

    When no head carries the label, the ``k`` best-scoring heads are tested instead. ``seed``
    draws the control heads (see the module docstring).

    Raises:
        MechscopeError: the model has no loss, or ``kind`` was not scored or is a diagnostic.
    """
    kind = HeadKind(kind)
    adapt(model).require_unembedding("verify")
    if not kind.is_label or kind not in scores.kinds:
        raise MechscopeError(f"verify takes a scored label kind; {kind.value} is not one here.")
    ranked = scores.top(kind, scores.n_layers * scores.n_heads)
    labelled = set(scores.heads_of(kind))
    top = [(h, v) for h, v in ranked if h in labelled][:k] or ranked[:k]
    control = control_heads(scores, kind, [h for h, _ in top], k, seed)
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
        provenance=Provenance(
            config={"kind": kind.value, "k": k, "seed": seed}, model=model_spec(model)
        ),
    )
