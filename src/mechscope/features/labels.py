"""Automatic feature labels: each feature's best-aligned annotation, scored on held-out rows.

A feature *fires* on a token when its activation is above zero. For every family of labels
(`mechscope.features.annotations.LabelFamily`) and every label value v, on the tokens that
carry the family:

- precision = P(label = v | fires), recall = P(fires | label = v), F1 their harmonic mean.

The rows are split at random (seeded) into a fitting half and a held-out half. Each feature's
best label per family is the value with the highest F1 on the fitting rows (among values seen
at least ``min_count`` times there: rarer ones, and ``none`` outside every entity mention,
count as negatives only); its precision, recall and F1 are then measured on the held-out rows,
where nothing was chosen.

Control: the held-out labels are shuffled ``n_shuffles`` times (token by token; row by row for
sentence-level families, so a feature that fires on a few sentences cannot look aligned by
their shared label), and the chosen label's F1 recomputed; the label *clears* the control when
its real F1 beats every shuffled one (p < 1 / (n_shuffles + 1) for that one pre-chosen label).

A feature is *explained* by the family whose cleared label has the highest held-out F1, if that
F1 reaches ``min_f1``; its level of abstraction (`Abstraction`) is that family's. F1 is not
equally easy in every family (a feature cannot recall every positive-review token the way it
can every "the"), so the shares compare like with like across layers, not across families.
Features that never fire on the held-out rows are *dead* here and left out of the shares.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.errors import MechscopeError
from mechscope.core.results import Result
from mechscope.features.activations import capture_sites, real_token_mask
from mechscope.features.annotations import (
    ABSTRACTION,
    OUTSIDE,
    Abstraction,
    LabelFamily,
    LabelledTokens,
)
from mechscope.features.splicing import check_sae_fits
from mechscope.models.base import Model
from mechscope.models.tokens import pad_id, pad_token_lists

if TYPE_CHECKING:
    from sae_lens import SAE


@dataclass(frozen=True)
class Firing:
    """Where features fire on labelled tokens: (token, feature) pairs.

    Tokens are numbered in row order over every position of the rows (the flattened labels);
    only positions read make pairs (not padding, not the BOS position: `real_token_mask`).
    """

    token: Int[Tensor, " pair"]
    feature: Int[Tensor, " pair"]
    row_of_token: Int[Tensor, " token"]
    n_features: int


@dataclass(frozen=True)
class FeatureLabels(Result):
    """Each feature's best label per family, scored on held-out rows (module doc)."""

    kind: ClassVar[str] = "feature-labels"
    hook: str
    families: tuple[str, ...]
    labels: list[list[str]]
    """Per family, per feature: the best label on the fitting rows ('' where it never fired)."""
    precision: Float[Tensor, "feature family"]
    recall: Float[Tensor, "feature family"]
    f1: Float[Tensor, "feature family"]
    control: Float[Tensor, "feature family"]
    """The largest F1 of the same label over the shuffled held-out labels."""
    fired: Int[Tensor, " feature"]
    """Held-out tokens each feature fired on."""
    n_tokens: int
    """Held-out labelled tokens (of any family)."""
    min_f1: float = 0.2

    def _validate(self) -> None:
        if len(self.labels) != len(self.families) or any(
            len(per) != self.n_features for per in self.labels
        ):
            raise ValueError("labels must hold one label per family and feature")

    @property
    def n_features(self) -> int:
        """Features of the SAE."""
        return int(self.fired.shape[0])

    @property
    def alive(self) -> Tensor:
        """Features that fired on some held-out token."""
        return self.fired > 0

    def clears(self) -> Tensor:
        """[feature, family]: the label beats its shuffled control and reaches ``min_f1``."""
        return (self.f1 > self.control) & (self.f1 >= self.min_f1)

    def best(self, feature: int) -> dict[str, Any]:
        """The feature's best cleared label (or its best label, marked not cleared)."""
        clears = self.clears()[feature]
        scores = torch.where(clears, self.f1[feature], self.f1[feature] - 2.0)
        family = int(scores.argmax())
        return {
            "feature": feature, "family": self.families[family],
            "label": self.labels[family][feature],
            "precision": float(self.precision[feature, family]),
            "recall": float(self.recall[feature, family]), "f1": float(self.f1[feature, family]),
            "control_f1": float(self.control[feature, family]), "clears": bool(clears[family]),
            "fired": int(self.fired[feature]),
        }  # fmt: skip

    def abstraction(self) -> list[Abstraction | None]:
        """Each feature's level (`Abstraction.UNEXPLAINED` if no label clears; None: dead)."""
        out: list[Abstraction | None] = []
        clears = self.clears()
        for feature in range(self.n_features):
            if not self.alive[feature]:
                out.append(None)
            elif not clears[feature].any():
                out.append(Abstraction.UNEXPLAINED)
            else:
                scores = torch.where(clears[feature], self.f1[feature], -1.0)
                out.append(ABSTRACTION[LabelFamily(self.families[int(scores.argmax())])])
        return out

    def shares(
        self, n_boot: int = 1000, seed: int = 0
    ) -> dict[Abstraction, tuple[float, float, float]]:
        """Share of live features at each level, with a 95% bootstrap interval over features."""
        levels = [level for level in self.abstraction() if level is not None]
        if not levels:
            return {level: (0.0, 0.0, 0.0) for level in Abstraction}
        codes = torch.tensor([list(Abstraction).index(level) for level in levels])
        one_hot = torch.nn.functional.one_hot(codes, len(Abstraction)).float()
        generator = torch.Generator().manual_seed(seed)
        draws = torch.randint(0, len(levels), (n_boot, len(levels)), generator=generator)
        boot = one_hot[draws].mean(1)  # [n_boot, level]
        low, high = boot.quantile(0.025, dim=0), boot.quantile(0.975, dim=0)
        share = one_hot.mean(0)
        return {level: (float(share[i]), float(low[i]), float(high[i]))
                for i, level in enumerate(Abstraction)}  # fmt: skip

    def _summary(self) -> dict[str, Any]:
        return {
            "live_features": int(self.alive.sum()),
            "shares": {level.value: round(s[0], 4) for level, s in self.shares(200).items()},
        }

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per live feature: its best label and the scores behind it."""
        import pandas as pd

        levels = self.abstraction()
        rows = [{**self.best(f), "abstraction": levels[f].value}  # type: ignore[union-attr]
                for f in range(self.n_features) if levels[f] is not None]  # fmt: skip
        return pd.DataFrame(rows)


@torch.no_grad()
def feature_firing(
    model: Model,
    saes: "Mapping[str, SAE[Any]]",
    labelled: LabelledTokens,
    *,
    batch_size: int = 16,
    progress: bool = True,
) -> dict[str, Firing]:
    """Where each feature of each SAE (by hook) fires on ``labelled``'s rows, in one pass."""
    for hook, sae in saes.items():
        check_sae_fits(model, sae, hook)
    pad = pad_id(model)
    lengths = torch.tensor([len(r) for r in labelled.rows])
    row_start = torch.cumsum(lengths, 0) - lengths
    pairs: dict[str, list[tuple[Tensor, Tensor]]] = {hook: [] for hook in saes}
    device = model.cfg.device or "cpu"
    starts = range(0, len(labelled.rows), batch_size)
    for start in tqdm(starts, desc="labelling features", disable=not progress, leave=False):
        chunk = labelled.rows[start : start + batch_size]
        padded = pad_token_lists([list(r) for r in chunk], pad)
        cache = capture_sites(model, padded.to(device), list(saes))
        batch = padded.tokens
        inside = torch.arange(batch.shape[1])[None] < lengths[start : start + len(chunk), None]
        rows, positions = (inside & real_token_mask(model, batch)).nonzero(as_tuple=True)
        flat = row_start[rows + start] + positions
        for hook, sae in saes.items():
            x = cache[hook][rows.to(device), positions.to(device)].to(sae.device, sae.dtype)
            where_token, where_feature = (sae.encode(x) > 0).cpu().nonzero(as_tuple=True)
            pairs[hook].append((flat[where_token], where_feature))
    row_of_token = torch.repeat_interleave(torch.arange(len(labelled.rows)), lengths)
    return {
        hook: Firing(torch.cat([t for t, _ in pairs[hook]]),
                     torch.cat([f for _, f in pairs[hook]]), row_of_token, int(sae.cfg.d_sae))
        for hook, sae in saes.items()
    }  # fmt: skip


def _encode(labels: Sequence[str | None]) -> tuple[Tensor, list[str]]:
    names = sorted({x for x in labels if x is not None})
    index = {name: i for i, name in enumerate(names)}
    return torch.tensor([-1 if x is None else index[x] for x in labels]), names


def _shuffled(values: Tensor, rows: Tensor, per_row: bool, generator: torch.Generator) -> Tensor:
    """``values`` (labelled tokens only) permuted token by token, or row by row."""
    if not per_row:
        return values[torch.randperm(len(values), generator=generator)]
    unique_rows, inverse = rows.unique(return_inverse=True)
    row_value = torch.empty(len(unique_rows), dtype=values.dtype)
    row_value[inverse] = values
    return row_value[torch.randperm(len(unique_rows), generator=generator)][inverse]


def _f1(hits: Tensor, fired: Tensor, positives: Tensor) -> Tensor:
    return 2 * hits / (fired + positives).clamp_min(1)


def score_labels(
    firing: Firing,
    labelled: LabelledTokens,
    hook: str,
    *,
    held_out: float = 0.5,
    min_count: int = 5,
    n_shuffles: int = 20,
    min_f1: float = 0.2,
    seed: int = 0,
) -> FeatureLabels:
    """Each feature's best label per family from where it fires (module doc)."""
    n_rows = len(labelled.rows)
    if n_rows < 2:
        raise MechscopeError("labelling features needs at least 2 labelled rows (fit, held out).")
    generator = torch.Generator().manual_seed(seed)
    held_rows = torch.zeros(n_rows, dtype=torch.bool)
    held_rows[torch.randperm(n_rows, generator=generator)[: max(1, round(held_out * n_rows))]] = (
        True
    )
    held = held_rows[firing.row_of_token]
    n_features = firing.n_features
    families = labelled.families
    shape = (n_features, len(families))
    precision, recall, f1, control = (torch.zeros(shape) for _ in range(4))
    best_labels: list[list[str]] = []
    any_label = torch.zeros(len(held), dtype=torch.bool)
    fired_held = torch.bincount(firing.feature[held[firing.token]], minlength=n_features)
    for column, family in enumerate(families):
        values, names = _encode([x for row in labelled.column(family) for x in row])
        labelled_token = values >= 0
        any_label |= labelled_token
        fit_counts = torch.bincount(values[labelled_token & ~held], minlength=len(names))
        candidate = (fit_counts >= min_count) & torch.tensor([n != OUTSIDE for n in names])
        pair_value = values[firing.token]
        in_family = pair_value >= 0
        fit_pair = in_family & ~held[firing.token]
        held_pair = in_family & held[firing.token]
        # fitting rows: counts of (feature, value) where the feature fires
        counts = torch.zeros(n_features * len(names))
        counts.index_add_(0, firing.feature[fit_pair] * len(names) + pair_value[fit_pair],
                          torch.ones(int(fit_pair.sum())))  # fmt: skip
        counts = counts.view(n_features, len(names))
        fired_fit = torch.bincount(firing.feature[fit_pair], minlength=n_features).float()
        scores = _f1(counts, fired_fit[:, None], fit_counts[None].float())
        scores[:, ~candidate] = -1.0
        chosen = scores.argmax(1)
        never = fired_fit == 0
        best_labels.append(["" if never[f] else names[int(chosen[f])] for f in range(n_features)])
        # held-out rows: the chosen label's precision, recall and F1
        held_values = values[labelled_token & held]
        held_counts = torch.bincount(held_values, minlength=len(names)).float()
        fired = torch.bincount(firing.feature[held_pair], minlength=n_features).float()

        held_tokens, held_features = firing.token[held_pair], firing.feature[held_pair]

        def hits(token_values: Tensor, tokens: Tensor = held_tokens,
                 features: Tensor = held_features, chosen: Tensor = chosen) -> Tensor:  # fmt: skip
            match = token_values[tokens] == chosen[features]
            return torch.bincount(features[match], minlength=n_features).float()

        true = hits(values)
        positives = held_counts[chosen]
        precision[:, column] = true / fired.clamp_min(1)
        recall[:, column] = true / positives.clamp_min(1)
        f1[:, column] = torch.where(never, 0.0, _f1(true, fired, positives))
        held_index = (labelled_token & held).nonzero(as_tuple=True)[0]
        for _ in range(n_shuffles):
            shuffled = values.clone()
            shuffled[held_index] = _shuffled(values[held_index], firing.row_of_token[held_index],
                                             family.per_row, generator)  # fmt: skip
            control[:, column] = torch.maximum(control[:, column],
                                               _f1(hits(shuffled), fired, positives))  # fmt: skip
    n_labelled = int((any_label & held).sum())
    return FeatureLabels(
        hook=hook, families=tuple(f.value for f in families), labels=best_labels,
        precision=precision, recall=recall, f1=f1, control=control, fired=fired_held,
        n_tokens=n_labelled, min_f1=min_f1,
    )  # fmt: skip


def label_features(
    model: Model,
    sae: "SAE[Any]",
    hook: str,
    labelled: LabelledTokens,
    *,
    held_out: float = 0.5,
    min_count: int = 5,
    n_shuffles: int = 20,
    min_f1: float = 0.2,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
) -> FeatureLabels:
    """Label every feature of ``sae`` at ``hook`` by ``labelled``'s annotations (module doc).

    Raises:
        MechscopeError: a hook the model lacks, an SAE of another width, or fewer than two rows.
    """
    (firing,) = feature_firing(model, {hook: sae}, labelled, batch_size=batch_size,
                               progress=progress).values()  # fmt: skip
    return score_labels(firing, labelled, hook, held_out=held_out, min_count=min_count,
                        n_shuffles=n_shuffles, min_f1=min_f1, seed=seed)  # fmt: skip
