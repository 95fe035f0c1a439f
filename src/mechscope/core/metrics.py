"""Pure functions from logits (and tokens) to losses and scores. No model is run here.

Sign conventions:
- losses are next-token cross-entropies in nats, ``loss[:, i]`` being the loss of
  predicting token ``i + 1`` from positions ``<= i``;
- the in-context-learning score follows Olsson et al. 2022 (late loss minus early loss, so
  *negative* means the model predicts better later in the context), adapted to a short
  context as mean loss over a late band minus over an early band, per window
  (`icl_per_window`), reported with its standard error over windows;
- patching metrics (logit difference, answer loss, answer probability) read each prompt at
  its own position and average over prompts; `normalise` maps a value so that the corrupted
  run is 0 and the clean run is 1 (Wang et al. 2022; Heimersheim & Nanda 2024).
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.core.axes import Logits
from mechscope.core.batch import TokenBatch
from mechscope.core.errors import MechscopeError

LogitsFn = Callable[[Logits], Tensor]
"""Logits of a whole batch -> a scalar tensor."""

RowsFn = Callable[[Float[Tensor, "batch d_vocab"]], Tensor]
"""The logits of one position per prompt -> a scalar tensor."""

ColumnsFn = Callable[[Float[Tensor, "batch k"]], Tensor]
"""The logits of a few vocabulary entries (`Metric.columns`) at one position per prompt -> a
scalar tensor."""


@dataclass(frozen=True)
class Metric:
    """A scalar measured on the logits of a batch: its name, function and direction.

    Closures carry what the function needs (answers, positions, the batch's mask). Every
    intervention (patching, ablation, path patching) takes one; a plain callable is accepted
    too and named "metric" (`as_metric`).
    """

    name: str
    """A label for tables and reports, e.g. "logit diff"."""
    fn: LogitsFn
    """Logits ``[batch, pos, d_vocab]`` (a classifier's: ``[batch, d_vocab]``) -> a
    one-element tensor."""
    higher_is_better: bool = True
    """Whether the clean (working) model scores higher than a broken one (False for losses)."""
    positions: Int[Tensor, " batch"] | None = None
    """The one position each prompt's ``fn`` reads, when it reads only one (`at_positions`):
    then an intervention unembeds only those rows instead of every position."""
    read: RowsFn | None = None
    """``fn`` on the logits at ``positions`` alone (``[batch, d_vocab]``)."""
    columns: Int[Tensor, "batch k"] | None = None
    """The vocabulary entries ``read`` looks at in each prompt's row, when it looks at only a
    few (`at_columns`, e.g. the answer and the wrong answer of a logit difference): an
    intervention then computes only those logits, ``x @ W_U[:, columns]``, instead of the
    whole vocabulary's."""
    read_columns: ColumnsFn | None = None
    """``fn`` on the logits at ``positions`` and ``columns`` alone (``[batch, k]``)."""

    @property
    def row_reader(self) -> RowsFn | ColumnsFn | None:
        """What reads the logits an intervention computes at ``positions``.

        ``read_columns`` when the metric names its ``columns`` (the intervention then
        computes only those), else ``read`` (whole rows); None without ``positions``.
        """
        return self.read if self.read_columns is None else self.read_columns

    def __call__(self, logits: Logits | Float[Tensor, "batch d_vocab"]) -> Tensor:
        """The metric's value on ``logits`` (a one-element tensor; see `fn`)."""
        return self.fn(logits)


def at_positions(
    name: str,
    read: RowsFn,
    positions: Int[Tensor, " batch"],
    higher_is_better: bool = True,
) -> Metric:
    """A `Metric` that reads each prompt's logits at one position, ``positions[b]``.

    ``read`` takes those rows, ``[batch, d_vocab]``; the metric's ``fn`` picks them out of
    whole-batch logits first, so both give the same value, and interventions that know the
    positions compute (and unembed) only those rows.
    """

    def fn(logits: Logits) -> Tensor:
        rows = torch.arange(logits.shape[0], device=logits.device)
        return read(logits[rows, positions.to(logits.device)])

    return Metric(name, fn, higher_is_better, positions=positions, read=read)


def at_columns(
    name: str,
    read_columns: ColumnsFn,
    positions: Int[Tensor, " batch"],
    columns: Tensor,
    higher_is_better: bool = True,
) -> Metric:
    """A `Metric` that reads ``columns[b]`` of each prompt's logits at ``positions[b]``.

    ``columns``: token ids, ``[batch, k]`` (checked here, with its fix). ``read_columns``
    takes those logits, ``[batch, k]`` (column ``j`` is ``columns[:, j]``);
    ``fn`` and ``read`` pick them out of whole-batch logits or rows first, so all three give
    the same value, and interventions that know the columns compute only those logits.
    """
    if columns.ndim != 2 or columns.shape[0] != positions.shape[0]:
        raise MechscopeError(
            f"columns must be [batch, k] with one row per position ({positions.shape[0]}); "
            f"got {tuple(columns.shape)}."
        )

    def read(at: Float[Tensor, "batch d_vocab"]) -> Tensor:
        return read_columns(at.gather(1, columns.to(at.device)))

    metric = at_positions(name, read, positions, higher_is_better)
    return replace(metric, columns=columns, read_columns=read_columns)


def column_difference(at: Float[Tensor, "batch 2"]) -> Tensor:
    """The mean over prompts of the first column minus the second.

    A logit difference's ``read_columns`` (`at_columns` with columns ``[answer, wrong]``).
    """
    return (at[:, 0] - at[:, 1]).mean()


def as_metric(metric: object, name: str = "metric") -> Metric:
    """``metric`` itself, or a plain callable wrapped as a `Metric` called ``name``.

    Raises:
        MechscopeError: a metric's name (it needs its task's answers) or anything else that
            is not a function of the logits.
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        raise MechscopeError(
            f"the metric {metric!r} is a name; a metric needs its task's answers: pass "
            f"task.metric({metric!r}) (a TaskPairs' metric), a Metric, or a function of the "
            "logits."
        )
    if not callable(metric):
        raise MechscopeError(
            f"the metric must be a Metric or a function of the logits; got {type(metric).__name__}."
        )
    return Metric(name, metric)  # pyright: ignore[reportArgumentType]


def next_token_loss(batch: TokenBatch) -> Metric:
    """Mean next-token loss over the real tokens of ``batch`` (`masked_loss`)."""

    def fn(logits: Logits) -> Tensor:
        return masked_loss(logits, batch.tokens, batch.attention_mask)

    return Metric("next-token loss", fn, higher_is_better=False)


def first_copy_metric(batch: TokenBatch, half_length: int) -> Metric:
    """Mean loss on the first copy of ``start + r + r`` rows (as `repeated_half_losses`)."""

    def fn(logits: Logits) -> Tensor:
        return loss_per_position(logits, batch.tokens)[:, 1:half_length].mean()

    return Metric("repeated first-half loss", fn, higher_is_better=False)


def second_copy_metric(batch: TokenBatch, half_length: int, *, per_prompt: bool = False) -> Metric:
    """Mean loss on the second copy of ``start + r + r`` rows (`second_copy_loss`).

    ``per_prompt``: each row's mean instead (one value per prompt, for standard errors).
    """

    def fn(logits: Logits) -> Tensor:
        loss = loss_per_position(logits, batch.tokens)
        if per_prompt:
            return second_copy_positions(loss, half_length).mean(-1)
        return second_copy_loss(loss, half_length)

    return Metric("repeated second-half loss", fn, higher_is_better=False)


def loss_per_position(
    logits: Logits, tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch pos_minus_1"]:
    """Cross-entropy of each next token given the logits at the position before it."""
    log_probs = logits[:, :-1].log_softmax(dim=-1)
    return -log_probs.gather(-1, tokens[:, 1:, None])[..., 0]


def predicted_mask(attention_mask: Int[Tensor, "batch pos"]) -> Int[Tensor, "batch pos_minus_1"]:
    """1 where a next-token prediction has a real input and a real target, else 0."""
    return attention_mask[:, 1:] * attention_mask[:, :-1]


def masked_loss(
    logits: Logits,
    tokens: Int[Tensor, "batch pos"],
    attention_mask: Int[Tensor, "batch pos"],
) -> Float[Tensor, ""]:
    """Mean next-token loss over predictions whose input and target are both real tokens."""
    loss = loss_per_position(logits, tokens)
    mask = predicted_mask(attention_mask).to(loss.dtype)
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


def second_copy_positions(
    loss: Float[Tensor, "batch pos_minus_1"], half_length: int
) -> Float[Tensor, "batch half"]:
    """The losses predicting the second copy's r_2..r_n of ``BOS + r + r``, per row."""
    return loss[:, half_length + 1 : 2 * half_length]


def second_copy_loss(loss: Float[Tensor, "batch pos_minus_1"], half_length: int) -> Tensor:
    """Mean loss predicting the second copy's r_2..r_n of ``BOS + r + r`` (a scalar tensor)."""
    return second_copy_positions(loss, half_length).mean()


def icl_per_window(
    loss: Float[Tensor, "batch pos_minus_1"], early: tuple[int, int], late: tuple[int, int]
) -> Float[Tensor, " batch"]:
    """In-context-learning score of each window: mean loss over ``late`` minus over ``early``.

    Olsson et al. 2022 take the loss at token 500 minus the loss at token 50 of 512, averaged
    over many windows. With a short context, single positions are too noisy (one position of
    32 windows has a standard error near 0.35 nats), so this compares two bands of
    predictions instead: ``early`` just past the local context, ``late`` at the end. Bands
    are half-open ranges of prediction indices (index 0 predicts token 1). Negative: later
    tokens are predicted better, thanks to the context.
    """
    if not 0 <= early[0] < early[1] <= late[0] < late[1] <= loss.shape[1]:
        raise ValueError(
            f"need 0 <= early < late bands within {loss.shape[1]} predictions, got {early}, {late}"
        )
    return loss[:, late[0] : late[1]].mean(1) - loss[:, early[0] : early[1]].mean(1)


def mean_and_sem(values: Float[Tensor, " sample"]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample standard deviation / sqrt(n))."""
    n = values.numel()
    if n == 0:
        raise ValueError("no values to average")
    sem = float(values.double().std() / n**0.5) if n > 1 else float("nan")
    return float(values.double().mean()), sem


def bootstrap_interval(
    values: Float[Tensor, " sample"],
    statistic: Callable[[Tensor], Tensor] = torch.median,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (default: the median) over samples.

    ``n_boot`` resamples with replacement (seeded), each reduced by ``statistic``; the
    interval is the central ``level`` of them (Efron's percentile interval). A single sample
    gives (value, value).

    Raises:
        ValueError: no values, or ``level`` outside (0, 1).
    """
    n = values.numel()
    if n == 0:
        raise ValueError("no values to bootstrap")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    flat = values.flatten().double()
    generator = torch.Generator().manual_seed(seed)
    draws = flat[torch.randint(0, n, (n_boot, n), generator=generator)]
    stats = torch.stack([statistic(row) for row in draws])
    tail = (1 - level) / 2
    low, high = torch.quantile(stats, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return float(low), float(high)


def logit_diff(
    logits: Logits,
    answers: Int[Tensor, " batch"],
    wrong: Int[Tensor, " batch"],
    positions: Int[Tensor, " batch"],
) -> Float[Tensor, ""]:
    """Mean over prompts of logit(answer) - logit(wrong answer) at each prompt's position."""
    return logit_diffs(logits, answers, wrong, positions).mean()


def logit_diffs(
    logits: Logits,
    answers: Int[Tensor, " batch"],
    wrong: Int[Tensor, " batch"],
    positions: Int[Tensor, " batch"],
) -> Float[Tensor, " batch"]:
    """logit(answer) - logit(wrong answer) of each prompt, at its position."""
    rows = torch.arange(logits.shape[0], device=logits.device)
    at = logits[rows, positions.to(logits.device)]
    return at[rows, answers.to(logits.device)] - at[rows, wrong.to(logits.device)]


def answer_loss(
    logits: Logits,
    answers: Int[Tensor, " batch"],
    positions: Int[Tensor, " batch"],
) -> Float[Tensor, ""]:
    """Mean cross-entropy of the answer token at each prompt's position."""
    return -_answer_log_probs(logits, answers, positions).mean()


def answer_probability(
    logits: Logits,
    answers: Int[Tensor, " batch"],
    positions: Int[Tensor, " batch"],
) -> Float[Tensor, ""]:
    """Mean probability of the answer token at each prompt's position."""
    return _answer_log_probs(logits, answers, positions).exp().mean()


def _answer_log_probs(
    logits: Logits,
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


def group_bootstrap_interval(
    correct: Float[Tensor, " unit"],
    group: Int[Tensor, " unit"],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """95 % percentile interval of a mean of per-unit values (an accuracy), resampling groups.

    Groups (sentences, documents) are drawn with replacement (seeded) and the mean is taken
    over every unit of the groups drawn, so units of one group never count as independent.
    """
    groups, inverse = group.unique(return_inverse=True)
    hits = torch.zeros(len(groups), dtype=torch.float64).index_add_(0, inverse, correct.double())
    sizes = torch.zeros(len(groups), dtype=torch.float64).index_add_(
        0, inverse, torch.ones_like(correct, dtype=torch.float64)
    )
    generator = torch.Generator().manual_seed(seed)
    draws = torch.randint(0, len(groups), (n_resamples, len(groups)), generator=generator)
    accuracy = hits[draws].sum(1) / sizes[draws].sum(1)
    low, high = torch.quantile(accuracy, torch.tensor([0.025, 0.975], dtype=torch.float64))
    return float(low), float(high)
