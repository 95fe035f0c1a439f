"""A one-dimensional readout per layer: the difference-of-means direction of two classes.

For a binary label (sentiment: positive / negative), at each boundary: the direction from the
mean of one class's training units to the other's (unit length), the threshold halfway
between the two class means projected on it, and the held-out accuracy of "project, compare
with the threshold" (Tigges et al. 2023, "Linear Representations of Sentiment"; Marks &
Tegmark 2023, "The Geometry of Truth", use the same mass-mean direction). Also the classes'
separation along it (difference of projected means over the pooled standard deviation, on the
held-out units). Intervals: 95 % bootstrap over held-out sentences (`Activations.group`).
Unlike a full probe it fits nothing iteratively and has one parameter per dimension, so it
says where a class difference is *linearly salient*, not merely decodable.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import group_bootstrap_interval
from mechscope.core.results import Result
from mechscope.representations.activations import Activations


@dataclass(frozen=True)
class DirectionResult(Result):
    """Per boundary: the direction, its held-out accuracy with an interval, the separation."""

    kind: ClassVar[str] = "direction-readout"
    task: str
    classes: tuple[str, str]
    """The negative and the positive class (the direction points to the second)."""
    boundaries: tuple[str, ...]
    directions: Float[Tensor, "boundary d_model"]
    accuracy: Float[Tensor, " boundary"]
    ci_low: Float[Tensor, " boundary"]
    ci_high: Float[Tensor, " boundary"]
    separation: Float[Tensor, " boundary"]
    n_train: int
    n_eval: int

    @property
    def best_index(self) -> int:
        """The boundary whose direction reads the label best."""
        return int(self.accuracy.argmax())

    def _summary(self) -> dict[str, Any]:
        best = self.best_index
        return {"best": self.boundaries[best], "accuracy": float(self.accuracy[best])}

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary."""
        import pandas as pd

        return pd.DataFrame({
            "boundary": self.boundaries, "accuracy": self.accuracy.tolist(),
            "ci_low": self.ci_low.tolist(), "ci_high": self.ci_high.tolist(),
            "separation": self.separation.tolist(),
        })  # fmt: skip


def _binary(acts: Activations, labels: Sequence[str | None], split: str,
            classes: tuple[str, str] | None) -> tuple[Tensor, Tensor, tuple[str, str]]:  # fmt: skip
    if len(labels) != len(acts.units):
        raise MechscopeError(
            f"{len(labels)} {split} labels for {len(acts.units)} units; give one per unit."
        )
    names = tuple(sorted({x for x in labels if x is not None}))
    if classes is None:
        if len(names) != 2:
            raise MechscopeError(
                f"a direction readout needs exactly two {split} classes; got {len(names)}: "
                f"{', '.join(names[:5])}."
            )
        classes = (names[0], names[1])
    keep = torch.tensor([x in classes for x in labels])
    target = torch.tensor([x == classes[1] for x in labels])
    return keep, target, classes


def direction_readout(
    train: Activations,
    train_labels: Sequence[str | None],
    eval: Activations,
    eval_labels: Sequence[str | None],
    *,
    task: str = "labels",
    n_boot: int = 1000,
    seed: int = 0,
) -> DirectionResult:
    """The difference-of-means readout of a binary label at every boundary (module doc).

    Raises:
        MechscopeError: labels that do not match the units, not exactly two train classes,
            no held-out unit of either class, or activations of other boundaries.
    """
    if train.boundaries != eval.boundaries:
        raise MechscopeError("train and eval activations come from different boundaries.")
    keep, target, classes = _binary(train, train_labels, "train", None)
    eval_keep, eval_target, _ = _binary(eval, eval_labels, "eval", classes)
    if not (eval_target[eval_keep].any() and (~eval_target[eval_keep]).any()):
        raise MechscopeError(f"the eval units need both classes ({classes[0]}, {classes[1]}).")
    groups = eval.group[eval_keep]
    directions, accuracy, low, high, separation = [], [], [], [], []
    for b in range(train.n_boundaries):
        x, y = train.layer(b)[keep], target[keep]
        means = torch.stack([x[~y].mean(0), x[y].mean(0)])
        direction = means[1] - means[0]
        direction = direction / direction.norm().clamp_min(1e-12)
        threshold = float((means @ direction).mean())
        held = eval.layer(b)[eval_keep] @ direction
        truth = eval_target[eval_keep]
        right = ((held > threshold) == truth).float()
        interval = group_bootstrap_interval(right, groups, n_resamples=n_boot, seed=seed)
        pooled = torch.cat([held[truth] - held[truth].mean(), held[~truth] - held[~truth].mean()])
        directions.append(direction)
        accuracy.append(float(right.mean()))
        low.append(interval[0])
        high.append(interval[1])
        separation.append(float((held[truth].mean() - held[~truth].mean())
                                / pooled.std().clamp_min(1e-12)))  # fmt: skip
    return DirectionResult(
        task=task, classes=classes, boundaries=train.boundaries,
        directions=torch.stack(directions), accuracy=torch.tensor(accuracy),
        ci_low=torch.tensor(low), ci_high=torch.tensor(high), separation=torch.tensor(separation),
        n_train=int(keep.sum()), n_eval=int(eval_keep.sum()),
    )  # fmt: skip
