"""Tokens with the annotations features are labelled by: what we know about each token.

A `LabelledTokens` holds rows of token ids (each a whole model input, BOS or [CLS] included)
and, per `LabelFamily`, a label for every token (None: this row says nothing about that
family, or the token is special). Builders turn each annotated source into rows:

- `treebank_tokens`: CoNLL-U sentences (UD EWT, UD GUM) aligned word by word to the model's
  tokens (`mechscope.models.align_words`); every token of a word gets the word's token text,
  UPOS, dependency relation, entity type and mention status (GUM: `mechscope.data.entities`;
  ``none`` outside every mention), its sentence's genre, and its position bucket;
- `sentiment_tokens`: SST-2 reviews; every token gets its review's sentiment, its text and
  position;
- `induction_tokens`: repeated random tokens; ``first copy`` / ``second copy``, the tokens an
  induction feature fires on (the second, predictable copy).

`standard_annotations` gathers every source found in the datasets' directory. Rows from
different sources are joined with ``+``; a family is scored only on the tokens that
carry it. Sentence-level families (sentiment, genre) are shuffled by row in the control.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import torch

from mechscope.core.errors import MechscopeError
from mechscope.data.conllu import Sentence, read_conllu, sample_sentences
from mechscope.data.repeated import repeated_random_tokens
from mechscope.data.sst2 import Review, read_sst2, split_reviews
from mechscope.models.adapter import adapt
from mechscope.models.base import Model
from mechscope.models.tokens import str_tokens
from mechscope.models.words import align_words


class LabelFamily(Enum):
    """A kind of annotation a feature may align with."""

    TOKEN = "token"
    UPOS = "upos"
    DEPREL = "deprel"
    ENTITY = "entity"
    COREFERENCE = "coreference"
    SENTIMENT = "sentiment"
    GENRE = "genre"
    POSITION = "position"
    INDUCTION = "induction"

    @property
    def per_row(self) -> bool:
        """Whether the label belongs to the whole row (shuffled by row in the control)."""
        return self in {LabelFamily.SENTIMENT, LabelFamily.GENRE}


class Abstraction(Enum):
    """How abstract the property a feature is best explained by (the hierarchy's levels)."""

    LEXICAL = "token identity"
    PART_OF_SPEECH = "part of speech"
    SYNTAX = "syntax"
    ENTITY = "entity/coreference"
    SEMANTIC = "sentiment/genre"
    POSITIONAL = "position/induction"
    UNEXPLAINED = "unexplained"


ABSTRACTION = {
    LabelFamily.TOKEN: Abstraction.LEXICAL,
    LabelFamily.UPOS: Abstraction.PART_OF_SPEECH,
    LabelFamily.DEPREL: Abstraction.SYNTAX,
    LabelFamily.ENTITY: Abstraction.ENTITY,
    LabelFamily.COREFERENCE: Abstraction.ENTITY,
    LabelFamily.SENTIMENT: Abstraction.SEMANTIC,
    LabelFamily.GENRE: Abstraction.SEMANTIC,
    LabelFamily.POSITION: Abstraction.POSITIONAL,
    LabelFamily.INDUCTION: Abstraction.POSITIONAL,
}
"""The level of the hierarchy each family's labels stand for."""


def position_bucket(position: int) -> str:
    """The position label: ``1``, ``2``, ``3-4``, ``5-8``, ... (doubling), ``0`` for the first."""
    if position <= 2:
        return str(position)
    top = 2 ** math.ceil(math.log2(position))
    return f"{top // 2 + 1}-{top}"


Labels = tuple[str | None, ...]

OUTSIDE = "none"
"""The entity and coreference label of a word outside every mention: a negative, never a
feature's label (a feature on such words is not an entity feature)."""


@dataclass(frozen=True)
class LabelledTokens:
    """Rows of token ids and, per family, a label for each token (module doc)."""

    rows: tuple[tuple[int, ...], ...]
    labels: dict[LabelFamily, tuple[Labels, ...]]
    """Family -> one tuple of labels per row, as long as the row."""

    def __post_init__(self) -> None:
        for family, per_row in self.labels.items():
            if len(per_row) != len(self.rows) or any(
                len(labels) != len(row) for labels, row in zip(per_row, self.rows, strict=True)
            ):
                raise ValueError(f"{family.value} labels do not match the rows' lengths")

    def __add__(self, other: "LabelledTokens") -> "LabelledTokens":
        families = list(dict.fromkeys([*self.labels, *other.labels]))
        return LabelledTokens(
            self.rows + other.rows,
            {f: self.column(f) + other.column(f) for f in families},
        )

    def column(self, family: LabelFamily) -> tuple[Labels, ...]:
        """``family``'s labels of every row (all None where the rows carry none)."""
        return self.labels.get(family) or tuple((None,) * len(row) for row in self.rows)

    @property
    def families(self) -> tuple[LabelFamily, ...]:
        """The families some token carries, in `LabelFamily` order."""
        return tuple(
            f for f in LabelFamily
            if any(any(x is not None for x in row) for row in self.labels.get(f, ()))
        )  # fmt: skip

    def subset(self, rows: Sequence[int]) -> "LabelledTokens":
        """The given rows only."""
        return LabelledTokens(
            tuple(self.rows[i] for i in rows),
            {f: tuple(labels[i] for i in rows) for f, labels in self.labels.items()},
        )


def _positions(tokens: Sequence[int], special: set[int]) -> Labels:
    return tuple(None if t in special else position_bucket(i) for i, t in enumerate(tokens))


def _special(model: Model) -> set[int]:
    tokenizer = model.tokenizer
    ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    start = adapt(model).start_id
    return ids if start is None else ids | {start}


def _texts(model: Model, tokens: Sequence[int], special: set[int]) -> Labels:
    texts = str_tokens(model, list(tokens))
    return tuple(None if t in special else text for t, text in zip(tokens, texts, strict=True))


def treebank_tokens(model: Model, sentences: Sequence[Sentence]) -> LabelledTokens:
    """Token rows of ``sentences`` with every word-level annotation they carry (module doc).

    Sentences whose words do not align with the model's tokens (too long, a word without a
    token) are left out.
    """
    special = _special(model)
    rows: list[tuple[int, ...]] = []
    columns: dict[LabelFamily, list[Labels]] = {f: [] for f in LabelFamily}
    for sentence in sentences:
        aligned = align_words(model, sentence.words)
        if isinstance(aligned, str):
            continue
        tokens, word_of = aligned.tokens, aligned.word_of_token
        rows.append(tokens)

        def per_word(values: Sequence[str | None], word_of: tuple[int, ...] = word_of) -> Labels:
            return tuple(None if w < 0 else values[w] for w in word_of)

        columns[LabelFamily.TOKEN].append(_texts(model, tokens, special))
        columns[LabelFamily.POSITION].append(_positions(tokens, special))
        columns[LabelFamily.UPOS].append(per_word(sentence.upos or [None] * len(word_of)))
        columns[LabelFamily.DEPREL].append(per_word(sentence.relations))
        annotated = bool(sentence.entities)
        entities = [e or OUTSIDE for e in sentence.entities] if annotated else None
        mentions = [c or OUTSIDE for c in sentence.coreference] if annotated else None
        columns[LabelFamily.ENTITY].append(per_word(entities or [None] * len(sentence.words)))
        columns[LabelFamily.COREFERENCE].append(per_word(mentions or [None] * len(sentence.words)))
        genre = sentence.genre or None
        columns[LabelFamily.GENRE].append(tuple(None if w < 0 else genre for w in word_of))
    return LabelledTokens(
        tuple(rows),
        {f: tuple(c) for f, c in columns.items()
         if f in (LabelFamily.TOKEN, LabelFamily.POSITION, LabelFamily.UPOS, LabelFamily.DEPREL,
                  LabelFamily.ENTITY, LabelFamily.COREFERENCE, LabelFamily.GENRE)},
    )  # fmt: skip


def sentiment_tokens(model: Model, reviews: Sequence[Review]) -> LabelledTokens:
    """Token rows of SST-2 ``reviews``: each token's review sentiment, text and position.

    Reviews longer than the model's context are left out.
    """
    special = _special(model)
    rows: list[tuple[int, ...]] = []
    columns: dict[LabelFamily, list[Labels]] = {
        LabelFamily.SENTIMENT: [], LabelFamily.TOKEN: [], LabelFamily.POSITION: []
    }  # fmt: skip
    for review in reviews:
        aligned = align_words(model, review.text.split())
        if isinstance(aligned, str):
            continue
        tokens = aligned.tokens
        rows.append(tokens)
        columns[LabelFamily.SENTIMENT].append(
            tuple(None if t in special else review.sentiment for t in tokens)
        )
        columns[LabelFamily.TOKEN].append(_texts(model, tokens, special))
        columns[LabelFamily.POSITION].append(_positions(tokens, special))
    return LabelledTokens(tuple(rows), {f: tuple(c) for f, c in columns.items()})


def induction_tokens(
    model: Model, n_rows: int = 64, half_length: int = 24, *, seed: int = 0
) -> LabelledTokens:
    """Rows of repeated random tokens, labelled ``first copy`` and ``second copy``.

    Tokens are drawn from the model's non-special ids; the start token is the model's BOS
    (or [CLS]) where it has one.
    """
    special = _special(model)
    vocab = torch.tensor([i for i in range(model.cfg.d_vocab) if i not in special])
    start = adapt(model).start_id
    rows = repeated_random_tokens(n_rows, half_length, vocab, start, seed=seed)
    offset = 0 if start is None else 1
    labels = (None,) * offset + ("first copy",) * half_length + ("second copy",) * half_length
    return LabelledTokens(
        tuple(tuple(r) for r in rows.tolist()),
        {LabelFamily.INDUCTION: tuple(labels for _ in range(n_rows))},
    )


def standard_annotations(
    model: Model,
    data: Path,
    *,
    sentences: int = 600,
    reviews: int = 600,
    induction_rows: int = 48,
    seed: int = 0,
) -> tuple[LabelledTokens, list[str]]:
    """Every annotated source found under ``data``, as labelled rows; and the ones missing.

    ``sentences`` drawn (seeded) from each dev treebank (``ud_english_ewt``, ``ud_english_gum``),
    ``reviews`` SST-2 sentences (``sst2``; `mechscope.data.split_reviews`'s draw) and
    ``induction_rows`` rows of repeated random tokens (always there).
    """
    parts = []
    missing = []
    for name, file in (("ud_english_ewt", "en_ewt-ud-dev.conllu"),
                       ("ud_english_gum", "en_gum-ud-dev.conllu")):  # fmt: skip
        path = data / name / file
        if path.is_file():
            parts.append(
                treebank_tokens(model, sample_sentences(read_conllu(path), sentences, seed))
            )
        else:
            missing.append(str(path))
    sst2 = data / "sst2" / "train.tsv"
    if sst2.is_file():
        parts.append(sentiment_tokens(model, split_reviews(read_sst2(sst2), reviews, seed)[0]))
    else:
        missing.append(str(sst2))
    if induction_rows:
        parts.append(induction_tokens(model, induction_rows, 24, seed=seed))
    if not parts:
        raise MechscopeError(
            f"no annotated text to label features on: none of {', '.join(missing)} exists "
            "and no induction rows were asked for; point --data at the datasets' directory."
        )
    labelled = parts[0]
    for part in parts[1:]:
        labelled = labelled + part
    return labelled, missing
