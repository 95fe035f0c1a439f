"""SST-2 (binary sentiment, GLUE's form): phrases and sentences of movie reviews, labelled.

``train.tsv`` has a header (``sentence``, ``label``) and one phrase or sentence per row, lower
cased and tokenised with spaces; label 1 is positive, 0 negative. There is no dev file: callers
hold out a seeded part and say which.
"""

import random
from dataclasses import dataclass
from pathlib import Path

from mechscope.core.errors import MechscopeError
from mechscope.data.conllu import Sentence


@dataclass(frozen=True)
class Review:
    """One SST-2 row: its text and whether it is positive."""

    text: str
    positive: bool

    @property
    def sentiment(self) -> str:
        """``positive`` or ``negative``."""
        return "positive" if self.positive else "negative"


def read_sst2(
    path: str | Path, n: int | None = None, *, sentences_only: bool = True, seed: int = 0
) -> list[Review]:
    """Rows of an SST-2 ``train.tsv``: ``n`` drawn at random (seeded), or all.

    ``sentences_only`` keeps the rows that are full sentences (ending in `` .``, ``!`` or
    ``?``) and leaves out the phrases cut from them.

    Raises:
        MechscopeError: the file is missing or not SST-2's two tab-separated columns.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise MechscopeError(f"cannot read SST-2 file {path}: {error}.") from error
    if not lines or lines[0].split("\t")[:2] != ["sentence", "label"]:
        raise MechscopeError(
            f"{path} is not SST-2's train.tsv: its first line should be 'sentence<TAB>label'."
        )
    reviews = []
    for number, line in enumerate(lines[1:], start=2):
        text, _, label = line.rpartition("\t")
        if label.strip() not in {"0", "1"}:
            raise MechscopeError(f"{path} line {number}: the label should be 0 or 1.")
        text = text.strip()
        if sentences_only and not text.endswith((" .", " !", " ?")):
            continue
        reviews.append(Review(text, label.strip() == "1"))
    if n is not None and n < len(reviews):
        chosen = random.Random(seed).sample(range(len(reviews)), n)
        reviews = [reviews[i] for i in sorted(chosen)]
    return reviews


def split_reviews(
    reviews: list[Review], n: int, seed: int = 0
) -> tuple[list[Review], list[Review]]:
    """``n`` reviews drawn at random (seeded; in file order) and the rest, in file order.

    The one draw both the feature labels (the ``n``) and the texts an SAE trains on (the rest)
    use, so the labelled reviews are never trained on.
    """
    order = list(range(len(reviews)))
    random.Random(seed).shuffle(order)
    chosen = set(order[:n])
    return ([r for i, r in enumerate(reviews) if i in chosen],
            [r for i, r in enumerate(reviews) if i not in chosen])  # fmt: skip


def read_sentence_tsv(path: str | Path, limit: int | None = None) -> list[Sentence]:
    """Labelled sentences from a TSV with a header and ``sentence<TAB>label`` rows (SST-2's).

    Words are the sentence split on white space (SST-2 is tokenised with spaces); each
    sentence's label is `Sentence.label` and it has no tree (every word a root, no relation).
    Blank lines are skipped. ``limit``: the first rows only.

    Raises:
        MechscopeError: the file is missing, has no ``sentence``/``label`` header, a row without
            a tab, an empty sentence or label, or no rows.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise MechscopeError(f"cannot read sentence file {path}: {error}.") from error
    if not lines or [c.strip() for c in lines[0].split("\t")[:2]] != ["sentence", "label"]:
        raise MechscopeError(
            f"{path} needs a header 'sentence<TAB>label' and one 'text<TAB>label' row per "
            "sentence (the SST-2 format)."
        )
    out = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        text, tab, label = line.rpartition("\t")
        words = tuple(text.split())
        if not tab or not words or not label.strip():
            raise MechscopeError(
                f"{path} line {number}: expected 'sentence<TAB>label' with both filled."
            )
        out.append(labelled_sentence(words, f"{path.stem}-{number}", label.strip()))
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise MechscopeError(f"{path} has a header but no sentences.")
    return out


def reviews_as_sentences(reviews: list[Review]) -> list[Sentence]:
    """SST-2 reviews as labelled sentences (label ``positive``/``negative``), for probes."""
    return [labelled_sentence(tuple(r.text.split()), f"sst2-{i}", r.sentiment)
            for i, r in enumerate(reviews)]  # fmt: skip


def labelled_sentence(words: tuple[str, ...], sent_id: str, label: str) -> Sentence:
    """A sentence without a tree (every word a root, no relation) and with a label."""
    n = len(words)
    return Sentence(words, (-1,) * n, ("_",) * n, sent_id=sent_id, label=label)


def polarity_lexicon(path: str | Path) -> dict[str, str]:
    """Sentiment-bearing words: SST-2's one-word rows, word (case-folded) -> its polarity.

    SST-2 labels every phrase of its parse trees, single words included; the one-word rows
    with a binary label are the words annotators found positive or negative on their own
    (neutral words were dropped from the binary set). A word labelled both ways is left out.

    Raises:
        MechscopeError: the file is not SST-2's (`read_sst2`), or has no one-word rows.
    """
    seen: dict[str, set[str]] = {}
    for review in read_sst2(path, sentences_only=False):
        if len(review.text.split()) == 1:
            seen.setdefault(review.text.casefold(), set()).add(review.sentiment)
    lexicon = {word: next(iter(labels)) for word, labels in seen.items() if len(labels) == 1}
    if not lexicon:
        raise MechscopeError(f"{path} has no one-word rows to build a polarity lexicon from.")
    return lexicon
