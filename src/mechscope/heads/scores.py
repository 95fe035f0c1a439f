"""`HeadScores`: every head's score for every kind, per prompt, with mean, spread and labels."""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.axes import HeadId
from mechscope.core.results import Result
from mechscope.heads.kinds import NO_OP_MIN_SINK_MASS, THRESHOLDS, HeadKind


@dataclass(frozen=True)
class HeadScores(Result):
    """Scores shaped (kind, layer, head), from per-prompt values kept in full or summarised.

    Rows of `per_prompt` are the user's prompts followed by the generated repeated-token rows
    (the induction kind is scored only there); a kind is NaN on rows it is not scored on.

    At corpus scale the rows need not be kept (`summarised`, and ``keep_prompts=False`` in
    `mechscope.executors.sharded_detect_heads`): `moments` then holds, per kind and head, the
    count of rows scored, their mean and their sum of squared deviations, and `per_prompt`
    has no rows. Summaries merge exactly (`combined`: Chan et al.'s pairwise update), so a
    corpus's scores cost ``3 x kinds x heads`` numbers however many prompts it has.
    """

    kind: ClassVar[str] = "head-scores"
    kinds: tuple[HeadKind, ...]
    per_prompt: Float[Tensor, "kind prompt layer head"]
    n_prompts: int
    """How many leading rows are the user's prompts (the rest are repeated-token rows); when
    summarised, how many of the user's prompts the moments cover."""
    moments: Float[Tensor, "3 kind layer head"] | None = None
    """Count, mean and sum of squared deviations per kind and head (a summary), or None."""

    def _summary(self) -> dict[str, Any]:
        return {**self.to_json()}

    def _validate(self) -> None:
        if self.per_prompt.ndim != 4 or self.per_prompt.shape[0] != len(self.kinds):
            raise ValueError(
                f"per_prompt has shape {tuple(self.per_prompt.shape)}; want "
                f"({len(self.kinds)}, prompt, layer, head), one slice per kind"
            )
        if self.moments is not None:  # (its kind, layer, head axes: checked by the contract)
            if self.moments.shape[0] != 3 or self.per_prompt.shape[1]:
                raise ValueError("a summary has moments shaped (3, kind, layer, head) and no "
                                 "per-prompt rows")  # fmt: skip
        elif not 0 <= self.n_prompts <= self.per_prompt.shape[1]:
            raise ValueError(
                f"n_prompts={self.n_prompts} exceeds the {self.per_prompt.shape[1]} rows"
            )

    @property
    def is_summary(self) -> bool:
        """Whether only the moments were kept (no per-prompt rows)."""
        return self.moments is not None

    def summarised(self) -> "HeadScores":
        """The same scores with the per-prompt rows reduced to their moments."""
        if self.moments is not None:
            return self
        moments = torch.stack([self.count, self.mean, self._squared_deviations()])
        return HeadScores(self.kinds, self.per_prompt[:, :0], self.n_prompts, moments,
                          provenance=self.provenance)  # fmt: skip

    def combined(self, other: "HeadScores") -> "HeadScores":
        """One summary of two summaries' rows (same kinds and model shape), exactly.

        Raises:
            ValueError: other kinds or another shape.
        """
        a, b = self.summarised(), other.summarised()
        assert a.moments is not None and b.moments is not None
        if a.kinds != b.kinds or a.moments.shape != b.moments.shape:
            raise ValueError("only summaries of the same kinds and model shape combine")
        (n_a, mean_a, m2_a), (n_b, mean_b, m2_b) = a.moments, b.moments
        n = n_a + n_b
        mean_a, mean_b = mean_a.nan_to_num(0.0), mean_b.nan_to_num(0.0)
        share = n_b / n.clamp(min=1)
        delta = mean_b - mean_a
        mean = torch.where(n > 0, mean_a + delta * share, torch.nan)
        m2 = m2_a + m2_b + delta.square() * n_a * share
        return HeadScores(a.kinds, a.per_prompt, a.n_prompts + b.n_prompts,
                          torch.stack([n, mean, m2]), provenance=a.provenance)  # fmt: skip

    @property
    def n_layers(self) -> int:
        """Layers of the model scored."""
        return self.per_prompt.shape[2]

    @property
    def n_heads(self) -> int:
        """Heads per layer."""
        return self.per_prompt.shape[3]

    @property
    def count(self) -> Float[Tensor, "kind layer head"]:
        """How many prompts each mean is over (prompts where the kind is defined)."""
        if self.moments is not None:
            return self.moments[0]
        return (~self.per_prompt.isnan()).sum(1).to(self.per_prompt.dtype)

    @property
    def mean(self) -> Float[Tensor, "kind layer head"]:
        """Mean over the prompts where each kind is defined."""
        if self.moments is not None:
            return self.moments[1]
        return self.per_prompt.nanmean(1)

    @property
    def std(self) -> Float[Tensor, "kind layer head"]:
        """Standard deviation over prompts (0 with a single prompt)."""
        return (self._squared_deviations() / (self.count - 1).clamp(min=1)).sqrt()

    def _squared_deviations(self) -> Float[Tensor, "kind layer head"]:
        """The sum of squared deviations from `mean` over the prompts each kind is scored on."""
        if self.moments is not None:
            return self.moments[2]
        present = ~self.per_prompt.isnan()
        centred = torch.where(present, self.per_prompt - self.mean[:, None], 0.0)
        return centred.square().sum(1)

    def score(self, kind: HeadKind | str) -> Float[Tensor, "layer head"]:
        """The mean score of one kind per (layer, head)."""
        return self.mean[self._index(kind)]

    def _index(self, kind: HeadKind | str) -> int:
        kind = HeadKind(kind)
        if kind not in self.kinds:
            scored = ", ".join(k.value for k in self.kinds)
            raise KeyError(f"{kind.value} was not scored (scored: {scored}); add it to kinds=")
        return self.kinds.index(kind)

    def heads_of(self, kind: HeadKind | str) -> list[HeadId]:
        """Heads labelled ``kind`` by its threshold (`THRESHOLDS`), best first."""
        kind = HeadKind(kind)
        if not kind.is_label:
            raise ValueError(f"{kind.value} is a diagnostic, not a label; use top() or score()")
        comparison, threshold = THRESHOLDS[kind]
        values = self.score(kind)
        chosen = comparison.holds(values, threshold)
        if kind is HeadKind.NO_OP:
            chosen &= self._sink_mass() >= NO_OP_MIN_SINK_MASS
        heads = [HeadId(int(layer), int(head)) for layer, head in chosen.nonzero().tolist()]
        return sorted(
            heads, key=lambda h: float(values[h]), reverse=comparison.best_first_descending
        )

    def _sink_mass(self) -> Float[Tensor, "layer head"]:
        mass = torch.zeros(self.n_layers, self.n_heads, dtype=self.per_prompt.dtype)
        for kind in (HeadKind.FIRST_TOKEN, HeadKind.SEPARATOR):
            if kind in self.kinds:
                mass = mass + self.score(kind).nan_to_num(0.0)
        if not any(k in self.kinds for k in (HeadKind.FIRST_TOKEN, HeadKind.SEPARATOR)):
            mass = mass + 1.0  # no sink masses scored: judge by the gradient alone
        return mass

    def classify(self) -> dict[HeadId, list[HeadKind]]:
        """Labels per head (all heads present, maybe with no label), thresholds in `THRESHOLDS`."""
        labels: dict[HeadId, list[HeadKind]] = {
            HeadId(layer, head): []
            for layer in range(self.n_layers)
            for head in range(self.n_heads)
        }
        for kind in self.kinds:
            if kind.is_label:
                for head in self.heads_of(kind):
                    labels[head].append(kind)
        return labels

    def top(self, kind: HeadKind | str, k: int = 5) -> list[tuple[HeadId, float]]:
        """The ``k`` heads with the highest mean score (lowest, for no-op), with scores."""
        kind = HeadKind(kind)
        values = self.score(kind).nan_to_num(
            float("-inf") if kind is not HeadKind.NO_OP else float("inf")
        )
        order = values.flatten().argsort(descending=kind is not HeadKind.NO_OP)[:k]
        pairs = [divmod(int(i), self.n_heads) for i in order]
        return [
            (HeadId(layer, head), float(self.score(kind)[layer, head])) for layer, head in pairs
        ]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per (kind, layer, head): mean, std, prompts counted, and whether labelled."""
        import pandas as pd

        labels = self.classify()
        mean, std, count = self.mean, self.std, self.count
        rows = []
        for k, kind in enumerate(self.kinds):
            for layer in range(self.n_layers):
                for head in range(self.n_heads):
                    rows.append(
                        {
                            "kind": kind.value,
                            "layer": layer,
                            "head": head,
                            "mean": float(mean[k, layer, head]),
                            "std": float(std[k, layer, head]),
                            "n_prompts": int(count[k, layer, head]),
                            "label": kind in labels[HeadId(layer, head)],
                        }
                    )
        return pd.DataFrame(rows)

    def to_json(self) -> dict[str, Any]:
        """Metadata and the mean/std tables, as plain JSON."""
        return {
            "kinds": [k.value for k in self.kinds],
            "n_prompts": self.n_prompts,
            "thresholds": {
                k.value: [t.comparison.value, t.value]
                for k, t in THRESHOLDS.items()
                if k in self.kinds
            },
            "mean": {k.value: self.mean[i].tolist() for i, k in enumerate(self.kinds)},
            "std": {k.value: self.std[i].tolist() for i, k in enumerate(self.kinds)},
            "labels": {str(h): [k.value for k in ks] for h, ks in self.classify().items() if ks},
        }
