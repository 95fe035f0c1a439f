"""SST-2 (binary sentiment, GLUE's form): phrases and sentences of movie reviews, labelled.

``train.tsv`` has a header (``sentence``, ``label``) and one phrase or sentence per row, lower
cased and tokenised with spaces; label 1 is positive, 0 negative. There is no dev file: callers
hold out a seeded part and say which.
"""

import random
from dataclasses import dataclass
from pathlib import Path

from mechscope.core.errors import MechscopeError


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
