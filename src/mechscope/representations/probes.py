"""Probes per layer with their controls (Tenney et al. 2019; Hewitt & Liang 2019).

A probe is fitted on one split's units and scored on another's; splits go by sentence (the
caller collects train and eval sentences separately), never by token.

- ``linear``: multinomial logistic regression on standardised features (train mean and
  std), L2 penalty ``weight_decay / 2 * |W|^2`` on the mean cross-entropy: scikit-learn's
  `LogisticRegression` objective with ``C = 1 / (weight_decay * n_train)`` (a test checks
  that both agree). Up to `ADAM_ABOVE` train units it is fitted full-batch by L-BFGS in
  torch; above, by minibatch Adam with a cosine-decayed step for ``adam_epochs`` epochs (at
  least `ADAM_MIN_STEPS` steps; ``solver`` picks either). On UD EWT train (204,577 words,
  MiniLM boundaries 0, 3, 6) Adam fitted dependency relations (51 classes) 5.3-6.8x and UPOS
  3.1-4.2x faster than 60 L-BFGS iterations, at 0.04-0.19 points lower dev accuracy
  (``benchmarks/bench_probes.py``; scikit-learn's L-BFGS took 3-4x as long as torch's).
- ``mlp``: one hidden ReLU layer, Adam on minibatches, a fixed number of epochs.

Every `ProbeResult` carries, per boundary: accuracy with a 95 % bootstrap interval that
resamples eval *sentences* (words of one sentence are not independent); the control task's
accuracy and the selectivity (accuracy - control); the random-init model's accuracy where its
activations are given; and the majority-class accuracy. ``best_boundary`` is the boundary of
highest accuracy; ``expected_layer`` is Tenney et al.'s centre of gravity of the gains,
``sum_l l * (P_l - P_{l-1}) / sum_l (P_l - P_{l-1})`` over boundaries 1..L (0 = embeddings).
Tenney et al.'s ``P_l`` is a probe on a learned mix of layers 0..l; here, with one probe per
boundary, ``P_l`` is the best accuracy among boundaries 0..l (what such a mix reaches at least),
so the gains are never negative.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import group_bootstrap_interval
from mechscope.core.results import Provenance, Result
from mechscope.representations.activations import Activations
from mechscope.representations.choices import ProbeKind, boundary_numbers
from mechscope.representations.tasks import (
    control_labels,
    encode,
    majority_accuracy,
    shuffled_labels,
)

ADAM_ABOVE = 50_000
"""Train units above which the ``auto`` solver fits a linear probe by minibatch Adam."""
ADAM_MIN_STEPS = 800
"""The fewest Adam steps of a linear probe (more epochs on fewer units)."""


class ProbeSolver(Enum):
    """How a linear probe is fitted (the objective is the same; see the module docstring)."""

    AUTO = "auto"
    """L-BFGS up to `ADAM_ABOVE` train units, minibatch Adam above."""
    LBFGS = "lbfgs"
    ADAM = "adam"


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """How each probe is fitted."""

    kind: ProbeKind = ProbeKind.LINEAR
    """linear (logistic regression) or mlp (one hidden layer)."""
    weight_decay: float = 1e-4
    """L2 penalty on the weights."""
    max_iter: int = 60
    """L-BFGS iterations of a linear probe."""
    solver: ProbeSolver = ProbeSolver.AUTO
    """How a linear probe is fitted."""
    adam_epochs: int = 4
    """Passes over the train units of a linear probe fitted by Adam (at least
    `ADAM_MIN_STEPS` steps)."""
    adam_lr: float = 0.02
    """Adam's first step size for a linear probe (decayed to 0 by a cosine)."""
    hidden: int = 256
    """Hidden width of an MLP probe."""
    epochs: int = 8
    """Passes over the train units of an MLP probe."""
    lr: float = 1e-3
    """Adam's learning rate for an MLP probe."""
    batch_size: int = 1024
    """Minibatch of an MLP probe."""
    seed: int = 0
    """Seed of initialisation, minibatch order and the control task's labels."""

    def __post_init__(self) -> None:
        counts = (self.max_iter, self.hidden, self.epochs, self.adam_epochs, self.batch_size)
        if self.weight_decay < 0 or min(counts) < 1 or not self.adam_lr > 0:
            raise MechscopeError(
                "probe settings: weight decay >= 0, Adam's step > 0, and iterations, hidden "
                "width, epochs and batch size >= 1."
            )


class Classifier(torch.nn.Module):
    """A fitted probe: standardisation, then a linear map or an MLP."""

    def __init__(self, mean: Tensor, std: Tensor, net: torch.nn.Module) -> None:
        super().__init__()
        self.mean: Tensor
        self.std: Tensor
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = net

    def forward(self, x: Float[Tensor, "unit d"]) -> Float[Tensor, "unit klass"]:
        """Logits of every class."""
        return self.net((x - self.mean) / self.std)

    @torch.no_grad()
    def predict(self, x: Float[Tensor, "unit d"], chunk: int = 65536) -> Int[Tensor, " unit"]:
        """The predicted class of every unit."""
        return torch.cat([self(x[i : i + chunk]).argmax(-1) for i in range(0, len(x), chunk)])


def fit_probe(
    x: Float[Tensor, "unit d"],
    y: Int[Tensor, " unit"],
    n_classes: int,
    settings: ProbeSettings = ProbeSettings(),  # noqa: B008 - frozen
) -> Classifier:
    """A probe fitted on the labelled units (``y >= 0``) of ``x``."""
    keep = y >= 0
    x, y = x[keep].float(), y[keep]  # boolean indexing copies: x is this function's own
    torch.manual_seed(settings.seed)
    # standardised in place, in that copy. On 204,577 x 384 units, one thread: torch's std
    # over the first axis took 0.95 s and linalg.vector_norm(dim=0) 0.82 s (strided
    # reductions); squares summed over the first axis take 0.20 s.
    mean = x.mean(0)
    z = x.sub_(mean)
    std = (z.square().sum(0).sqrt() / math.sqrt(max(len(z) - 1, 1))).clamp(min=1e-6)
    z /= std
    d = x.shape[1]
    if settings.kind is ProbeKind.LINEAR:
        net: torch.nn.Module = torch.nn.Linear(d, n_classes, device=x.device)
        torch.nn.init.zeros_(net.weight)
        torch.nn.init.zeros_(net.bias)
        solver = settings.solver
        if solver is ProbeSolver.AUTO:
            solver = ProbeSolver.ADAM if len(z) > ADAM_ABOVE else ProbeSolver.LBFGS
        if solver is ProbeSolver.ADAM:
            _fit_adam(net, z, y, settings)
        else:
            _fit_lbfgs(net, z, y, settings)
    else:
        net = torch.nn.Sequential(
            torch.nn.Linear(d, settings.hidden), torch.nn.ReLU(),
            torch.nn.Linear(settings.hidden, n_classes),
        ).to(x.device)  # fmt: skip
        optimiser = torch.optim.AdamW(net.parameters(), lr=settings.lr,
                                      weight_decay=settings.weight_decay)  # fmt: skip
        generator = torch.Generator().manual_seed(settings.seed)
        for _ in range(settings.epochs):
            for index in torch.randperm(len(z), generator=generator).split(settings.batch_size):
                optimiser.zero_grad()
                torch.nn.functional.cross_entropy(net(z[index]), y[index]).backward()
                optimiser.step()
    return Classifier(mean, std, net).eval()


def _penalised_loss(net: torch.nn.Linear, z: Tensor, y: Tensor, weight_decay: float) -> Tensor:
    loss = torch.nn.functional.cross_entropy(net(z), y)
    return loss + weight_decay / 2 * net.weight.square().sum()


def _fit_lbfgs(net: torch.nn.Linear, z: Tensor, y: Tensor, settings: ProbeSettings) -> None:
    """Full-batch L-BFGS from zero weights (``max_iter`` iterations)."""
    optimiser = torch.optim.LBFGS(net.parameters(), max_iter=settings.max_iter,
                                  history_size=20, line_search_fn="strong_wolfe")  # fmt: skip

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = _penalised_loss(net, z, y, settings.weight_decay)
        loss.backward()
        return loss

    optimiser.step(closure)  # pyright: ignore[reportArgumentType]


def _fit_adam(net: torch.nn.Linear, z: Tensor, y: Tensor, settings: ProbeSettings) -> None:
    """Minibatch Adam on the same objective, the step decayed from ``adam_lr`` to 0."""
    per_epoch = math.ceil(len(z) / settings.batch_size)
    epochs = max(settings.adam_epochs, math.ceil(ADAM_MIN_STEPS / per_epoch))
    total = epochs * per_epoch
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.adam_lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * step / total))
    )
    # The units shuffled once, then each epoch takes the same minibatches in a new order: one
    # gather of the whole set instead of one per step (0.87 of a 3.1 s fit here)
    generator = torch.Generator().manual_seed(settings.seed)
    order = torch.randperm(len(z), generator=generator).to(z.device)
    z, y = z[order], y[order]
    starts = range(0, len(z), settings.batch_size)
    for _ in range(epochs):
        for i in torch.randperm(len(starts), generator=generator).tolist():
            batch = slice(starts[i], starts[i] + settings.batch_size)
            optimiser.zero_grad()
            _penalised_loss(net, z[batch], y[batch], settings.weight_decay).backward()
            optimiser.step()
            schedule.step()


@dataclass(frozen=True)
class ProbeResult(Result):
    """One task probed at every boundary, with its baselines (see the module docstring)."""

    kind: ClassVar[str] = "probe"
    task: str
    boundaries: tuple[str, ...]
    classes: tuple[str, ...]
    accuracy: Float[Tensor, " boundary"]
    ci_low: Float[Tensor, " boundary"]
    ci_high: Float[Tensor, " boundary"]
    control: Float[Tensor, " boundary"]
    """Control-task accuracy (NaN where not measured)."""
    random_init: Float[Tensor, " boundary"]
    """Accuracy of the same probe on a random-init model of the same shape (NaN: not given)."""
    majority: float
    n_train: int
    n_eval: int
    n_unseen: int = 0
    """Eval units whose label never occurs in training (left out of scoring)."""
    probe: str = ProbeKind.LINEAR.value
    extra: dict[str, Any] = field(default_factory=dict)
    correct: Float[Tensor, "boundary unit"] | None = None
    """1 where the probe got a scored eval unit right (results saved before it: None)."""
    group: Int[Tensor, " unit"] | None = None
    """Each scored eval unit's sentence (the bootstrap's resampling unit)."""

    def _summary(self) -> dict[str, Any]:
        return {"summary": self.summary()}

    def expected_layer_interval(self, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
        """A 95 % bootstrap interval of `expected_layer`, resampling eval sentences.

        Raises:
            MechscopeError: a result saved without its per-unit correctness.
        """
        if self.correct is None or self.group is None:
            raise MechscopeError("this probe result has no per-unit correctness; refit it.")
        groups, index = torch.unique(self.group, return_inverse=True)
        sums = torch.zeros(len(self.boundaries), len(groups)).index_add_(1, index, self.correct)
        counts = torch.bincount(index, minlength=len(groups)).float()
        generator = torch.Generator().manual_seed(seed)
        layers = torch.tensor(self.layers[1:]).float()
        values = []
        for _ in range(n_boot):
            pick = torch.randint(0, len(groups), (len(groups),), generator=generator)
            accuracy = sums[:, pick].sum(1) / counts[pick].sum()
            gains = accuracy.cummax(0).values.diff()
            if float(gains.sum()) > 0:
                values.append(float((layers * gains).sum() / gains.sum()))
        if not values:
            return math.nan, math.nan
        low, high = torch.tensor(values).quantile(torch.tensor([0.025, 0.975])).tolist()
        return low, high

    def _validate(self) -> None:
        n = len(self.boundaries)
        for name in ("accuracy", "ci_low", "ci_high", "control", "random_init"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} needs one value per boundary ({n})")

    @property
    def selectivity(self) -> Float[Tensor, " boundary"]:
        """Accuracy minus control-task accuracy (Hewitt & Liang 2019)."""
        return self.accuracy - self.control

    @property
    def layers(self) -> list[int]:
        """The layer of each probed boundary (0 = embeddings)."""
        return boundary_numbers(self.boundaries)

    @property
    def best_index(self) -> int:
        """The position (in ``boundaries``) of highest accuracy."""
        return int(self.accuracy.argmax())

    @property
    def best_boundary(self) -> int:
        """The layer of highest accuracy (0 = embeddings)."""
        return self.layers[self.best_index]

    @property
    def expected_layer(self) -> float:
        """Tenney et al.'s centre of gravity of the gains, in layers (NaN without a gain)."""
        cumulative = self.accuracy.cummax(0).values
        gains = cumulative[1:] - cumulative[:-1]
        total = float(gains.sum())
        if len(gains) == 0 or total <= 0:
            return math.nan
        return float((torch.tensor(self.layers[1:]).float() * gains).sum() / total)

    def summary(self) -> dict[str, Any]:
        """Best and expected layer, peak accuracy and selectivity, the majority baseline."""
        best = self.best_index
        return {
            "task": self.task,
            "best_boundary": self.best_boundary,
            "best_accuracy": float(self.accuracy[best]),
            "expected_layer": self.expected_layer,
            "best_selectivity_layer": self.layers[int(self.selectivity.nan_to_num(-1.0).argmax())],
            "max_selectivity": float(self.selectivity.nan_to_num(-1.0).max()),
            "majority": self.majority,
            "n_train": self.n_train,
            "n_eval": self.n_eval,
            "n_unseen": self.n_unseen,
        }

    def rows(self) -> list[dict[str, Any]]:
        """Long-form rows (task, layer, metric, value): the CLI's ``table.csv``."""
        metrics = {"accuracy": self.accuracy, "ci_low": self.ci_low, "ci_high": self.ci_high,
                   "control": self.control, "selectivity": self.selectivity,
                   "random_init": self.random_init}  # fmt: skip
        rows = [
            {"task": self.task, "layer": layer, "metric": name, "value": float(values[i])}
            for name, values in metrics.items()
            for i, layer in enumerate(self.layers)
            if not math.isnan(float(values[i]))
        ]
        rows.append({"task": self.task, "layer": -1, "metric": "majority", "value": self.majority})
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`rows` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows())


def _check_labels(activations: Activations, labels: Sequence[str | None], split: str) -> None:
    if len(labels) != len(activations.units):
        raise MechscopeError(
            f"the {split} labels do not align with the collected units: {len(labels)} labels "
            f"for {len(activations.units)} units. Give one label (or None) per unit."
        )


def probe_layers(
    train: Activations,
    train_labels: Sequence[str | None],
    eval: Activations,
    eval_labels: Sequence[str | None],
    *,
    task: str = "labels",
    settings: ProbeSettings = ProbeSettings(),  # noqa: B008 - frozen
    boundaries: Sequence[int] | None = None,
    control: bool = True,
    random_train: Activations | None = None,
    random_eval: Activations | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> ProbeResult:
    """Probe ``task`` at every boundary (or those given), with the control and baselines.

    ``random_train`` / ``random_eval``: the same units collected from a random-init model of
    the same shape (`mechscope.models.random_like`), for the random-init baseline.

    Raises:
        MechscopeError: labels that do not align with the units, fewer than two classes,
            no scorable eval label, a boundary out of range, or mismatched activations.
    """
    _check_labels(train, train_labels, "train")
    _check_labels(eval, eval_labels, "eval")
    if train.boundaries != eval.boundaries:
        raise MechscopeError("train and eval activations were collected at different sites.")
    chosen = list(range(train.n_boundaries)) if boundaries is None else list(boundaries)
    for b in chosen:
        if not 0 <= b < train.n_boundaries:
            raise MechscopeError(
                f"boundary {b} is out of range: the activations have boundaries "
                f"0..{train.n_boundaries - 1}."
            )
    for name, random, ref in (("train", random_train, train), ("eval", random_eval, eval)):
        if random is not None and random.values.shape[:2] != ref.values.shape[:2]:
            raise MechscopeError(f"the random-init {name} activations hold other units.")
    encoded = encode(train_labels, eval_labels)
    n_classes = len(encoded.classes)
    scored = encoded.eval >= 0
    group = eval.group[scored]
    target = encoded.eval[scored]
    if control and train.pooling.sentences:
        control_train, control_eval = shuffled_labels(encoded.train, encoded.eval,
                                                      seed=settings.seed)  # fmt: skip
    elif control:
        control_train, control_eval = control_labels(
            train.units, eval.units, encoded.train, seed=settings.seed
        )
    nan = torch.full((len(chosen),), math.nan)
    accuracy, low, high = nan.clone(), nan.clone(), nan.clone()
    control_accuracy, random_accuracy = nan.clone(), nan.clone()

    def score(x_train: Tensor, y_train: Tensor, x_eval: Tensor, y_eval: Tensor) -> Tensor:
        probe = fit_probe(x_train.to(device), y_train.to(device), n_classes, settings)
        return (probe.predict(x_eval.to(device)).cpu() == y_eval).float()

    per_unit = torch.zeros(len(chosen), int(scored.sum()))
    for i, b in enumerate(tqdm(chosen, desc=f"probe {task}", disable=not progress)):
        x_train, x_eval = train.layer(b), eval.layer(b)[scored]
        correct = score(x_train, encoded.train, x_eval, target)
        per_unit[i] = correct
        accuracy[i] = correct.mean()
        low[i], high[i] = group_bootstrap_interval(correct, group, seed=settings.seed)
        if control:
            control_accuracy[i] = score(
                x_train,
                control_train,  # pyright: ignore[reportPossiblyUnboundVariable]
                x_eval,
                control_eval[scored],  # pyright: ignore[reportPossiblyUnboundVariable]
            ).mean()
        if random_train is not None and random_eval is not None:
            random_accuracy[i] = score(
                random_train.layer(b), encoded.train, random_eval.layer(b)[scored], target
            ).mean()
    return ProbeResult(
        task,
        tuple(train.boundaries[b] for b in chosen),
        encoded.classes,
        accuracy,
        low,
        high,
        control_accuracy,
        random_accuracy,
        majority_accuracy(encoded.train, encoded.eval),
        int((encoded.train >= 0).sum()),
        int(scored.sum()),
        encoded.n_unseen,
        settings.kind.value,
        correct=per_unit,
        group=group,
        provenance=Provenance(model=train.provenance.model),
    )


@dataclass(frozen=True)
class ProbeTable(Result):
    """Several tasks' results in one long table (task, layer, metric, value) with summaries.

    The `mechscope probe` command's top-level result; each task's full `ProbeResult` (and the
    `StructuralResult`) are saved beside it.
    """

    kind: ClassVar[str] = "probe-table"
    rows: list[dict[str, Any]]
    summaries: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """The long table."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["task", "layer", "metric", "value"])

    def save(self, directory: str | Path) -> Path:
        """`Result.save`, plus the long table as ``table.csv``."""
        out = super().save(directory)
        self.to_dataframe().to_csv(out / "table.csv", index=False)
        return out
