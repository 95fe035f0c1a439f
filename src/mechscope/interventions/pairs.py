r"""Clean/corrupted prompt pairs with answers: what activation patching runs on.

- `repeated_pairs`: induction. Clean ``start A A[:-1]``, corrupted ``start B A[:-1]``
  (random ordinary tokens; only the first copy differs). The answer is ``A[-1]``, which only
  an induction circuit can read off the first copy; the wrong answer is ``B[-1]``.
- `copy_name_pairs`: a templated text task the byte-level models solve:
  ``"{name} = 1\nprint({name[:-1]}"`` predicts the name's last character. The corrupted
  prompt defines another name of the same length, so the answer has no cue.
- `task_from_prompts`: the user's own pairs and single-token answers.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.core.batch import TokenBatch, pad_token_lists
from mechscope.core.errors import PromptError
from mechscope.core.metrics import Metric, at_columns, at_positions, column_difference
from mechscope.data.repeated import random_token_rows
from mechscope.interventions.activation import tokenize_pairs
from mechscope.interventions.choices import IoiCorruption, TaskMetric
from mechscope.interventions.runs import PairedRuns, check_same_lengths
from mechscope.models.adapter import adapt
from mechscope.models.base import Model
from mechscope.models.tokens import target_ids
from mechscope.models.vocab import ordinary_ids

NAMES = ("total", "count", "value", "index", "items", "width", "level", "score", "speed", "delta")


@dataclass(frozen=True)
class TaskPairs:
    """Clean and corrupted batches, the answer and wrong answer ids, and where to read them."""

    clean: TokenBatch
    corrupted: TokenBatch
    answers: Int[Tensor, " batch"]
    wrong: Int[Tensor, " batch"]
    positions: Int[Tensor, " batch"]
    """Position whose logits predict the answer (the last real token of each prompt)."""
    name: str = "task"

    def metric(self, which: TaskMetric | str = TaskMetric.LOGIT_DIFF) -> Metric:
        """The `Metric` of this task's answers (see `TaskMetric`)."""
        which = TaskMetric(which)
        answers, wrong = self.answers, self.wrong
        if which is TaskMetric.LOGIT_DIFF:  # two logits a prompt: only those are computed
            columns = torch.stack([answers, wrong], dim=1)
            return at_columns(which.value, column_difference, self.positions, columns)

        def read(at: Float[Tensor, "batch d_vocab"]) -> Tensor:  # the whole row's softmax
            rows = torch.arange(at.shape[0], device=at.device)
            log_probs = at.log_softmax(-1)[rows, answers.to(at.device)]
            return -log_probs.mean() if which is TaskMetric.LOSS else log_probs.exp().mean()

        return at_positions(
            which.value, read, self.positions, higher_is_better=which is not TaskMetric.LOSS
        )

    def logit_diff(self) -> Metric:
        """Mean logit(answer) - logit(wrong)."""
        return self.metric(TaskMetric.LOGIT_DIFF)

    def loss(self) -> Metric:
        """Mean cross-entropy of the answer."""
        return self.metric(TaskMetric.LOSS)

    def probability(self) -> Metric:
        """Mean probability of the answer."""
        return self.metric(TaskMetric.PROBABILITY)

    def runs(
        self,
        model: Model,
        metric: Metric | TaskMetric | str = TaskMetric.LOGIT_DIFF,
        names: Iterable[str] = (),
    ) -> PairedRuns:
        """The clean and corrupted runs of this task, run once, caching ``names``.

        Raises:
            MechscopeError: a task metric (it reads the answer's logits) on a model without
                an unembedding.
        """
        if not isinstance(metric, Metric):
            what = getattr(metric, "value", metric)
            adapt(model).require_unembedding(f"the {self.name} task's {what} metric")
        chosen = metric if isinstance(metric, Metric) else self.metric(metric)
        return PairedRuns.run(model, self.clean, self.corrupted, chosen, names)


def repeated_pairs(model: Model, n_prompts: int = 16, half: int = 10, seed: int = 0) -> TaskPairs:
    """Induction pairs of random ordinary tokens (see the module docstring)."""
    generator = torch.Generator().manual_seed(seed)
    picks = random_token_rows((2, n_prompts, half), ordinary_ids(model), generator)
    first, other = picks[0], picks[1]
    start = adapt(model).start_id
    prefix = [start] if start is not None else []
    clean = [prefix + a + a[:-1] for a in first.tolist()]
    corrupted = [prefix + b + a[:-1] for a, b in zip(first.tolist(), other.tolist(), strict=True)]
    clean_batch = pad_token_lists(clean, 0).to(model.cfg.device or "cpu")
    corrupted_batch = pad_token_lists(corrupted, 0).to(model.cfg.device or "cpu")
    positions = clean_batch.lengths - 1
    return TaskPairs(
        clean_batch, corrupted_batch, first[:, -1], other[:, -1], positions, "induction"
    )


def copy_name_pairs(model: Model, names: Sequence[str] = NAMES) -> TaskPairs:
    """The templated name-copying task: every ordered pair of different names."""
    clean, corrupted, answers, wrong = [], [], [], []
    for a in names:
        for b in names:
            if a != b and len(a) == len(b) and a[-1] != b[-1]:
                clean.append(f"{a} = 1\nprint({a[:-1]}")
                corrupted.append(f"{b} = 1\nprint({a[:-1]}")
                answers.append(a[-1])
                wrong.append(b[-1])
    if not clean:
        raise PromptError(
            "no usable name pairs: give names of equal length with different last letters."
        )
    return task_from_prompts(model, clean, corrupted, answers, wrong, name="copy-name")


IOI_NAMES = (
    "Mary", "John", "Tom", "James", "Anna", "Sarah", "David", "Emma", "Michael", "Lisa", "Paul",
    "Kate", "Mark", "Alice", "Bob", "Jack", "Peter", "Susan", "Robert", "Linda", "George",
    "Laura", "Daniel", "Helen",
)  # fmt: skip
IOI_TEMPLATES = (
    "When {IO} and {S} went to the store, {S} gave a drink to",
    "When {IO} and {S} went to the park, {S} handed a book to",
    "After {IO} and {S} arrived at the party, {S} gave a gift to",
    "Then, {IO} and {S} had a long argument, and afterwards {S} said to",
    "While {IO} and {S} were working at the office, {S} sent an email to",
    "When {S} and {IO} got a snack at the cafe, {S} decided to give it to",
)
"""Wang et al. 2022's IOI templates (both name orders, ABBA and BABA)."""


def ioi_pairs(
    model: Model,
    n_prompts: int = 24,
    corruption: IoiCorruption | str = IoiCorruption.ABC,
    *,
    template: int | None = None,
    seed: int = 0,
) -> TaskPairs:
    """Indirect-object identification prompts (Wang et al. 2022) and a corruption.

    "When Mary and John went to the store, John gave a drink to" -> " Mary": the answer is
    the indirect object (IO), the wrong answer the subject (S); both are the names of the
    clean prompt in either corruption, so the logit difference is IO - S throughout. Names
    that are not one token for the model (with their leading space) are dropped. ``template``
    picks one of `IOI_TEMPLATES` (positions then line up across prompts); default: all, in
    turn.

    Raises:
        PromptError: fewer than three single-token names.
    """
    corruption = IoiCorruption(corruption)
    template_index = template
    names = [n for n in IOI_NAMES if len(_pieces(model, f" {n}")) == 1]
    if len(names) < 3:
        raise PromptError("fewer than three IOI names are single tokens for this model.")
    generator = torch.Generator().manual_seed(seed)
    clean, corrupted, answers, wrong = [], [], [], []
    for i in range(n_prompts):
        index = i % len(IOI_TEMPLATES) if template_index is None else template_index
        text = IOI_TEMPLATES[index]
        a, b, c, d = (names[j] for j in torch.randperm(len(names), generator=generator)[:4])
        clean.append(text.format(IO=a, S=b))
        if corruption is IoiCorruption.ABC:
            corrupted.append(text.format(IO=c, S=d))
        else:  # the subject repeated in the second clause is now the other name
            corrupted.append(_swap_second_subject(text, a, b))
        answers.append(f" {a}")
        wrong.append(f" {b}")
    return task_from_prompts(
        model, clean, corrupted, answers, wrong, name=f"ioi-{corruption.value}"
    )


def _swap_second_subject(template: str, io: str, s: str) -> str:
    """The template with its last {S} (the second-clause subject) filled by the IO name."""
    head, _, tail = template.rpartition("{S}")
    return head.format(IO=io, S=s) + io + tail.format(IO=io, S=s)


def _pieces(model: Model, text: str) -> list[int]:
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise PromptError("IOI prompts need the model's tokenizer.")
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def task_from_prompts(
    model: Model,
    clean: Sequence[str],
    corrupted: Sequence[str],
    answers: Sequence[str],
    wrong: Sequence[str],
    name: str = "task",
) -> TaskPairs:
    """Pairs from text, checked: equal token lengths per pair, single-token answers.

    A single answer (or wrong answer) is used for every prompt.

    Raises:
        PromptError: mismatched counts or lengths, or answers that are not one token.
    """
    clean_batch, corrupted_batch = tokenize_pairs(model, clean, corrupted)
    n = clean_batch.tokens.shape[0]
    answers = list(answers) * n if len(answers) == 1 else list(answers)
    wrong = list(wrong) * n if len(wrong) == 1 else list(wrong)
    if len(answers) != n or len(wrong) != n:
        raise PromptError(f"{n} prompt pairs need {n} answers and wrong answers (or one of each).")
    check_same_lengths(model, clean_batch, corrupted_batch)
    return TaskPairs(
        clean_batch,
        corrupted_batch,
        torch.tensor(target_ids(model, answers, "answer")),
        torch.tensor(target_ids(model, wrong, "wrong answer")),
        clean_batch.lengths - 1,
        name,
    )
