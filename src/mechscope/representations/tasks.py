"""Probing tasks read from a treebank, their encoding, and the control task.

Word-level tasks (units are words; `Pooling` ``word-*``), from each word's gold annotation:

- ``upos``: the universal part of speech;
- ``deprel``: the dependency relation to its head (UD label with subtype, ``nmod:poss``);
- ``depth``: edges from the word up to the root (root = 0), ``8+`` from 8 on;
- ``distance``: words between the word and its head, ``|head - word|``, ``8+`` from 8 on;
  the root has no head and no label (left out).

- ``entity``: over mention head words only (`Sentence.head_entities`, UD English GUM's
  ``Entity=`` annotation): the entity type of the mention the word heads (person, place,
  abstract, event... 10 types);
- ``chain``: over the same head words: ``chain`` when the mention's entity is mentioned again
  in its document (it is part of a coreference chain), ``singleton`` when it is not. An
  encoder sees the whole sentence, a decoder only the words before; neither sees the other
  sentences of the document, so the probe reads what the word and its sentence predict.

Sentence-level:
- ``genre``: the document genre UD EWT puts first in each ``sent_id`` (answers, email,
  newsgroup, reviews, weblog), GUM second (15 genres);
- ``sentiment``: the sentence's own label (`Sentence.label`: a ``sentence<TAB>label`` TSV
  such as SST-2's, `mechscope.data.read_sentence_tsv`).

Labels are strings (None: no label), so users pass any labels of their own. `encode` maps
train and eval labels to class indices taken from the train split; an eval label never seen
in training cannot be predicted and is left out and counted (``n_unseen``).

The control task (Hewitt & Liang 2019, "Designing and Interpreting Probes with Control
Tasks"): every word type gets one fixed random label drawn from the train split's label
distribution; a probe that reaches high control accuracy memorises word identity, and
selectivity = task accuracy - control accuracy. With sentence units each sentence is its own
type, so the control is shuffled labels instead (`shuffled_labels`): the probe is fitted on
the train labels permuted among the train sentences and scored on the true eval labels; it
sits near chance (or the majority class) unless the probe finds structure in noise.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from mechscope.core.errors import MechscopeError
from mechscope.data.conllu import Sentence
from mechscope.representations.choices import ProbeTask

CAP = 8
"""Depth and distance classes stop at ``8+``."""


def depths(sentence: Sentence) -> list[int]:
    """Each word's depth in the dependency tree (root = 0)."""
    out = []
    for word in range(len(sentence.words)):
        depth, node = 0, word
        while sentence.heads[node] >= 0:
            node = sentence.heads[node]
            depth += 1
        out.append(depth)
    return out


def _capped(value: int) -> str:
    return f"{CAP}+" if value >= CAP else str(value)


def sentence_labels(task: ProbeTask, sentence: Sentence) -> list[str | None]:
    """The labels of one sentence's words (or its one sentence label for ``genre``).

    Raises:
        MechscopeError: ``structural``, which has distances and depths, not labels.
    """
    if task is ProbeTask.STRUCTURAL:
        raise MechscopeError(
            "the structural probe fits distances and depths, not labels: use "
            "mechscope.representations.structural_probe."
        )
    if task is ProbeTask.GENRE:
        return [sentence.genre or None]
    if task is ProbeTask.SENTIMENT:
        return [sentence.label or None]
    if task is ProbeTask.ENTITY:
        return list(sentence.head_entities) or [None] * len(sentence.words)
    if task is ProbeTask.CHAIN:
        return list(sentence.head_chains) or [None] * len(sentence.words)
    if task is ProbeTask.UPOS:
        return list(sentence.upos) or [None] * len(sentence.words)
    if task is ProbeTask.DEPREL:
        return list(sentence.relations)
    if task is ProbeTask.DEPTH:
        return [_capped(d) for d in depths(sentence)]
    return [None if h < 0 else _capped(abs(h - i)) for i, h in enumerate(sentence.heads)]


def task_labels(task: ProbeTask, sentences: Sequence[Sentence], n_units: int) -> list[str | None]:
    """Labels of every unit of activations collected from ``sentences``.

    Raises:
        MechscopeError: the units are not the sentences' words (or, for ``genre``, not the
            sentences), or the treebank lacks the annotation.
    """
    labels = [label for s in sentences for label in sentence_labels(task, s)]
    if len(labels) != n_units:
        unit = "sentences" if task.sentence_level else "words"
        raise MechscopeError(
            f"task {task.value} labels {unit}, but the activations hold {n_units} units for "
            f"{len(labels)} {unit}; collect with "
            f"{'a sentence pooling' if task.sentence_level else 'a word pooling'}."
        )
    if all(label is None for label in labels):
        raise MechscopeError(f"the treebank has no {task.value} annotation to probe.")
    return labels


@dataclass(frozen=True)
class Encoded:
    """Train and eval labels as class indices (-1: no label, or unseen in training)."""

    classes: tuple[str, ...]
    train: Int[Tensor, " train"]
    eval: Int[Tensor, " eval"]
    n_unseen: int
    """Eval units whose label never occurs in training (left out of scoring)."""


def encode(train: Sequence[str | None], eval: Sequence[str | None]) -> Encoded:
    """Class indices for train and eval labels; the classes are the train split's.

    Raises:
        MechscopeError: fewer than two classes in training, or no eval label left to score.
    """
    classes = tuple(sorted({label for label in train if label is not None}))
    if len(classes) < 2:
        raise MechscopeError(
            f"a probe needs at least two classes in training; got {len(classes)} "
            f"({', '.join(classes) or 'none'})."
        )
    index = {label: i for i, label in enumerate(classes)}
    unseen = sum(1 for label in eval if label is not None and label not in index)
    as_ids = lambda labels: torch.tensor(  # noqa: E731
        [index.get(label, -1) if label is not None else -1 for label in labels], dtype=torch.long
    )
    encoded = Encoded(classes, as_ids(train), as_ids(eval), unseen)
    if int((encoded.eval >= 0).sum()) == 0:
        raise MechscopeError("no eval unit has a label seen in training; nothing to score.")
    return encoded


def control_labels(
    train_types: Sequence[str],
    eval_types: Sequence[str],
    train_labels: Int[Tensor, " train"],
    *,
    seed: int = 0,
) -> tuple[Int[Tensor, " train"], Int[Tensor, " eval"]]:
    """Hewitt & Liang's control task: one random label per word type, from the train labels.

    Each type's label is drawn from the empirical distribution of the labelled train units;
    units without a task label (-1) keep -1 in the control too.
    """
    labelled = train_labels[train_labels >= 0]
    distribution = torch.bincount(labelled).double()
    generator = torch.Generator().manual_seed(seed)
    types = sorted(set(train_types) | set(eval_types))
    draws = torch.multinomial(distribution, len(types), replacement=True, generator=generator)
    label_of = dict(zip(types, draws.tolist(), strict=True))
    return (
        torch.tensor([label_of[t] for t in train_types]).masked_fill(train_labels < 0, -1),
        torch.tensor([label_of[t] for t in eval_types]),
    )


def shuffled_labels(
    train_labels: Int[Tensor, " train"], eval_labels: Int[Tensor, " eval"], *, seed: int = 0
) -> tuple[Int[Tensor, " train"], Int[Tensor, " eval"]]:
    """The shuffled-label control of sentence tasks (module docstring).

    Train labels are permuted (seeded) among the labelled train units; eval labels unchanged.
    """
    labelled = torch.nonzero(train_labels >= 0).flatten()
    generator = torch.Generator().manual_seed(seed)
    shuffled = train_labels.clone()
    shuffled[labelled] = train_labels[labelled[torch.randperm(len(labelled), generator=generator)]]
    return shuffled, eval_labels


def majority_accuracy(train: Int[Tensor, " train"], eval: Int[Tensor, " eval"]) -> float:
    """Accuracy on the scored eval units of always answering the train split's commonest class."""
    commonest = Counter(train[train >= 0].tolist()).most_common(1)[0][0]
    scored = eval[eval >= 0]
    return float((scored == commonest).double().mean())
