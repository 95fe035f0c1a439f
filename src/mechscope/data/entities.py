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
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

_BRACKET = re.compile(r"\((\d+)-([^-()]*)[^()]*?(\))?(?=\(|\d+\)|$)|(\d+)\)")
"""An opening ``(ID-TYPE-...`` (closed at once when followed by ``)``) or a closing ``ID)``."""


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


S = TypeVar("S", bound=_Annotated)


class DocumentMentions:
    """Mentions of one document, read sentence by sentence (`read`), then their statuses."""

    def __init__(self) -> None:
        self._open: list[tuple[str, str, int]] = []  # entity id, type, its mention ordinal
        self._mentions: Counter[str] = Counter()
        self._innermost: list[tuple[tuple[str, int] | None, ...]] = []  # per sentence, word
        self.annotated = False

    def read(self, miscs: Iterable[str]) -> tuple[str | None, ...]:
        """Each word's entity type for one sentence, given its words' MISC columns."""
        types: list[str | None] = []
        innermost: list[tuple[str, int] | None] = []
        for misc in miscs:
            value = next((item[7:] for item in misc.split("|") if item.startswith("Entity=")), "")
            self.annotated |= bool(value)
            closing: list[str] = []
            here: tuple[str, str, int] | None = None
            for match in _BRACKET.finditer(value):
                if match.group(1) is not None:
                    entity = match.group(1)
                    mention = (entity, match.group(2), self._mentions[entity])
                    self._mentions[entity] += 1
                    here = mention
                    if match.group(3) is None:
                        self._open.append(mention)
                else:
                    closing.append(match.group(4))
            if here is None and self._open:
                here = self._open[-1]
            types.append(here[1] if here else None)
            innermost.append((here[0], here[2]) if here else None)
            for entity in closing:  # close the innermost open mention of that entity
                for i in range(len(self._open) - 1, -1, -1):
                    if self._open[i][0] == entity:
                        del self._open[i]
                        break
        self._innermost.append(tuple(innermost))
        return tuple(types)

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
        return [
            dataclasses.replace(
                sentence,
                coreference=tuple(None if key is None else self.status(*key).value for key in keys),
            )
            for sentence, keys in zip(sentences, self._innermost, strict=True)
        ]
