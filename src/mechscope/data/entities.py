"""Entity mentions and coreference from CoNLL-U's MISC column (the CorefUD ``Entity=`` format).

UD English GUM marks mentions in column 10: ``Entity=(ID-TYPE-...`` opens a mention of entity
ID with its type (person, place, organization, object, event, time, substance, animal, plant,
abstract, quantity) on the word it starts at, ``ID)`` closes it on the word it ends at, and a
mention of one word is ``(ID-TYPE-...)``. Mentions nest; mentions that share an ID within one
document corefer.

Each word gets the type of the innermost mention it is part of, and that mention's status in
its document (`MentionStatus`): the first mention of an entity mentioned again, a later
mention of an entity already mentioned (an anaphor: pronouns, repeated names), or the only
mention of its entity. Words outside every mention get None for both; a document with no
``Entity=`` annotation at all (UD EWT) gets no entity columns (empty tuples).
"""

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar, runtime_checkable

_CLOSING = re.compile(r"(\w+)\)")
"""A closing bracket ``ID)``."""


def brackets(value: str) -> list[tuple[str, str | None, bool]]:
    """The brackets of one word's ``Entity=`` value, in order.

    Each is (entity id, type, closed at once) for an opening ``(ID-TYPE-...`` (closed at once
    when its fields end in ``)``), or (entity id, None, True) for a closing ``ID)``. The fields
    never hold brackets (CorefUD escapes them), and mentions nest, so within the text from one
    ``(`` to the next the first ``)`` ends the opening and what follows are closings; text
    before the first ``(`` is closings only.
    """
    out: list[tuple[str, str | None, bool]] = []
    for piece in re.split(r"(?=\()", value):
        rest = piece
        if piece.startswith("("):
            fields, closed, rest = piece[1:].partition(")")
            entity, _, more = fields.partition("-")
            out.append((entity, more.split("-", 1)[0], bool(closed)))
        out += [(entity, None, True) for entity in _CLOSING.findall(rest)]
    return out


class Span(NamedTuple):
    """One mention: its words ``[start, end)`` in a sentence of its document, and its entity."""

    sentence: int
    """The sentence's index within the document."""
    start: int
    end: int
    entity: str
    """The entity id (mentions that share it in one document corefer)."""
    type: str
    ordinal: int
    """0 for the entity's first mention in the document, 1 for the next..."""


class MentionStatus(Enum):
    """Where a mention stands in its entity's chain within the document."""

    FIRST = "first mention"
    LATER = "later mention"
    SINGLETON = "singleton"


@runtime_checkable
class _Annotated(Protocol):
    """A dataclass with entity columns (`mechscope.data.conllu.Sentence`)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def entities(self) -> tuple[str | None, ...]: ...  # noqa: D102

    @property
    def heads(self) -> tuple[int, ...]: ...  # noqa: D102


S = TypeVar("S", bound=_Annotated)


class DocumentMentions:
    """Mentions of one document, read sentence by sentence (`read`), then their statuses."""

    def __init__(self) -> None:
        self._open: list[tuple[str, str, int]] = []  # entity id, type, its mention ordinal
        self._starts: list[tuple[int, int]] = []  # (sentence, word) of each open mention
        self._mentions: Counter[str] = Counter()
        self._innermost: list[tuple[tuple[str, int] | None, ...]] = []  # per sentence, word
        self.spans: list[Span] = []
        """Every well-formed mention read, in the order it closed."""
        self.skipped: Counter[str] = Counter()
        """Malformed mentions left out, by reason."""
        self.annotated = False

    def read(self, miscs: Iterable[str]) -> tuple[str | None, ...]:
        """Each word's entity type for one sentence, given its words' MISC columns."""
        types: list[str | None] = []
        innermost: list[tuple[str, int] | None] = []
        sentence = len(self._innermost)
        for word, misc in enumerate(miscs):
            value = next((item[7:] for item in misc.split("|") if item.startswith("Entity=")), "")
            self.annotated |= bool(value)
            closing: list[str] = []
            here: tuple[str, str, int] | None = None
            for entity, kind, closed in brackets(value):
                if kind is not None:
                    mention = (entity, kind, self._mentions[entity])
                    self._mentions[entity] += 1
                    here = mention
                    if not closed:
                        self._open.append(mention)
                        self._starts.append((sentence, word))
                    else:
                        self.spans.append(Span(sentence, word, word + 1, *mention))
                else:
                    closing.append(entity)
            if here is None and self._open:
                here = self._open[-1]
            types.append(here[1] if here else None)
            innermost.append((here[0], here[2]) if here else None)
            for entity in closing:  # close the innermost open mention of that entity
                for i in range(len(self._open) - 1, -1, -1):
                    if self._open[i][0] == entity:
                        (start_sentence, start), mention = self._starts.pop(i), self._open.pop(i)
                        if start_sentence == sentence:
                            self.spans.append(Span(sentence, start, word + 1, *mention))
                        else:
                            self.skipped["a mention across sentences"] += 1
                        break
                else:
                    self.skipped["a mention closed that was never opened"] += 1
        self._innermost.append(tuple(innermost))
        return tuple(types)

    def finish(self) -> None:
        """Count the mentions still open at the document's end (malformed), and drop them."""
        self.skipped["a mention never closed"] += len(self._open)
        self.skipped = +self.skipped  # drop zero counts
        self._open, self._starts = [], []

    def status(self, entity: str, ordinal: int) -> MentionStatus:
        """The status of an entity's ``ordinal``-th mention (0 = first) in this document."""
        if ordinal > 0:
            return MentionStatus.LATER
        return MentionStatus.FIRST if self._mentions[entity] > 1 else MentionStatus.SINGLETON

    def with_coreference(self, sentences: Sequence[S]) -> list[S]:
        """``sentences`` (this document's, in the order read) with their mention statuses.

        Without any ``Entity=`` annotation in the document, their entity columns are empty.
        """
        if not self.annotated:
            return [dataclasses.replace(s, entities=()) for s in sentences]
        heads: list[dict[int, Span]] = [{} for _ in sentences]
        for span in sorted(self.spans, key=lambda s: s.start - s.end):  # longest first
            tree = sentences[span.sentence].heads
            inside = range(span.start, span.end)
            head = next((w for w in inside if tree[w] not in inside), span.start)
            heads[span.sentence][head] = span  # a shorter mention overwrites a longer one
        out = []
        for sentence, keys, headed in zip(sentences, self._innermost, heads, strict=True):
            n = len(keys)
            spans = [headed.get(w) for w in range(n)]
            out.append(dataclasses.replace(
                sentence,
                coreference=tuple(None if key is None else self.status(*key).value for key in keys),
                head_entities=tuple(None if s is None else s.type for s in spans),
                head_chains=tuple(None if s is None else
                                  "singleton" if self._mentions[s.entity] == 1 else "chain"
                                  for s in spans),
            ))  # fmt: skip
        return out
